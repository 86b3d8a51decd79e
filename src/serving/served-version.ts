/**
 * One model version being served: its session instances, its dynamic batcher, its lifecycle state
 * and the leases of requests using it. Unloading waits for every lease and queued request to finish
 * before the sessions are released, so a swap to a new version fails no request.
 */
import { LsError, toLsError } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { Disposable } from '../core/dispose.ts';
import { LoadedModel } from '../pipeline/model.ts';
import type { Prediction } from '../pipeline/post/predict.ts';
import { scoreOutputName } from '../pipeline/post/predict.ts';
import type { RawRow } from '../pipeline/pre/tabular.ts';
import { tabularFeeds } from '../pipeline/pre/tabular.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { ResolvedModel } from '../repository/repository.ts';
import type { InferenceBackend } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { DynamicBatcher } from '../scheduling/batcher.ts';
import { batchKey, concatFeeds, splitOutputs } from '../scheduling/batch-tensors.ts';
import type { Semaphore } from '../scheduling/semaphore.ts';
import type { PreprocessPool } from './threads/preprocess-pool.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import type { InspectResult, ModelState } from './inference-service.ts';
import { VersionStats } from './version-stats.ts';

interface BatchItem {
  readonly feeds: Readonly<Record<string, Tensor>>;
  readonly rows: number;
  readonly outputs?: readonly string[];
}

/** What a tensor request returns, with its timings in ms. */
export interface TensorRun {
  readonly outputs: Record<string, Tensor>;
  readonly queue_ms: number;
  readonly inference_ms: number;
}

export class ServedVersion implements Disposable {
  state: ModelState = 'LOADING';
  reason: string | undefined;
  private leases = 0;
  private leaseWaiters: Array<() => void> = [];
  private batcher: DynamicBatcher<BatchItem, Record<string, Tensor>> | undefined;
  private instances: LoadedModel[] = [];
  /** Triton-style statistics of this version. */
  readonly stats: VersionStats;

  constructor(
    readonly resolved: ResolvedModel,
    private readonly deps: { backend: InferenceBackend; clock: Clock; metrics?: Metrics; preprocess: Semaphore; pool?: PreprocessPool },
  ) {
    this.stats = new VersionStats(resolved.name, resolved.version);
  }

  get name(): string {
    return this.resolved.name;
  }
  get version(): number {
    return this.resolved.version;
  }
  get manifest(): Manifest {
    return this.resolved.manifest;
  }
  /** The first session instance (for metadata and pure pre/post steps). */
  get model(): LoadedModel {
    const m = this.instances[0];
    if (!m) throw new LsError('LS_ERR_MODEL_NOT_READY', `${this.name}:${this.version} is ${this.state}`, { subject: this.name });
    return m;
  }

  /** Create the session instances and the batcher; state becomes READY or UNAVAILABLE (and it throws). */
  async load(): Promise<void> {
    const m = this.manifest;
    try {
      for (let i = 0; i < m.execution.instances; i++) this.instances.push(await LoadedModel.load(this.resolved, this.deps.backend));
    } catch (e) {
      await this.releaseInstances();
      this.state = 'UNAVAILABLE';
      this.reason = toLsError(e, 'LS_ERR_MODEL_CORRUPT').message;
      throw e;
    }
    const labels = { model: this.name, version: String(this.version) };
    const db = m.dynamic_batching;
    this.batcher = new DynamicBatcher<BatchItem, Record<string, Tensor>>({
      maxBatchSize: m.max_batch_size,
      maxQueueDelayMs: db.max_queue_delay_ms,
      preferredBatchSizes: db.preferred_batch_sizes,
      maxQueueSize: db.max_queue_size,
      timeoutMs: db.timeout_ms,
      instances: this.instances.length,
      clock: this.deps.clock,
      run: (items, instance) => this.runBatch(items, instance),
      onBatch: (samples, depth) => {
        this.deps.metrics?.batchSize.observe(labels, samples);
        this.deps.metrics?.queueDepth.set(labels, depth);
      },
    });
    this.state = 'READY';
    this.reason = undefined;
  }

