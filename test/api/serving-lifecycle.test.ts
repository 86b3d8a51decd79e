/** Model lifecycle: version policy, polling for new versions, zero-failure swaps, bounded memory over load/unload cycles. */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelRepository } from '../../src/repository/repository.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { ModelManager } from '../../src/serving/model-manager.ts';
import { Metrics } from '../../src/monitoring/metrics.ts';
import { tinyImageClassifier } from '../helpers/tiny-model.ts';
import { makeServingRepo, writeWideModel } from './helpers/serving-repo.ts';

const managers: ModelManager[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const m of managers.splice(0)) await m.dispose();
});

async function manager(root: string, extra: Partial<Parameters<typeof ModelManager.create>[0]> = {}) {
  const m = await ModelManager.create({ repo: await ModelRepository.open(root), backend: await getBackend(), models: ['tiny'], ...extra });
  managers.push(m);
  return m;
}

const image = (v = 0.5) => ({ image: { datatype: 'FP32' as const, shape: [1, 1, 8, 8], data: new Float32Array(64).fill(v) } });

function addVersion(root: string, v: number): void {
  mkdirSync(path.join(root, 'tiny', String(v)), { recursive: true });
  writeFileSync(path.join(root, 'tiny', String(v), 'model.onnx'), tinyImageClassifier(8, 3, v));
}

