/**
 * The batched InferenceService: serves the model versions of a repository with a dynamic batcher
 * each, follows each model's version_policy, polls the repository for new versions and swaps them in
 * (the new version loads before the old one unloads; requests on the old one finish first).
 */
import { LsError, toLsError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import { silentLogger } from '../core/log.ts';
import type { Prediction } from '../pipeline/post/predict.ts';
import type { RawRow } from '../pipeline/pre/tabular.ts';
import type { Manifest } from '../repository/manifest.ts';
import { assertModelName, type ModelRepository } from '../repository/repository.ts';
import type { InferenceBackend } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { Semaphore } from '../scheduling/semaphore.ts';
import { selectVersions } from '../scheduling/version-policy.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import type { InferenceService, InspectResult, ModelVersionStatus } from './inference-service.ts';
import { ServedVersion } from './served-version.ts';
import { ThreadedBackend } from './threads/threaded-session.ts';
import { fileSignature, withServingThreads } from './version-files.ts';
import type { ModelStats } from './version-stats.ts';

export type { AuditSink } from './audit-sink.ts';
/** Re-exported: the doctor command reports the thread settings the server will use. */
export { withServingThreads };
import { PreprocessPool } from './threads/preprocess-pool.ts';

export interface ModelManagerOptions {
  readonly repo: ModelRepository;
  readonly backend: InferenceBackend;
  readonly clock?: Clock;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  /** Poll the repository for new/removed versions every N ms (0 = never). */
  readonly pollIntervalMs?: number;
  /** Models to load at start; default every model in the repository. */
  readonly models?: readonly string[];
  /** Images decoding/preprocessing at once across all requests (sharp uses one thread per image). */
  readonly preprocessConcurrency?: number;
  /**
   * Run each session instance in its own worker thread (default false here, true in the server):
   * onnxruntime-node's run() blocks its thread for the whole forward pass.
   */
  readonly inferenceThreads?: boolean;
  /** Decode/preprocess images in a pool of this many worker threads (0 = on the main thread, the default). */
  readonly preprocessThreads?: number;
}

interface ModelEntry {
  wanted: boolean;
  readonly versions: Map<number, ServedVersion>;
  /** Versions that failed to load, with the file signature tried (retried when the file changes). */
  readonly failed: Map<number, { reason: string; signature: string }>;
  /** Serialises load/unload/poll of one model. */
  chain: Promise<void>;
}

/** A repository index entry (Triton's `POST /v2/repository/index`). */
export interface IndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state?: string;
  readonly reason?: string;
}

export class ModelManager implements InferenceService {
  private readonly entries = new Map<string, ModelEntry>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly preprocess: Semaphore;
  private readonly backend: InferenceBackend;
  private readonly pool: PreprocessPool | undefined;
  private pollTimer: unknown;
  private polling: Promise<void> | undefined;
  private closed = false;

  private constructor(private readonly opts: ModelManagerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.preprocess = new Semaphore(opts.preprocessConcurrency ?? 4);
    this.backend = opts.inferenceThreads ? new ThreadedBackend(opts.backend) : opts.backend;
    this.pool = opts.preprocessThreads ? new PreprocessPool(opts.preprocessThreads) : undefined;
  }

  /** Create the manager and load the initial models (a model that fails to load is UNAVAILABLE, not fatal). */
  static async create(opts: ModelManagerOptions): Promise<ModelManager> {
    const m = new ModelManager(opts);
    const names = opts.models ?? (await opts.repo.listModels());
    for (const name of names) {
      try {
        await m.loadModel(name);
      } catch (e) {
        m.log.warn({ model: name, err: toLsError(e).message }, 'model failed to load');
      }
    }
    m.schedulePoll();
    return m;
  }

  get repo(): ModelRepository {
    return this.opts.repo;
  }

  /** Load (or reload) a model: the versions its policy selects become READY. */
  async loadModel(name: string): Promise<void> {
    assertModelName(name);
    if (!(await this.repo.hasModel(name))) throw new LsError('LS_ERR_MODEL_NOT_FOUND', name, { subject: name });
    const e = this.entry(name);
    e.wanted = true;
    e.failed.clear();
    await this.serial(e, () => this.reconcile(name, e));
    const served = [...e.versions.values()].filter((v) => v.state === 'READY');
    if (served.length === 0) {
      const why = [...e.failed.entries()].map(([v, f]) => `version ${v}: ${f.reason}`).join('; ');
      throw new LsError('LS_ERR_MODEL_NOT_READY', why || `${name} has no version to serve`, { subject: name });
    }
  }

  /** Unload every version of a model (after in-flight requests finish); polling leaves it unloaded. */
  async unloadModel(name: string): Promise<void> {
    assertModelName(name);
    const e = this.entries.get(name);
    if (!e) {
      if (!(await this.repo.hasModel(name))) throw new LsError('LS_ERR_MODEL_NOT_FOUND', name, { subject: name });
      return;
    }
    e.wanted = false;
    await this.serial(e, () => this.reconcile(name, e));
  }

