/**
 * Image embeddings from a model's `embedding` output (the backbone of an inspection model): used
 * by fine-tuning and by label-error search on image folders.
 */
import { LsError, toLsError } from '../core/errors.ts';
import { mapLimit } from '../core/concurrency.ts';
import type { LoadedModel } from '../pipeline/model.ts';
import { promises as fs } from 'node:fs';

/** Embeddings of the readable images, row-major, with the failures listed. */
export interface Embeddings {
  /** Row-major [rows × dim] for the files that could be read. */
  readonly data: Float64Array;
  readonly rows: number;
  readonly dim: number;
  /** Index into the input list of each row. */
  readonly index: readonly number[];
  readonly failed: ReadonlyArray<{ file: string; code: string; error: string }>;
}

async function readImageBytes(file: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LsError(code === 'ENOENT' ? 'LS_ERR_FILE_NOT_FOUND' : 'LS_ERR_FILE_READ', code, { subject: file });
  }
}

/** Run the model to its embedding output for every file; unreadable images are listed, not fatal. */
export async function extractEmbeddings(model: LoadedModel, files: readonly string[], output = 'embedding', onProgress?: (done: number) => void): Promise<Embeddings> {
  if (!model.manifest.outputs.some((o) => o.name === output) && !model.session.outputs.some((o) => o.name === output)) {
    throw new LsError('LS_ERR_MODEL_MISMATCH', `model ${model.name} has no "${output}" output (outputs: ${model.session.outputs.map((o) => o.name).join(', ')})`, { subject: model.name });
  }
  const batch = Math.max(1, Math.min(32, model.manifest.max_batch_size || 1));
  const rows: Float32Array[] = [];
  const index: number[] = [];
  const failed: Array<{ file: string; code: string; error: string }> = [];
  let dim = 0;
  for (let s = 0; s < files.length; s += batch) {
    const chunk = files.slice(s, s + batch);
    const pre = await mapLimit(chunk, 4, async (file) => {
      try {
        return await model.preprocess(await readImageBytes(file), file);
      } catch (e) {
        const err = toLsError(e, 'LS_ERR_IMAGE_CORRUPT', file);
        failed.push({ file, code: err.code, error: err.message });
        return undefined;
      }
    });
    const good = pre.map((p, i) => [p, i] as const).filter((x): x is readonly [NonNullable<(typeof pre)[number]>, number] => x[0] !== undefined);
    if (good.length) {
      const out = await model.infer(model.stackImages(good.map(([p]) => p)), [output]);
      const t = out[output];
      if (!t || t.datatype !== 'FP32') throw new LsError('LS_ERR_MODEL_MISMATCH', `output "${output}" is not FP32`, { subject: model.name });
      const per = (t.data as Float32Array).length / good.length;
      dim = per;
      good.forEach(([, i], j) => {
        rows.push((t.data as Float32Array).slice(j * per, (j + 1) * per));
        index.push(s + i);
      });
    }
    onProgress?.(Math.min(files.length, s + batch));
  }
  const data = new Float64Array(rows.length * dim);
  rows.forEach((r, i) => data.set(r, i * dim));
  return { data, rows: rows.length, dim, index, failed };
}

/** Per-dimension mean and standard deviation (std 1 for constant dimensions). */
export function columnStats(data: Float64Array, rows: number, dim: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) mean[d]! += data[r * dim + d]! / rows;
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) std[d]! += (data[r * dim + d]! - mean[d]!) ** 2 / rows;
  for (let d = 0; d < dim; d++) std[d] = std[d]! > 1e-12 ? Math.sqrt(std[d]!) : 1;
  return { mean, std };
}

/** (x − mean) / std per dimension, as a new array. */
export function standardize(data: Float64Array, rows: number, dim: number, s: { mean: Float64Array; std: Float64Array }): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) out[r * dim + d] = (data[r * dim + d]! - s.mean[d]!) / s.std[d]!;
  return out;
}
