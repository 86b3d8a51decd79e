/** After a restart, a machine's rolling windows are refilled from its stored readings. */
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/line/events.ts';
import { parseLineConfig } from '../../src/line/line-config.ts';
import { LineRuntime } from '../../src/line/runtime.ts';
import type { RawRow } from '../../src/pipeline/pre/tabular.ts';
import type { InferenceService } from '../../src/serving/inference-service.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const seen: RawRow[] = [];
const service = {
  manifest: async () => ({ decision: { positive_label: 'failure' }, labels: ['ok', 'failure'] }),
  predictRows: async (_m: string, rows: readonly RawRow[]) => {
    seen.push(...rows);
    // failure probability 0.9 once the windowed torque passes 18
    return rows.map((r) => {
      const f = (r.T as number) > 18 ? 0.9 : 0.1;
      return { model: 'mf', version: 1, task: 'classification', probabilities: { ok: 1 - f, failure: f }, decision: 'PASS', reason: '' };
    });
  },
  status: () => [],
  dispose: async () => undefined,
} as unknown as InferenceService;

const config = parseLineConfig({
  sensor_batch: { max_size: 1, max_delay_ms: 0 },
  machine_defaults: { model: 'mf', features: { T: { value: 'torque_nm', window: { agg: 'mean', readings: 3 } } }, rule: { type: 'threshold', above: 0.5 } },
  lines: [{ id: 'l', machines: [{ id: 'm1' }] }],
});

const reading = (i: number, torque: number) => Buffer.from(JSON.stringify({ msg_id: `w${i}`, ts: 1_000 + i, values: { torque_nm: torque } }));

describe('rolling windows and alert state across a restart', () => {
  it('continue from the stored readings instead of starting empty; an active alert is not raised again', async () => {
    const store = new SqliteStore({ file: ':memory:' });
    const a = new LineRuntime({ config, service, store, bus: new EventBus() });
    for (const [i, t] of [[1, 10], [2, 20], [3, 30]] as const) await a.handleMessage('linesight/l/m1/sensors', reading(i, t));
    await a.dispose();
    expect(seen.map((r) => r.T)).toEqual([10, 15, 20]);
    const b = new LineRuntime({ config, service, store, bus: new EventBus() });
    await b.handleMessage('linesight/l/m1/sensors', reading(4, 60));
    await b.dispose();
    // mean of the last three: 20, 30 (stored) and 60 (new), not 60 alone
    expect(seen[3]!.T).toBeCloseTo(110 / 3);
    // the alert raised by the third reading was still active: the restart does not raise a second one
    expect((await store.counts()).alerts).toBe(1);
    expect((await store.machineHistory('m1', 0)).map((p) => p.decision)).toEqual(['PASS', 'PASS', 'ALERT', 'ALERT']);
    await store.dispose();
  });
});
