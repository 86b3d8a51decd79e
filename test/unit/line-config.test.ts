import { describe, expect, it } from 'vitest';
import { loadLineConfig, parseLineConfig } from '../../src/line/line-config.ts';

const base = {
  machine_defaults: {
    model: 'machine-failure',
    features: { 'Torque [Nm]': { value: 'torque_nm', window: { agg: 'mean', readings: 5 } }, Type: { field: 'type' } },
    rule: { type: 'hysteresis', above: 0.5, clear_below: 0.3 },
  },
  lines: [{ id: 'line1', stations: [{ id: 'cam1', model: 'steel-surface' }], machines: [{ id: 'm1' }, { id: 'm2', rule: { type: 'threshold', above: 0.9 } }] }],
};

describe('line.yaml schema', () => {
  it('applies defaults and machine_defaults, and freezes the result', () => {
    const c = parseLineConfig(base);
    expect(c.sensor_batch).toEqual({ max_size: 256, max_delay_ms: 5 });
    const [m1, m2] = c.lines[0]!.machines;
    expect(m1!.model).toBe('machine-failure');
    expect(m1!.rule).toEqual({ type: 'hysteresis', above: 0.5, clear_below: 0.3, k: 1 });
    expect(m2!.rule).toEqual({ type: 'threshold', above: 0.9, k: 1 });
    expect(c.lines[0]!.stations[0]!.actions).toEqual([{ do: 'publish_decision' }]);
    expect(Object.isFrozen(c.lines[0]!.machines[0])).toBe(true);
  });

  it('rejects bad configs with LS_ERR_LINE_CONFIG naming the field', () => {
    const bad = (x: unknown) => () => parseLineConfig(x);
    expect(bad({ lines: [] })).toThrow(/LINE_CONFIG|line.yaml/);
    expect(bad({ ...base, lines: [{ id: 'line/1' }] })).toThrow(/lines\.0\.id/);
    expect(bad({ ...base, lines: [{ id: 'l', machines: [{ id: 'm1', model: 'x', features: {}, rule: { type: 'threshold', above: 1 } }] }], machine_defaults: {} })).toThrow(/no features/);
    expect(bad({ ...base, lines: [{ id: 'l', stations: [{ id: 'a', model: 'x' }], machines: [{ id: 'a' }] }] })).toThrow(/used twice/);
    expect(bad({ ...base, machine_defaults: { ...base.machine_defaults, rule: { type: 'hysteresis', above: 0.3, clear_below: 0.5 } } })).toThrow(/clear_below/);
    expect(bad({ ...base, machine_defaults: { ...base.machine_defaults, features: { x: { value: 'v', window: { agg: 'mean', readings: 3, seconds: 2 } } } } })).toThrow(/exactly one/);
    expect(bad({ ...base, extra: 1 })).toThrow();
    try {
      parseLineConfig({ lines: 'x' });
    } catch (e) {
      expect((e as { code: string }).code).toBe('LS_ERR_LINE_CONFIG');
    }
  });

  it('the committed config/line.yaml is valid and describes the demo line', async () => {
    const c = await loadLineConfig('config/line.yaml');
    const l = c.lines[0]!;
    expect(l.id).toBe('line1');
    expect(l.stations.map((s) => s.id)).toEqual(['cam1']);
    expect(l.stations[0]!.model).toBe('steel-surface');
    expect(l.machines.map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
    expect(l.machines.every((m) => m.model === 'machine-failure')).toBe(true);
  });

  it('a missing file gives LS_ERR_FILE_NOT_FOUND', async () => {
    await expect(loadLineConfig('config/nope.yaml')).rejects.toMatchObject({ code: 'LS_ERR_FILE_NOT_FOUND' });
  });
});
