import { describe, expect, it } from 'vitest';
import { contributionsFrom, occlusionContributions, occlusionRows } from '../../src/line/contributions.ts';
import { failureProbability, featureRow, missingInput } from '../../src/line/machines.ts';
import { parseLineConfig } from '../../src/line/line-config.ts';

// a known model: p = 0.1 + 0.01 * torque_excess + 0.002 * wear (torque reference 40, wear reference 100)
const model = async (rows: ReadonlyArray<Record<string, unknown>>) => rows.map((r) => 0.1 + 0.01 * ((r.torque as number) - 40) + 0.002 * (r.wear as number));

describe('occlusion contributions', () => {
  it('replaces each numeric feature by its reference and ranks by the probability change', async () => {
    const row = { torque: 70, wear: 150, type: 'L' };
    const c = await occlusionContributions(model, row, { torque: 40, wear: 100, type: 'M' }, 5);
    expect(c.map((x) => x.feature)).toEqual(['torque', 'wear']);
    expect(c[0]!.contribution).toBeCloseTo(0.3);
    expect(c[1]!.contribution).toBeCloseTo(0.1);
    expect(c[0]!.value).toBe(70);
    expect(await occlusionContributions(model, row, { torque: 40, wear: 100 }, 1)).toHaveLength(1);
  });

  it('skips features already at their reference', () => {
    const { features, rows } = occlusionRows({ torque: 40, wear: 120 }, { torque: 40, wear: 100 });
    expect(features).toEqual(['wear']);
    expect(rows).toEqual([{ torque: 40, wear: 120 }, { torque: 40, wear: 100 }]);
    expect(contributionsFrom(['wear'], { wear: 120 }, [0.5, NaN], 3)).toEqual([]);
  });
});

describe('machine features', () => {
  const cfg = parseLineConfig({
    machine_defaults: {
      model: 'mf',
      features: { Type: { field: 'type' }, T: { value: 'torque_nm', window: { agg: 'mean', readings: 3 } }, W: { value: 'tool_wear_min' }, K: { constant: 1 } },
      rule: { type: 'threshold', above: 0.5 },
    },
    lines: [{ id: 'l', machines: [{ id: 'm1' }] }],
  }).lines[0]!.machines[0]!;

  it('builds the model row from values, windows, fields and constants', () => {
    expect(featureRow(cfg, { type: 'L', values: { torque_nm: 50, tool_wear_min: 7 } }, { T: 45 })).toEqual({ Type: 'L', T: 45, W: 7, K: 1 });
  });

  it('names what a reading lacks', () => {
    expect(missingInput(cfg, { values: { torque_nm: 1, tool_wear_min: 2 } })).toMatch(/type/);
    expect(missingInput(cfg, { type: 'L', values: { torque_nm: 1 } })).toMatch(/tool_wear_min/);
    expect(missingInput(cfg, { type: 'L', values: { torque_nm: 1, tool_wear_min: 2 } })).toBeUndefined();
  });

  it('reads the failure probability from a prediction', () => {
    const base = { model: 'x', version: 1, task: 'classification' as const, decision: 'PASS' as const, reason: '' };
    expect(failureProbability({ ...base, probabilities: { '0': 0.3, '1': 0.7 } }, '1')).toBe(0.7);
    expect(failureProbability({ ...base, probabilities: { ok: 0.9, failure: 0.1 } })).toBe(0.1);
    expect(failureProbability({ ...base, score: 0.42 })).toBe(0.42);
  });
});
