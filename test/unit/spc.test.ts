import { describe, expect, it } from 'vitest';
import { pChart, subgroupsFrom, westernElectric } from '../../src/line/spc.ts';

describe('p-chart', () => {
  it('centre line, and 3-sigma limits that vary with n', () => {
    const c = pChart([
      { start: 0, n: 100, defects: 10 },
      { start: 1, n: 25, defects: 5 },
      { start: 2, n: 0, defects: 0 },
      { start: 3, n: 75, defects: 5 },
    ]);
    expect(c.cl).toBeCloseTo(20 / 200);
    const s100 = Math.sqrt((0.1 * 0.9) / 100);
    expect(c.points[0]!.ucl).toBeCloseTo(0.1 + 3 * s100);
    expect(c.points[0]!.lcl).toBeCloseTo(Math.max(0, 0.1 - 3 * s100));
    const s25 = Math.sqrt((0.1 * 0.9) / 25);
    expect(c.points[1]!.ucl).toBeCloseTo(0.1 + 3 * s25);
    expect(c.points[1]!.lcl).toBe(0);
    expect(c.points[1]!.p).toBeCloseTo(0.2);
    expect(c.points[2]).toMatchObject({ p: null, ucl: null, lcl: null, z: null, violations: [] });
  });

  it('flags a point beyond 3 sigma (rule 1)', () => {
    const groups = Array.from({ length: 10 }, (_, i) => ({ start: i, n: 100, defects: 5 }));
    groups[7] = { start: 7, n: 100, defects: 40 };
    const c = pChart(groups);
    expect(c.points[7]!.violations).toContain(1);
    expect(c.points[3]!.violations).toEqual([]);
  });
});

describe('Western Electric rules on z-scores', () => {
  it('rule 2: two of three beyond 2 sigma on the same side', () => {
    const v = westernElectric([0, 2.5, 0.1, 2.2]);
    expect(v[3]).toContain(2);
    expect(westernElectric([0, 2.5, 0.1, -2.2])[3]).not.toContain(2);
  });

  it('rule 3: four of five beyond 1 sigma on the same side', () => {
    const v = westernElectric([1.5, 1.2, 0.3, 1.1, 1.4]);
    expect(v[4]).toContain(3);
    expect(westernElectric([1.5, 1.2, 0.3, 0.2, 1.4])[4]).not.toContain(3);
  });

  it('rule 4: eight in a row on one side; empty subgroups are skipped', () => {
    const z = [0.1, 0.2, 0.3, null, 0.1, 0.4, 0.2, 0.3, 0.5];
    const v = westernElectric(z);
    expect(v[8]).toContain(4);
    expect(v[7]).not.toContain(4);
    expect(westernElectric([0.1, 0.2, -0.3, 0.1, 0.4, 0.2, 0.3, 0.5, 0.1])[8]).not.toContain(4);
  });

  it('rule 1 on both sides', () => {
    expect(westernElectric([-3.5])[0]).toEqual([1]);
    expect(westernElectric([3.01])[0]).toEqual([1]);
  });
});

describe('subgroupsFrom', () => {
  it('buckets outcomes into intervals ending now', () => {
    const g = subgroupsFrom([{ ts: 0, defect: true }, { ts: 9_999, defect: false }, { ts: 15_000, defect: true }, { ts: 25_000, defect: true }], 20_000, 10, 2);
    expect(g).toEqual([{ start: 0, n: 2, defects: 1 }, { start: 10_000, n: 1, defects: 1 }]);
  });
});