  /** Take a lease: the version is not released until every lease is returned. */
  acquire(): () => void {
    if (this.state !== 'READY') throw new LsError('LS_ERR_MODEL_NOT_READY', `${this.name}:${this.version} is ${this.state}`, { subject: this.name });
    this.leases++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.leases--;
      if (this.leases === 0) for (const w of this.leaseWaiters.splice(0)) w();
    };
  }

  private async runBatch(items: readonly BatchItem[], instance: number): Promise<Array<Record<string, Tensor>>> {
    const model = this.instances[instance] ?? this.model;
    const clock = this.deps.clock;
    const t0 = clock.hrNow();
    const feeds = concatFeeds(items.map((i) => i.feeds));
    const t1 = clock.hrNow();
    // a batch of several requests was just concatenated into fresh buffers: a session thread may take them
    const outputs = await model.infer(feeds, items[0]!.outputs, { giveInputs: items.length > 1 });
    const t2 = clock.hrNow();
    const split = splitOutputs(outputs, items.map((i) => i.rows));
    this.stats.batch(items.reduce((a, i) => a + i.rows, 0), items.length, t1 - t0, t2 - t1, clock.hrNow() - t2);
    return split;
  }

  /** Raw tensors through the batcher; `rows` = the batch dimension of the feeds (1 without batching). */
  async runTensors(feeds: Readonly<Record<string, Tensor>>, outputs?: readonly string[]): Promise<TensorRun> {
    const b = this.batcher;
    if (!b) throw new LsError('LS_ERR_MODEL_NOT_READY', `${this.name}:${this.version}`, { subject: this.name });
    const batched = this.manifest.max_batch_size > 0;
    const first = Object.values(feeds)[0];
    const rows = batched ? (first?.shape[0] ?? 1) : 1;
    const depth = { model: this.name, version: String(this.version) };
    const clock = this.deps.clock;
    const t0 = clock.hrNow();
    const p = b.submit({ feeds, rows, outputs }, rows, batched ? batchKey(feeds, outputs) : 'unbatched');
    this.deps.metrics?.queueDepth.set(depth, b.depth);
    try {
      const r = await p;
      this.stats.request(true, clock.hrNow() - t0, r.queueMs, clock.now());
      return { outputs: r.value, queue_ms: r.queueMs, inference_ms: r.runMs };
    } catch (e) {
      this.stats.request(false, clock.hrNow() - t0, undefined, clock.now());
      throw e;
    }
  }

  /** One image: preprocess (several in flight across requests), batched forward, postprocess. */
  async inspectImage(bytes: Uint8Array, subject?: string): Promise<InspectResult> {
    const t0 = this.deps.clock.hrNow();
    const model = this.model;
    const pool = this.deps.pool;
    const sample = await this.deps.preprocess.with(() => (pool ? pool.preprocess(bytes, model.imageSpec(), subject) : model.preprocess(bytes, subject)));
    const t1 = this.deps.clock.hrNow();
    const run = await this.runTensors(model.stackImages([sample]), [scoreOutputName(this.manifest)]);
    const t2 = this.deps.clock.hrNow();
    const prediction = model.postprocess(run.outputs, 0);
    const t3 = this.deps.clock.hrNow();
    return {
      prediction,
      timings: { queue_ms: run.queue_ms, preprocess_ms: t1 - t0, inference_ms: run.inference_ms, postprocess_ms: t3 - t2, total_ms: t3 - t0 },
    };
  }

  /** Rows of a table, in chunks of max_batch_size, each chunk through the batcher. */
  async predictRows(rows: readonly RawRow[]): Promise<Prediction[]> {
    const max = this.manifest.max_batch_size;
    const chunk = max > 0 ? max : 1;
    const parts: Array<Promise<Prediction[]>> = [];
    for (let start = 0; start < rows.length; start += chunk) {
      const slice = rows.slice(start, start + chunk);
      parts.push(
        (async () => {
          const feeds = tabularFeeds(this.manifest, slice);
          const run = await this.runTensors(feeds);
          return slice.map((_, i) => this.model.postprocess(run.outputs, i));
        })(),
      );
    }
    return (await Promise.all(parts)).flat();
  }

  /** Stop taking requests, let the ones in flight finish, then release the sessions. */
  async unload(): Promise<void> {
    if (this.state === 'UNAVAILABLE') return;
    this.state = 'UNLOADING';
    if (this.leases > 0) await new Promise<void>((r) => this.leaseWaiters.push(r));
    await this.batcher?.dispose();
    this.batcher = undefined;
    await this.releaseInstances();
    this.state = 'UNAVAILABLE';
    this.reason = 'unloaded';
  }

  dispose(): Promise<void> {
    return this.unload();
  }

  private async releaseInstances(): Promise<void> {
    const all = this.instances;
    this.instances = [];
    for (const m of all) await m.dispose();
  }
}