describe('ModelManager lifecycle', () => {
  it('follows version_policy: latest N, specific, all', async () => {
    const a = await manager(makeServingRepo({ tinyVersions: [1, 2, 3], tinyConfig: { version_policy: { latest: 2 } } }));
    expect(a.readyVersions('tiny')).toEqual([2, 3]);
    const b = await manager(makeServingRepo({ tinyVersions: [1, 2, 3], tinyConfig: { version_policy: { specific: [1, 3] } } }));
    expect(b.readyVersions('tiny')).toEqual([1, 3]);
    const c = await manager(makeServingRepo({ tinyVersions: [1, 2, 3], tinyConfig: { version_policy: { all: true } } }));
    expect(c.readyVersions('tiny')).toEqual([1, 2, 3]);
    expect((await c.inferTensors('tiny', image())).version).toBe(3);
    expect((await c.inferTensors('tiny', image(), { version: 1 })).version).toBe(1);
  });

  it('polls the repository on the injected timer and picks up a new version', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const root = makeServingRepo({ tinyVersions: [1] });
    const m = await manager(root, { pollIntervalMs: 5000 });
    expect(m.readyVersions('tiny')).toEqual([1]);
    addVersion(root, 2);
    await vi.advanceTimersByTimeAsync(4000);
    expect(m.readyVersions('tiny')).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.waitFor(() => expect(m.readyVersions('tiny')).toEqual([2]));
    expect(m.status().filter((s) => s.name === 'tiny').map((s) => `${s.version}:${s.state}`)).toEqual(['2:READY']);
  });

  it('serving the whole repository, a model folder that appears is loaded on the next poll', async () => {
    const root = makeServingRepo();
    const m = await ModelManager.create({ repo: await ModelRepository.open(root), backend: await getBackend() });
    managers.push(m);
    expect(m.readyVersions('wide')).toEqual([]);
    writeWideModel(root);
    await m.poll();
    expect(m.readyVersions('wide')).toEqual([1]);
    await m.unloadModel('echo');
    await m.poll();
    expect(m.readyVersions('echo')).toEqual([]); // explicitly unloaded stays unloaded
  });

  it('a broken new version is UNAVAILABLE with a reason and the old one keeps serving', async () => {
    const root = makeServingRepo({ tinyVersions: [1] });
    const m = await manager(root);
    mkdirSync(path.join(root, 'tiny', '2'));
    writeFileSync(path.join(root, 'tiny', '2', 'model.onnx'), 'not onnx');
    await m.poll();
    expect(m.readyVersions('tiny')).toEqual([1]);
    const v2 = m.status().find((s) => s.version === 2);
    expect(v2?.state).toBe('UNAVAILABLE');
    expect(v2?.reason).toMatch(/ONNX|corrupt/i);
    expect((await m.inferTensors('tiny', image())).version).toBe(1);
  });

  it('unloads versions and models removed from the repository', async () => {
    const root = makeServingRepo({ tinyVersions: [1, 2], tinyConfig: { version_policy: { all: true } } });
    const m = await manager(root);
    expect(m.readyVersions('tiny')).toEqual([1, 2]);
    rmSync(path.join(root, 'tiny', '2'), { recursive: true });
    await m.poll();
    expect(m.readyVersions('tiny')).toEqual([1]);
    rmSync(path.join(root, 'tiny'), { recursive: true });
    await m.poll();
    expect(m.readyVersions('tiny')).toEqual([]);
    await expect(m.inferTensors('tiny', image())).rejects.toMatchObject({ code: 'LS_ERR_MODEL_NOT_FOUND' });
    expect(m.isReady()).toBe(true);
    expect(m.status()).toEqual([]);
  });

  it('swaps to a new version under load with zero failed requests; the old session is released', async () => {
    const root = makeServingRepo({ tinyVersions: [1] });
    const m = await manager(root);
    let stop = false;
    const versions = new Set<number>();
    const failures: unknown[] = [];
    let done = 0;
    const client = async () => {
      while (!stop) {
        try {
          versions.add((await m.inferTensors('tiny', image())).version);
          done++;
        } catch (e) {
          failures.push(e);
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    while (done < 50) await new Promise((r) => setImmediate(r));
    addVersion(root, 2);
    await m.poll();
    const after = done;
    while (done < after + 50) await new Promise((r) => setImmediate(r));
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect([...versions].sort()).toEqual([1, 2]);
    expect(m.readyVersions('tiny')).toEqual([2]);
    expect(m.status().some((s) => s.version === 1)).toBe(false);
  });

  it('unload waits for requests in flight, then refuses with LS_ERR_MODEL_NOT_READY', async () => {
    const m = await manager(makeServingRepo(), { models: ['tiny'] });
    const inflight = Array.from({ length: 16 }, () => m.inferTensors('tiny', image()));
    const unloading = m.unloadModel('tiny');
    const results = await Promise.allSettled(inflight);
    await unloading;
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    await expect(m.inferTensors('tiny', image())).rejects.toMatchObject({ code: 'LS_ERR_MODEL_NOT_READY', status: 503 });
    expect(m.isReady()).toBe(true); // an unloaded model is not "wanted"
  });

  it('bounded queue: a burst larger than max_queue_size gets 503 LS_ERR_QUEUE_FULL for the excess only', async () => {
    const metrics = new Metrics();
    const m = await manager(makeServingRepo({ tinyConfig: { max_batch_size: 1, dynamic_batching: { max_queue_size: 4, max_queue_delay_ms: 0 } } }), { metrics });
    const rs = await Promise.allSettled(Array.from({ length: 30 }, () => m.inferTensors('tiny', image())));
    const full = rs.filter((r) => r.status === 'rejected');
    expect(full.length).toBeGreaterThan(0);
    for (const r of full) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'LS_ERR_QUEUE_FULL' });
    expect(rs.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(5);
    await expect(m.inferTensors('tiny', image())).resolves.toMatchObject({ version: 1 });
  });

  it('memory stays flat over 200 load/unload cycles (sessions are released)', async () => {
    const root = makeServingRepo();
    writeWideModel(root);
    const m = await manager(root, { models: ['wide'] });
    const input = { image: { datatype: 'FP32' as const, shape: [1, 1, 64, 64], data: new Float32Array(64 * 64) } };
    const cycle = async () => {
      await m.unloadModel('wide');
      await m.loadModel('wide');
      await m.inferTensors('wide', input);
    };
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let i = 0; i < 30; i++) await cycle(); // warm-up: allocator pools and JIT settle
    gc?.();
    const before = process.memoryUsage.rss();
    for (let i = 0; i < 200; i++) await cycle();
    gc?.();
    const growth = process.memoryUsage.rss() - before;
    // Each session of "wide" holds ~1 MB of weights plus engine state: 200 leaked sessions would add > 200 MB.
    expect(growth).toBeLessThan(64 * 1024 * 1024);
    expect(m.readyVersions('wide')).toEqual([1]);
  }, 120_000);

  it('threaded sessions: instances run in worker threads, and unloading ends them (thread count back to baseline)', async () => {
    const threads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
    const root = makeServingRepo({ tinyConfig: { execution: { instances: 2, intra_op_threads: 1 } } });
    const m = await manager(root, { inferenceThreads: true });
    const outs = await Promise.all(Array.from({ length: 8 }, (_, i) => m.inferTensors('tiny', image(i / 8))));
    expect(outs.every((o) => o.version === 1)).toBe(true);
    expect(new Set(outs.map((o) => (o.outputs.logits!.data as Float32Array)[0])).size).toBe(8);
    if (!existsSync('/proc/self/status')) return; // thread counting needs Linux procfs
    await m.unloadModel('tiny');
    const base = threads();
    for (let i = 0; i < 3; i++) {
      await m.loadModel('tiny');
      await m.inferTensors('tiny', image());
      await m.unloadModel('tiny');
    }
    await vi.waitFor(() => expect(threads()).toBeLessThanOrEqual(base + 2), { timeout: 10_000 });
  }, 60_000);
});
