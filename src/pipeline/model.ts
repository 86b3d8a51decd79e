/**
 * A loaded model version: the spec's four steps (preprocess, load, forward, postprocess) for one
 * model, with its config checked against the ONNX file. Serving, the CLI and the line use this.
 */
import { LsError, toLsError } from '../core/errors.ts';
import type { Disposable } from '../core/dispose.ts';
import type { ImagePreprocess, Manifest, TensorSpec } from '../repository/manifest.ts';
import type { ResolvedModel } from '../repository/repository.ts';
import type { InferenceBackend, InferenceSession, RunOptions } from '../runtime/backend.ts';
import type { IoInfo, Tensor } from '../runtime/tensor.ts';
import { preprocessImage, sampleSize, type SampleData } from './pre/image.ts';
import { tabularFeeds, type RawRow } from './pre/tabular.ts';
import { predictionFromRow, type Prediction } from './post/predict.ts';
import { mapLimit } from '../core/concurrency.ts';

/** Timings of one prediction, in milliseconds. */
export interface StageTimings {
  preprocess_ms: number;
  inference_ms: number;
  postprocess_ms: number;
}

/** Either a prediction or the error for that one input: a batch never fails as a whole for one bad file. */
export type ItemResult<T> = { ok: true; value: T; timings: StageTimings } | { ok: false; error: LsError };

export class LoadedModel implements Disposable {
  private constructor(
    readonly resolved: ResolvedModel,
    readonly session: InferenceSession,
  ) {}

  get name(): string {
    return this.resolved.name;
  }
  get version(): number {
    return this.resolved.version;
  }
  get manifest(): Manifest {
    return this.resolved.manifest;
  }

  /** Load the ONNX file and check its inputs/outputs against config.yaml. */
  static async load(
    resolved: ResolvedModel,
    backend: InferenceBackend,
    opts: { onProviderFallback?: (provider: string, reason: string) => void } = {},
  ): Promise<LoadedModel> {
    const ex = resolved.manifest.execution;
    let session: InferenceSession;
    try {
      session = await backend.load(resolved.modelPath, {
        providers: ex.providers,
        intraOpThreads: ex.intra_op_threads,
        interOpThreads: ex.inter_op_threads,
        onProviderFallback: opts.onProviderFallback,
      });
    } catch (e) {
      throw toLsError(e, 'LS_ERR_MODEL_CORRUPT', resolved.modelPath);
    }
    try {
      checkIo(resolved, session);
    } catch (e) {
      await session.dispose();
      throw e;
    }
    return new LoadedModel(resolved, session);
  }

  /** The image preprocessing spec, or an error if this is not an image model. */
  imageSpec(): ImagePreprocess {
    const p = this.manifest.preprocess;
    if (p.kind !== 'image') throw new LsError('LS_ERR_BAD_REQUEST', `model ${this.name} does not take images`, { subject: this.name });
    return p;
  }

  /** Step 1 for images: bytes -> one sample's tensor data. */
  preprocess(bytes: Uint8Array, subject?: string): Promise<SampleData> {
    return preprocessImage(bytes, this.imageSpec(), subject);
  }

  /** Stack preprocessed image samples into the model's input tensor. */
  stackImages(samples: readonly SampleData[]): Record<string, Tensor> {
    const spec = this.imageSpec();
    const input = this.manifest.inputs[0]!;
    const per = sampleSize(spec);
    const c = spec.color === 'gray' ? 1 : 3;
    const shape = spec.layout === 'NCHW' ? [samples.length, c, spec.height, spec.width] : [samples.length, spec.height, spec.width, c];
    const data = spec.dtype === 'uint8' ? new Uint8Array(per * samples.length) : new Float32Array(per * samples.length);
    samples.forEach((s, i) => data.set(s, i * per));
    return { [input.name]: { datatype: spec.dtype === 'uint8' ? 'UINT8' : 'FP32', shape, data } };
  }

  /** Step 3: the forward pass y = f(x; θ) on a batch. */
  infer(feeds: Readonly<Record<string, Tensor>>, outputNames?: readonly string[], opts?: RunOptions): Promise<Record<string, Tensor>> {
    return this.session.run(feeds, outputNames, opts);
  }

  /** Step 4: one row of a batch output -> prediction and decision. */
  postprocess(outputs: Readonly<Record<string, Tensor>>, row: number): Prediction {
    return predictionFromRow(this.manifest, this.resolved, outputs, row);
  }