  /** Check the repository once: load new versions, unload versions the policy no longer selects. */
  async poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = (async () => {
      if (this.opts.models === undefined && !this.closed) {
        // Serving the whole repository: a model folder that appears is loaded (an unloaded one keeps its entry).
        try {
          for (const name of await this.repo.listModels()) {
            if (this.entries.has(name)) continue;
            await this.loadModel(name).catch((err) => this.log.warn({ model: name, err: toLsError(err).message }, 'new model failed to load'));
          }
        } catch (err) {
          this.log.warn({ err: toLsError(err).message }, 'repository listing failed');
        }
      }
      for (const [name, e] of this.entries) {
        if (!e.wanted || this.closed) continue;
        try {
          await this.serial(e, () => this.reconcile(name, e));
        } catch (err) {
          this.log.warn({ model: name, err: toLsError(err).message }, 'repository poll failed');
        }
      }
    })().finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** Every model of the repository with the state of each known version. */
  async index(opts: { ready?: boolean } = {}): Promise<IndexEntry[]> {
    const out: IndexEntry[] = [];
    const names = new Set([...(await this.repo.listModels()), ...this.entries.keys()]);
    const status = this.status();
    for (const name of [...names].sort()) {
      const rows = status.filter((s) => s.name === name);
      if (rows.length === 0 && !opts.ready) out.push({ name, state: 'UNAVAILABLE', reason: 'unloaded' });
      for (const r of rows) {
        if (opts.ready && r.state !== 'READY') continue;
        out.push({ name, version: String(r.version), state: r.state, ...(r.reason ? { reason: r.reason } : {}) });
      }
    }
    return out;
  }

