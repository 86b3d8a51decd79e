import { describe, expect, it } from 'vitest';
import { MachineWindows, RollingWindow } from '../../src/line/windows.ts';

describe('RollingWindow', () => {
  it('keeps the last N readings for mean, std, min, max', () => {
    const w = (agg: 'mean' | 'std' | 'min' | 'max' | 'last') => new RollingWindow({ agg, readings: 3 });
    const ws = { mean: w('mean'), std: w('std'), min: w('min'), max: w('max'), last: w('last') };
    [5, 1, 3, 8].forEach((v, i) => Object.values(ws).forEach((x) => x.push(i * 1000, v)));
    // window = [1, 3, 8]
    expect(ws.mean.value()).toBeCloseTo(4);
    expect(ws.std.value()).toBeCloseTo(Math.sqrt(((1 - 4) ** 2 + (3 - 4) ** 2 + (8 - 4) ** 2) / 2));
    expect(ws.min.value()).toBe(1);
    expect(ws.max.value()).toBe(8);
    expect(ws.last.value()).toBe(8);
    expect(ws.mean.size).toBe(3);
  });

  it('keeps the last T seconds', () => {
    const w = new RollingWindow({ agg: 'mean', seconds: 10 });
    w.push(0, 100);
    w.push(5_000, 2);
    w.push(12_000, 4);
    // the reading at t=0 is older than 10 s before t=12 s
    expect(w.value()).toBeCloseTo(3);
    expect(w.size).toBe(2);
  });

  it('gives the least-squares slope per second', () => {
    const w = new RollingWindow({ agg: 'slope', readings: 10 });
    for (let i = 0; i < 10; i++) w.push(i * 2000, 3 + 0.5 * i * 2);
    expect(w.value()).toBeCloseTo(0.5);
    const flat = new RollingWindow({ agg: 'slope', readings: 5 });
    flat.push(0, 1);
    expect(flat.value()).toBe(0);
  });

  it('is NaN when empty and 0 std for one value', () => {
    expect(Number.isNaN(new RollingWindow({ agg: 'mean', readings: 2 }).value())).toBe(true);
    const s = new RollingWindow({ agg: 'std', readings: 2 });
    s.push(0, 7);
    expect(s.value()).toBe(0);
  });

  it('uses memory bounded by the window, not by the stream length', () => {
    const w = new RollingWindow({ agg: 'mean', readings: 50 });
    for (let i = 0; i < 200_000; i++) w.push(i, i % 7);
    expect(w.size).toBe(50);
    const internal = w as unknown as { vs: number[] };
    expect(internal.vs.length).toBeLessThan(3_000);
  });
});

describe('MachineWindows', () => {
  it('computes every windowed feature from one reading', () => {
    const m = new MachineWindows([
      { feature: 'torque_mean', value: 'torque_nm', window: { agg: 'mean', readings: 2 } },
      { feature: 'wear_max', value: 'tool_wear_min', window: { agg: 'max', readings: 5 } },
    ]);
    m.push(0, { torque_nm: 10, tool_wear_min: 3 });
    const f = m.push(1000, { torque_nm: 20, tool_wear_min: 1 });
    expect(f).toEqual({ torque_mean: 15, wear_max: 3 });
  });
});
