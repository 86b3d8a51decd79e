/**
 * The simplest InferenceService: loads each model version on first use and runs requests as they
 * come, without batching. Used by the CLI and by tests of the layers above inference.
 */
import { LsError } from '../core/errors.ts';
import { LoadedModel } from '../pipeline/model.ts';
import type { Prediction } from '../pipeline/post/predict.ts';
import type { RawRow } from '../pipeline/pre/tabular.ts';
import type { ModelRepository } from '../repository/repository.ts';
import type { InferenceBackend } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { InferenceService, InspectResult, ModelVersionStatus } from './inference-service.ts';

export class DirectInferenceService implements InferenceService {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly repo: ModelRepository, private readonly backend: InferenceBackend) {}

  /** The loaded model for name[:version]; concurrent first calls share one load. */
  async get(name: string, version?: number): Promise<LoadedModel> {
    const resolved = await this.repo.resolve(version === undefined ? { name } : { name, version });
    const key = `${resolved.name}:${resolved.version}`;
    let p = this.loaded.get(key);
    if (!p) {
      p = LoadedModel.load(resolved, this.backend);
      this.loaded.set(key, p);
      p.catch(() => this.loaded.delete(key));
    }
    return p;
  }

  async inspectImage(model: string, bytes: Uint8Array, opts: { version?: number; subject?: string } = {}): Promise<InspectResult> {
    const m = await this.get(model, opts.version);
    const t0 = performance.now();
    const [r] = await m.predictImages([{ bytes, subject: opts.subject }], { concurrency: 1 });
    if (!r) throw new LsError('LS_ERR_INTERNAL', 'no result');
    if (!r.ok) throw r.error;
    return { prediction: r.value, timings: { queue_ms: 0, ...r.timings, total_ms: performance.now() - t0 } };
  }

  async predictRows(model: string, rows: readonly RawRow[], opts: { version?: number } = {}): Promise<Prediction[]> {
    return (await this.get(model, opts.version)).predictRows(rows);
  }

  async inferTensors(model: string, feeds: Readonly<Record<string, Tensor>>, opts: { version?: number; outputs?: readonly string[] } = {}) {
    const m = await this.get(model, opts.version);
    return { version: m.version, outputs: await m.infer(feeds, opts.outputs) };
  }

  async manifest(model: string, version?: number): Promise<Manifest> {
    return (await this.get(model, version)).manifest;
  }

  status(): readonly ModelVersionStatus[] {
    return [...this.loaded.keys()].map((k) => {
      const [name, v] = k.split(':');
      return { name: name!, version: Number(v), state: 'READY' as const };
    });
  }

  async dispose(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    for (const p of all) {
      try {
        await (await p).dispose();
      } catch {
        // a model that failed to load has nothing to release
      }
    }
  }
}
