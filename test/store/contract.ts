/** The one contract every Store implementation passes (run by sqlite.test.ts and postgres.test.ts). */
import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { REENCRYPT_CHUNK, type FieldCodec } from '../../src/store/codec.ts';
import type { PartRecord, ReadingRecord, Store } from '../../src/store/store.ts';

const xorCodec = (keyId: string, k: number): FieldCodec => ({
  keyId,
  encode: (b) => b.map((x) => x ^ k),
  decode: (b) => b.map((x) => x ^ k),
});

export function reading(i: number, over: Partial<ReadingRecord> = {}): ReadingRecord {
  return { msg_id: `r${i}`, line: 'line1', machine: 'm1', ts: 1_000_000 + i * 1000, type: 'L', values: { torque_nm: 40 + i, tool_wear_min: i }, model: 'machine-failure', version: 1, probability: i / 100, decision: 'PASS', latency_ms: 1.5, ...over };
}

export function part(i: number, over: Partial<PartRecord> = {}): PartRecord {
  return {
    part_id: `p${i}`, msg_id: `mp${i}`, line: 'line1', station: 'cam1', ts: 2_000_000 + i * 1000, model: 'steel-surface', version: 1,
    label: i % 2 ? 'scratches' : 'crazing', probability: 0.9, outputs: { crazing: 0.1, scratches: 0.9 }, decision: i % 2 ? 'REJECT' : 'PASS',
    reason: 'r', latency_ms: 3, image: { bytes: new Uint8Array([0xff, 0xd8, i, 1, 2, 3]), content_type: 'image/jpeg' }, ...over,
  };
}

