import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamicBatcher } from '../../src/scheduling/batcher.ts';
import { Semaphore } from '../../src/scheduling/semaphore.ts';
import { selectVersions } from '../../src/scheduling/version-policy.ts';
import { batchKey, concatFeeds, splitOutputs } from '../../src/scheduling/batch-tensors.ts';
import type { Clock } from '../../src/core/clock.ts';

const fakeClock: Clock = {
  now: () => Date.now(),
  hrNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('DynamicBatcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits max_queue_delay_ms and merges the requests that arrived into one batch', async () => {
    const batches: number[][] = [];
    const b = new DynamicBatcher<number, number>({
      maxBatchSize: 8, maxQueueDelayMs: 5, maxQueueSize: 100, timeoutMs: 0, clock: fakeClock,
      run: async (items) => { batches.push([...items]); return items.map((x) => x * 10); },
    });
    const ps = [1, 2, 3].map((x) => b.submit(x));
    await vi.advanceTimersByTimeAsync(4);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(2);
    const r = await Promise.all(ps);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(r.map((x) => x.value)).toEqual([10, 20, 30]);
    expect(r[0]!.batchSamples).toBe(3);
    expect(r[0]!.queueMs).toBeGreaterThanOrEqual(5);
  });

  it('dispatches at once when max_batch_size is reached, and splits bigger queues', async () => {
    const batches: number[][] = [];
    const b = new DynamicBatcher<number, number>({
      maxBatchSize: 4, maxQueueDelayMs: 1000, maxQueueSize: 100, timeoutMs: 0, clock: fakeClock,
      run: async (items) => { batches.push([...items]); return [...items]; },
    });
    const ps = Array.from({ length: 10 }, (_, i) => b.submit(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches[0]).toEqual([0, 1, 2, 3]);
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(ps);
    expect(batches.map((x) => x.length)).toEqual([4, 4, 2]);
  });

  it('dispatches a preferred batch size without waiting for the delay', async () => {
    const sizes: number[] = [];
    const b = new DynamicBatcher<number, number>({
      maxBatchSize: 32, maxQueueDelayMs: 1000, preferredBatchSizes: [4], maxQueueSize: 100, timeoutMs: 0, clock: fakeClock,
      run: async (items) => { sizes.push(items.length); return [...items]; },
    });
    const ps = Array.from({ length: 4 }, (_, i) => b.submit(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(sizes).toEqual([4]);
    await Promise.all(ps);
  });

  it('counts samples, not requests, against max_batch_size and never merges different keys', async () => {
    const batches: string[][] = [];
    const b = new DynamicBatcher<string, string>({
      maxBatchSize: 4, maxQueueDelayMs: 1, maxQueueSize: 100, timeoutMs: 0, clock: fakeClock,
      run: async (items) => { batches.push([...items]); return [...items]; },
    });
    const ps = [b.submit('a3', 3, 'A'), b.submit('b1', 1, 'B'), b.submit('a2', 2, 'A'), b.submit('a1', 1, 'A')];
    await vi.advanceTimersByTimeAsync(5);
    await Promise.all(ps);
    expect(batches[0]).toEqual(['a3', 'a1']);
    expect(batches.flat().sort()).toEqual(['a1', 'a2', 'a3', 'b1']);
    for (const batch of batches) expect(new Set(batch.map((x) => x[0])).size).toBe(1);
  });

  it('refuses with LS_ERR_QUEUE_FULL when the queue is full instead of growing', async () => {
    const gate = deferred<void>();
    const b = new DynamicBatcher<number, number>({
      maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 2, timeoutMs: 0, clock: fakeClock,
      run: async (items) => { await gate.promise; return [...items]; },
    });
    const running = b.submit(0); // dispatched at once, blocks the only worker
    await vi.advanceTimersByTimeAsync(0);
    const q1 = b.submit(1);
    const q2 = b.submit(2);
    expect(b.depth).toBe(2);
    await expect(b.submit(3)).rejects.toMatchObject({ code: 'LS_ERR_QUEUE_FULL', status: 503 });
    expect(b.depth).toBe(2);
    gate.resolve();
    await expect(Promise.all([running, q1, q2])).resolves.toHaveLength(3);
  });

  it('times out a request that waited longer than timeout_ms and removes it from the queue', async () => {
    const gate = deferred<void>();
    const ran: number[] = [];
    const b = new DynamicBatcher<number, number>({
      maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 10, timeoutMs: 50, clock: fakeClock,
      run: async (items) => { await gate.promise; ran.push(...items); return [...items]; },
    });
    const first = b.submit(0);
    await vi.advanceTimersByTimeAsync(0);
    const late = b.submit(1);
    const lateResult = expect(late).rejects.toMatchObject({ code: 'LS_ERR_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(60);
    await lateResult;
    expect(b.depth).toBe(0);
    gate.resolve();
    await first;
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual([0]);
  });

  it('runs up to `instances` batches at once, round-robin over instances', async () => {
    const gate = deferred<void>();
    const used: number[] = [];
    const b = new DynamicBatcher<number, number>({
      maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 10, timeoutMs: 0, instances: 2, clock: fakeClock,
      run: async (items, inst) => { used.push(inst); await gate.promise; return [...items]; },
    });
    const ps = [0, 1, 2].map((x) => b.submit(x));
    await vi.advanceTimersByTimeAsync(0);
    expect(b.active).toBe(2);
    expect(used.sort()).toEqual([0, 1]);
    gate.resolve();
    await Promise.all(ps);
    expect(used).toHaveLength(3);
  });

  it('fails every request of a batch whose run throws, and keeps serving', async () => {
    let fail = true;
    const b = new DynamicBatcher<number, number>({
      maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 10, timeoutMs: 0, clock: fakeClock,
      run: async (items) => { if (fail) throw new Error('boom'); return [...items]; },
    });
    await expect(b.submit(1)).rejects.toThrow('boom');
    fail = false;
    await expect(b.submit(2)).resolves.toMatchObject({ value: 2 });
  });

  it('dispose waits for queued and running requests, then refuses new ones', async () => {
    const gate = deferred<void>();
    const b = new DynamicBatcher<number, number>({
      maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 10, timeoutMs: 0, clock: fakeClock,
      run: async (items) => { await gate.promise; return [...items]; },
    });
    const ps = [b.submit(1), b.submit(2)];
    await vi.advanceTimersByTimeAsync(0);
    let disposed = false;
    const d = b.dispose().then(() => (disposed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(disposed).toBe(false);
    await expect(b.submit(3)).rejects.toMatchObject({ code: 'LS_ERR_SHUTTING_DOWN' });
    gate.resolve();
    await Promise.all(ps);
    await d;
    expect(disposed).toBe(true);
  });
});

describe('batch tensors', () => {
  it('concatenates along dimension 0 and splits back per request', () => {
    const a = { x: { datatype: 'FP32' as const, shape: [1, 2], data: Float32Array.from([1, 2]) }, s: { datatype: 'BYTES' as const, shape: [1, 1], data: ['a'] } };
    const b = { x: { datatype: 'FP32' as const, shape: [2, 2], data: Float32Array.from([3, 4, 5, 6]) }, s: { datatype: 'BYTES' as const, shape: [2, 1], data: ['b', 'c'] } };
    expect(batchKey(a)).toBe(batchKey(b));
    const merged = concatFeeds([a, b]);
    expect(merged.x!.shape).toEqual([3, 2]);
    expect([...(merged.x!.data as Float32Array)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(merged.s!.data).toEqual(['a', 'b', 'c']);
    const parts = splitOutputs(merged, [1, 2]);
    expect([...(parts[1]!.x!.data as Float32Array)]).toEqual([3, 4, 5, 6]);
    expect(parts[1]!.x!.shape).toEqual([2, 2]);
    expect(parts[0]!.s!.data).toEqual(['a']);
  });

  it('gives different keys for different non-batch shapes', () => {
    const t = (n: number) => ({ x: { datatype: 'FP32' as const, shape: [1, n], data: new Float32Array(n) } });
    expect(batchKey(t(2))).not.toBe(batchKey(t(3)));
  });
});

describe('version policy and semaphore', () => {
  it('selects latest N, all, or specific versions', () => {
    expect(selectVersions({ latest: 2 }, [3, 1, 2])).toEqual([2, 3]);
    expect(selectVersions({ all: true }, [2, 1])).toEqual([1, 2]);
    expect(selectVersions({ specific: [1, 5] }, [1, 2, 3])).toEqual([1]);
  });

  it('semaphore never lets more than `limit` run at once', async () => {
    const s = new Semaphore(2);
    let now = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        s.with(async () => {
          now++;
          peak = Math.max(peak, now);
          await Promise.resolve();
          now--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(s.inUse).toBe(0);
  });
});

describe('serving thread policy', async () => {
  const { withServingThreads } = await import('../../src/serving/version-files.ts');
  const { manifestSchema } = await import('../../src/repository/manifest.ts');
  const resolved = (execution: Record<string, unknown>) => ({
    name: 'm', version: 1, modelPath: '', versionDir: '', configPath: '',
    manifest: manifestSchema.parse({ name: 'm', task: 'regression', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [1] }], execution }),
  });
  it('auto intra-op threads leave one core to the event loop, split over instances', () => {
    expect(withServingThreads(resolved({}), 2).manifest.execution.intra_op_threads).toBe(1);
    expect(withServingThreads(resolved({}), 8).manifest.execution.intra_op_threads).toBe(7);
    expect(withServingThreads(resolved({ instances: 2 }), 8).manifest.execution.intra_op_threads).toBe(3);
    expect(withServingThreads(resolved({ intra_op_threads: 4 }), 2).manifest.execution.intra_op_threads).toBe(4);
  });
});