  /**
   * All four steps for many images, batched up to max_batch_size, with several images decoding
   * at once (sharp runs one libvips thread per image). Bad images give an error item and the rest go on.
   */
  async predictImages(
    images: ReadonlyArray<{ bytes: Uint8Array; subject?: string } | { error: LsError }>,
    opts: { concurrency?: number; onItem?: (index: number, r: ItemResult<Prediction>) => void } = {},
  ): Promise<ItemResult<Prediction>[]> {
    const batch = Math.max(1, this.manifest.max_batch_size || 1);
    const results: ItemResult<Prediction>[] = new Array(images.length);
    for (let start = 0; start < images.length; start += batch) {
      const chunk = images.slice(start, start + batch);
      const pre: Array<{ data: SampleData; ms: number } | LsError> = await mapLimit(chunk, opts.concurrency ?? 4, async (item) => {
        if ('error' in item) return item.error;
        const t0 = performance.now();
        try {
          const data = await this.preprocess(item.bytes, item.subject);
          return { data, ms: performance.now() - t0 };
        } catch (e) {
          return toLsError(e, 'LS_ERR_IMAGE_CORRUPT', item.subject);
        }
      });
      const good = pre.map((p, i) => [p, i] as const).filter((x): x is readonly [{ data: SampleData; ms: number }, number] => !(x[0] instanceof LsError));
      // batch row of each decoded item (bad items have none)
      const rowOf: number[] = [];
      good.forEach(([, gi], row) => (rowOf[gi] = row));
      let outputs: Record<string, Tensor> | undefined;
      let inferMs = 0;
      let inferError: LsError | undefined;
      if (good.length) {
        const t1 = performance.now();
        try {
          outputs = await this.infer(this.stackImages(good.map(([p]) => p.data)));
        } catch (e) {
          inferError = toLsError(e, 'LS_ERR_INFERENCE', this.name);
        }
        inferMs = (performance.now() - t1) / good.length;
      }
      pre.forEach((p, i) => {
        let r: ItemResult<Prediction>;
        if (p instanceof LsError) r = { ok: false, error: p };
        else if (inferError || !outputs) r = { ok: false, error: inferError ?? new LsError('LS_ERR_INFERENCE') };
        else {
          const row = rowOf[i]!;
          const t2 = performance.now();
          const value = this.postprocess(outputs, row);
          r = { ok: true, value, timings: { preprocess_ms: p.ms, inference_ms: inferMs, postprocess_ms: performance.now() - t2 } };
        }
        results[start + i] = r;
        opts.onItem?.(start + i, r);
      });
    }
    return results;
  }

  /** All four steps for rows of a table (tabular models). */
  async predictRows(rows: readonly RawRow[]): Promise<Prediction[]> {
    const batch = Math.max(1, this.manifest.max_batch_size || rows.length || 1);
    const out: Prediction[] = [];
    for (let start = 0; start < rows.length; start += batch) {
      const chunk = rows.slice(start, start + batch);
      const outputs = await this.infer(tabularFeeds(this.manifest, chunk));
      for (let i = 0; i < chunk.length; i++) out.push(this.postprocess(outputs, i));
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

/** config.yaml inputs/outputs must exist in the ONNX file with the same datatype and compatible shapes. */
export function checkIo(resolved: ResolvedModel, session: { inputs: readonly IoInfo[]; outputs: readonly IoInfo[] }): void {
  const m = resolved.manifest;
  const problems: string[] = [];
  const check = (kind: 'input' | 'output', specs: readonly TensorSpec[], actual: readonly IoInfo[]) => {
    for (const s of specs) {
      const a = actual.find((x) => x.name === s.name);
      if (!a) {
        problems.push(`${kind} "${s.name}" is not in the model (it has: ${actual.map((x) => x.name).join(', ')})`);
        continue;
      }
      if (a.datatype !== s.datatype) problems.push(`${kind} "${s.name}" is ${a.datatype} in the model, ${s.datatype} in config.yaml`);
      const dims = m.max_batch_size > 0 ? a.shape.slice(1) : a.shape;
      const ok = dims.length === s.shape.length && dims.every((d, k) => d === -1 || s.shape[k] === -1 || d === s.shape[k]);
      if (!ok) problems.push(`${kind} "${s.name}" has shape [${a.shape.join(',')}] in the model, [${m.max_batch_size > 0 ? 'batch,' : ''}${s.shape.join(',')}] in config.yaml`);
    }
  };
  check('input', m.inputs, session.inputs);
  check('output', m.outputs, session.outputs);
  if (problems.length) throw new LsError('LS_ERR_MODEL_MISMATCH', problems.join('; '), { subject: resolved.configPath });
}