/** Run the contract against fresh stores made by `make` (the codec argument must be honoured). */
export function storeContract(name: string, make: (codec?: FieldCodec) => Promise<Store>, cleanup: (s: Store) => Promise<void>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      await cleanup(store);
    });

    it('stores readings once per message id (idempotent redelivery)', async () => {
      const a = await store.writeBatch({ readings: [reading(1), reading(2), reading(3)] });
      expect(a.readings).toBe(3);
      const b = await store.writeBatch({ readings: [reading(2), reading(3), reading(4)] });
      expect(b.readings).toBe(1);
      const c = await store.counts();
      expect(c.readings).toBe(4);
      expect(c.distinct_readings).toBe(4);
    });

    it('returns machine history in time order with decoded values', async () => {
      await store.writeBatch({ readings: [reading(3), reading(1), reading(2), reading(9, { machine: 'm2' })] });
      const h = await store.machineHistory('m1', 0);
      expect(h.map((p) => p.ts)).toEqual([1_001_000, 1_002_000, 1_003_000]);
      expect(h[0]!.values).toEqual({ torque_nm: 41, tool_wear_min: 1 });
      expect(h[1]!.probability).toBeCloseTo(0.02);
      expect(await store.machineHistory('m1', 1_002_500)).toHaveLength(1);
    });

    it('stores parts with image, serves them back, and is idempotent by message id', async () => {
      expect((await store.writeBatch({ parts: [part(1), part(2)] })).parts).toBe(2);
      expect((await store.writeBatch({ parts: [part(1)] })).parts).toBe(0);
      const p = await store.getPart('p1');
      expect(p?.label).toBe('scratches');
      expect(p?.decision).toBe('REJECT');
      expect(p?.has_image).toBe(true);
      expect(p?.outputs).toEqual({ crazing: 0.1, scratches: 0.9 });
      const img = await store.getPartImage('p1');
      expect(img?.content_type).toBe('image/jpeg');
      expect([...img!.bytes]).toEqual([0xff, 0xd8, 1, 1, 2, 3]);
      expect(await store.getPart('nope')).toBeUndefined();
      expect(await store.getPartImage('nope')).toBeUndefined();
      const recent = await store.recentParts({ limit: 10 });
      expect(recent.map((r) => r.part_id)).toEqual(['p2', 'p1']);
      expect(await store.recentParts({ limit: 10, station: 'other' })).toEqual([]);
    });

    it('records a decision override on the part and in the decisions', async () => {
      await store.writeBatch({ parts: [part(1)] });
      const p = await store.overrideDecision('p1', 'PASS', 'released by QA: cosmetic only', 77);
      expect(p).toMatchObject({ decision: 'PASS', reason: 'released by QA: cosmetic only', label: 'scratches' });
      expect((await store.counts()).decisions).toBe(1);
      await expect(store.overrideDecision('nope', 'PASS', 'x', 1)).rejects.toMatchObject({ code: 'LS_ERR_NOT_FOUND' });
    });

    it('computes live accuracy and a confusion matrix from QA feedback', async () => {
      await store.writeBatch({ parts: [part(1), part(2), part(3), part(4)] });
      await store.addFeedback({ part_id: 'p1', true_label: 'scratches', by: 'qa', ts: 5 });
      await store.addFeedback({ part_id: 'p2', true_label: 'scratches', by: 'qa', ts: 6 });
      const fb = await store.addFeedback({ part_id: 'p3', true_label: 'scratches', by: 'qa', ts: 7 });
      expect(fb.feedback).toEqual({ true_label: 'scratches', by: 'qa', ts: 7, correct: true });
      await expect(store.addFeedback({ part_id: 'zzz', true_label: 'x', by: 'qa', ts: 1 })).rejects.toMatchObject({ code: 'LS_ERR_NOT_FOUND' });
      const [acc] = await store.accuracy();
      expect(acc).toMatchObject({ model: 'steel-surface', version: 1, labelled: 3, correct: 2 });
      expect(acc!.accuracy).toBeCloseTo(2 / 3);
      expect(acc!.labels).toEqual(['crazing', 'scratches']);
      expect(acc!.confusion).toEqual([[0, 0], [1, 2]]);
    });

    it('lists, acknowledges alerts and records who and when', async () => {
      await store.writeBatch({
        alerts: [
          { id: 'a1', ts: 10, line: 'line1', source: 'm1', severity: 'critical', message: 'failure risk', probability: 0.9, contributions: [{ feature: 'Torque [Nm]', value: 70, contribution: 0.4 }] },
          { id: 'a2', ts: 20, line: 'line1', source: 'm2', severity: 'warning', message: 'x' },
        ],
      });
      expect((await store.listAlerts({ state: 'open' })).map((a) => a.id)).toEqual(['a2', 'a1']);
      const a = await store.ackAlert('a1', 'alice', 99);
      expect(a).toMatchObject({ id: 'a1', acknowledged_by: 'alice', acknowledged_at: 99, probability: 0.9 });
      expect(a.contributions?.[0]?.feature).toBe('Torque [Nm]');
      // a second acknowledgement does not overwrite the first
      expect((await store.ackAlert('a1', 'bob', 100)).acknowledged_by).toBe('alice');
      expect((await store.listAlerts({ state: 'open' })).map((x) => x.id)).toEqual(['a2']);
      expect(await store.listAlerts({ state: 'all' })).toHaveLength(2);
      await expect(store.ackAlert('nope', 'x', 1)).rejects.toMatchObject({ code: 'LS_ERR_NOT_FOUND' });
      expect((await store.getAlert('a2'))?.message).toBe('x');
      expect(await store.getAlert('nope')).toBeUndefined();
    });

    it('keeps dead letters with their reason', async () => {
      await store.writeBatch({ deadLetters: [{ ts: 1, topic: 'linesight/line1/m1/sensors', kind: 'malformed_json', reason: 'Unexpected token', payload: new Uint8Array([123, 120]) }] });
      const [d] = await store.deadLetters(10);
      expect(d).toMatchObject({ topic: 'linesight/line1/m1/sensors', kind: 'malformed_json', reason: 'Unexpected token' });
      expect([...d!.payload]).toEqual([123, 120]);
      expect((await store.counts()).dead_letters).toBe(1);
    });

    it('joins machine truth to scored readings, newest report first; the latest report wins; truth may come before its reading', async () => {
      const truth = (i: number, failure: boolean, ts = 5_000_000 + i) => ({ reading_msg_id: `r${i}`, line: 'line1', machine: 'm1', failure, modes: failure ? ['TWF'] : [], by: 'plc', ts });
      // truth for r4 arrives before r4 itself; r9 is never scored (no model ran); r7 gets no truth
      await store.writeBatch({ readings: [reading(1), reading(2), reading(3)], machineTruth: [truth(1, false), truth(2, true), truth(4, true)] });
      await store.writeBatch({ readings: [reading(4), reading(7), reading(9, { model: undefined, version: undefined, probability: undefined })], machineTruth: [truth(9, true), truth(3, true)] });
      // a corrected report for r3, and a redelivered one for r2
      await store.writeBatch({ machineTruth: [truth(3, false, 5_000_100), truth(2, true)] });
      // newest report first: r3 (corrected last), r9 (not scored: skipped), r4, r2, r1
      const o = await store.machineOutcomes(100);
      expect(o.map((x) => [x.probability, x.failure])).toEqual([[0.03, false], [0.04, true], [0.02, true], [0.01, false]]);
      expect(o[0]).toMatchObject({ model: 'machine-failure', version: 1 });
      // the limit counts reports, so the cost follows it whatever the size of the store
      expect((await store.machineOutcomes(3)).map((x) => x.probability)).toEqual([0.03, 0.04]);
      // retention by age: the readings go (r1-r3), and truth reported before the cut-off goes too
      await store.prune({ olderThanMs: 1_003_500 });
      expect((await store.machineOutcomes(100)).map((x) => x.probability)).toEqual([0.04]);
      await store.writeBatch({ machineTruth: [truth(4, true, 1_000)] });
      await store.prune({ olderThanMs: 1_003_500 });
      expect(await store.machineOutcomes(100)).toEqual([]);
    });

    it('gives the part outcomes for SPC', async () => {
      await store.writeBatch({ parts: [part(1), part(2), part(3)] });
      const o = await store.partOutcomes({ since: 2_001_500, station: 'cam1' });
      expect(o).toEqual([{ ts: 2_002_000, defect: false }, { ts: 2_003_000, defect: true }]);
    });

    it('applies retention by age and by row count', async () => {
      await store.writeBatch({ readings: Array.from({ length: 10 }, (_, i) => reading(i)), parts: [part(1)], decisions: [{ ts: 1, line: 'line1', source: 'cam1', decision: 'REJECT', reason: 'x' }] });
      await store.prune({ olderThanMs: 1_003_000 });
      expect((await store.counts()).readings).toBe(7);
      expect((await store.counts()).decisions).toBe(0);
      expect((await store.counts()).parts).toBe(1);
      await store.prune({ maxReadings: 4 });
      const h = await store.machineHistory('m1', 0);
      expect(h.map((p) => p.ts)).toEqual([1_006_000, 1_007_000, 1_008_000, 1_009_000]);
    });

    it('re-encrypts every blob from one codec to another', async () => {
      await cleanup(store);
      const k1 = xorCodec('k1', 0x5a);
      store = await make(k1);
      await store.writeBatch({ readings: [reading(1), reading(2)], parts: [part(1)] });
      const k2 = xorCodec('k2', 0x33);
      expect((await store.reencryptAll(k1, k2)).rows).toBe(3);
      expect((await store.reencryptAll(k1, k2)).rows).toBe(0);
      await cleanup(store);
      store = await make(k2);
      expect((await store.getPartImage('p1'))?.bytes[0]).toBe(0xff);
      expect((await store.machineHistory('m1', 0))[0]?.values.torque_nm).toBe(41);
    });

    it('re-encrypts more rows than one chunk, each exactly once, and nothing when both keys are the same', async () => {
      await cleanup(store);
      const k1 = xorCodec('k1', 0x11);
      store = await make(k1);
      const n = REENCRYPT_CHUNK * 2 + 7;
      await store.writeBatch({ readings: Array.from({ length: n }, (_, i) => reading(i + 1)) });
      expect((await store.reencryptAll(k1, k1)).rows).toBe(0);
      const k2 = xorCodec('k2', 0x33);
      expect((await store.reencryptAll(k1, k2)).rows).toBe(n);
      expect((await store.reencryptAll(k1, k2)).rows).toBe(0);
      await cleanup(store);
      store = await make(k2);
      const history = await store.machineHistory('m1', 0, n);
      expect(history).toHaveLength(n);
      expect(new Set(history.map((p) => p.values.torque_nm)).size).toBeGreaterThan(1);
    });

    it('refuses to read rows written with another key', async () => {
      await cleanup(store);
      store = await make(xorCodec('k1', 1));
      await store.writeBatch({ parts: [part(1)] });
      await cleanup(store);
      store = await make(xorCodec('k9', 2));
      await expect(store.getPartImage('p1')).rejects.toMatchObject({ code: 'LS_ERR_CRYPTO' });
    });
  });
}