  status(): readonly ModelVersionStatus[] {
    const out: ModelVersionStatus[] = [];
    for (const [name, e] of this.entries) {
      for (const v of e.versions.values()) out.push({ name, version: v.version, state: v.state, task: v.manifest.task, ...(v.reason ? { reason: v.reason } : {}) });
      for (const [version, f] of e.failed) if (!e.versions.has(version)) out.push({ name, version, state: 'UNAVAILABLE', reason: f.reason });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
  }

  /** Triton-style statistics of the loaded versions (all, one model, or one version). */
  stats(name?: string, version?: number): ModelStats[] {
    const out: ModelStats[] = [];
    for (const [n, e] of this.entries) {
      if (name !== undefined && n !== name) continue;
      for (const v of e.versions.values()) if (version === undefined || v.version === version) out.push(v.stats.snapshot());
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  /** True when every model asked for has at least one READY version and nothing is loading. */
  isReady(): boolean {
    if (this.closed) return false;
    for (const e of this.entries.values()) {
      if (!e.wanted) continue;
      const vs = [...e.versions.values()];
      if (!vs.some((v) => v.state === 'READY')) return false;
    }
    return true;
  }

  /** The versions of a model that are READY now, ascending. */
  readyVersions(name: string): number[] {
    const e = this.entries.get(name);
    if (!e) return [];
    return [...e.versions.values()].filter((v) => v.state === 'READY').map((v) => v.version).sort((a, b) => a - b);
  }

  /**
   * The version that serves a request, with a lease held until `release()` — taken synchronously so
   * an unload that starts afterwards waits for this request.
   */
  async acquire(name: string, version?: number): Promise<{ served: ServedVersion; release: () => void }> {
    const pick = this.pick(name, version);
    if (pick) return { served: pick, release: pick.acquire() };
    // Slow path, only for errors: say whether the model/version exists at all.
    assertModelName(name);
    if (!(await this.repo.hasModel(name))) throw new LsError('LS_ERR_MODEL_NOT_FOUND', name, { subject: name });
    if (version !== undefined) {
      const onDisk = await this.repo.listVersions(name);
      if (!onDisk.includes(version)) throw new LsError('LS_ERR_VERSION_NOT_FOUND', `${name}:${version}`, { subject: name });
      const v = this.entries.get(name)?.versions.get(version);
      throw new LsError('LS_ERR_MODEL_NOT_READY', `${name}:${version} is ${v?.state ?? 'not loaded'}`, { subject: name });
    }
    throw new LsError('LS_ERR_MODEL_NOT_READY', `${name} has no READY version`, { subject: name });
  }

  private pick(name: string, version?: number): ServedVersion | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (version !== undefined) {
      const v = e.versions.get(version);
      return v?.state === 'READY' ? v : undefined;
    }
    let best: ServedVersion | undefined;
    for (const v of e.versions.values()) if (v.state === 'READY' && (!best || v.version > best.version)) best = v;
    return best;
  }

  async inspectImage(model: string, bytes: Uint8Array, opts: { version?: number; subject?: string } = {}): Promise<InspectResult> {
    const { served, release } = await this.acquire(model, opts.version);
    try {
      const r = await served.inspectImage(bytes, opts.subject);
      this.opts.metrics?.observeTimings(served.name, served.version, r.timings);
      return r;
    } finally {
      release();
    }
  }

  async predictRows(model: string, rows: readonly RawRow[], opts: { version?: number } = {}): Promise<Prediction[]> {
    const { served, release } = await this.acquire(model, opts.version);
    try {
      return await served.predictRows(rows);
    } finally {
      release();
    }
  }

  async inferTensors(
    model: string,
    feeds: Readonly<Record<string, Tensor>>,
    opts: { version?: number; outputs?: readonly string[] } = {},
  ): Promise<{ version: number; outputs: Record<string, Tensor>; queue_ms: number; inference_ms: number }> {
    const { served, release } = await this.acquire(model, opts.version);
    try {
      const r = await served.runTensors(feeds, opts.outputs);
      this.opts.metrics?.observeTimings(served.name, served.version, { queue_ms: r.queue_ms, inference_ms: r.inference_ms });
      return { version: served.version, ...r };
    } finally {
      release();
    }
  }

  async manifest(model: string, version?: number): Promise<Manifest> {
    const v = this.pick(model, version);
    if (v) return v.manifest;
    assertModelName(model);
    if (version !== undefined && !(await this.repo.listVersions(model)).includes(version)) {
      throw new LsError('LS_ERR_VERSION_NOT_FOUND', `${model}:${version}`, { subject: model });
    }
    return (await this.repo.readManifest(model, version)).manifest;
  }

  async dispose(): Promise<void> {
    this.closed = true;
    if (this.pollTimer !== undefined) this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    await this.polling;
    for (const e of this.entries.values()) {
      e.wanted = false;
      await this.serial(e, async () => {
        for (const v of e.versions.values()) await v.unload();
        e.versions.clear();
      });
    }
    this.updateGauge();
    await this.pool?.dispose();
  }

  private entry(name: string): ModelEntry {
    let e = this.entries.get(name);
    if (!e) {
      e = { wanted: false, versions: new Map(), failed: new Map(), chain: Promise.resolve() };
      this.entries.set(name, e);
    }
    return e;
  }

  private serial(e: ModelEntry, fn: () => Promise<void>): Promise<void> {
    const run = e.chain.then(fn, fn);
    e.chain = run.catch(() => undefined);
    return run;
  }

  /** Bring one model's loaded versions in line with `wanted` and its version policy. */
  private async reconcile(name: string, e: ModelEntry): Promise<void> {
    let target: number[] = [];
    let onDisk: Set<number> | undefined;
    let exists = true;
    if (e.wanted && !this.closed) {
      // A model folder or version folder removed from the repository is unloaded, as Triton does.
      exists = await this.repo.hasModel(name);
      const available = exists ? await this.repo.listVersions(name) : [];
      onDisk = new Set(available);
      for (const v of [...e.failed.keys()]) if (!onDisk.has(v)) e.failed.delete(v);
      if (exists) target = selectVersions((await this.repo.readManifest(name)).manifest.version_policy, available);
      for (const v of target) {
        if (e.versions.get(v)?.state === 'READY') continue;
        const resolved = withServingThreads(await this.repo.resolve({ name, version: v }));
        const signature = await fileSignature(resolved.modelPath);
        const failed = e.failed.get(v);
        if (failed && failed.signature === signature) continue; // same broken file: do not retry every poll
        const served = new ServedVersion(resolved, { backend: this.backend, clock: this.clock, metrics: this.opts.metrics, preprocess: this.preprocess, ...(this.pool ? { pool: this.pool } : {}) });
        e.versions.set(v, served);
        this.updateGauge();
        try {
          await served.load();
          e.failed.delete(v);
          this.log.info({ model: name, version: v }, 'model version ready');
        } catch (err) {
          e.versions.delete(v);
          e.failed.set(v, { reason: toLsError(err).message, signature });
          this.log.warn({ model: name, version: v, err: toLsError(err).message }, 'model version failed to load');
        }
        this.updateGauge();
      }
    }
    // Unload only after the new versions are READY: requests move over before the old one goes.
    const keep = new Set(target.filter((v) => e.versions.get(v)?.state === 'READY'));
    const hasReadyTarget = keep.size > 0;
    for (const [v, served] of [...e.versions]) {
      if (keep.has(v)) continue;
      // While no target version could load, keep serving the old one rather than nothing.
      if (e.wanted && !hasReadyTarget && served.state === 'READY' && (onDisk?.has(v) ?? true)) continue;
      await served.unload();
      e.versions.delete(v);
      this.log.info({ model: name, version: v }, 'model version unloaded');
      this.updateGauge();
    }
    if (!exists) {
      // Forgotten entirely, so readiness no longer waits for it.
      this.entries.delete(name);
      this.updateGauge();
    }
  }

  private updateGauge(): void {
    const g = this.opts.metrics?.modelsLoaded;
    if (!g) return;
    const counts: Record<string, number> = { LOADING: 0, READY: 0, UNLOADING: 0, UNAVAILABLE: 0 };
    for (const s of this.status()) counts[s.state] = (counts[s.state] ?? 0) + 1;
    for (const [state, n] of Object.entries(counts)) g.set({ state }, n);
  }

  private schedulePoll(): void {
    const ms = this.opts.pollIntervalMs ?? 0;
    if (!(ms > 0) || this.closed) return;
    this.pollTimer = this.clock.setTimeout(() => {
      void this.poll().finally(() => this.schedulePoll());
    }, ms);
  }
}
