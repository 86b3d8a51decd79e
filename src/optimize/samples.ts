/**
 * Inputs for calibration, benchmarking and accuracy checks: image files preprocessed exactly as the
 * model's config.yaml says, stacked into batches; deterministic synthetic inputs for other models.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LsError } from '../core/errors.ts';
import { mapLimit } from '../core/concurrency.ts';
import { isImageFile } from '../data/readers/image-folder.ts';
import { preprocessImage, sampleSize, type SampleData } from '../pipeline/pre/image.ts';
import type { ImagePreprocess, Manifest } from '../repository/manifest.ts';
import type { IoInfo, Tensor } from '../runtime/tensor.ts';
import { tabularFeeds, type RawRow } from '../pipeline/pre/tabular.ts';

/** An image file with the class named by its folder (when there is one). */
export interface ImageFile {
  readonly path: string;
  readonly label?: string;
}

/** A preprocessed sample. */
export interface Sample {
  readonly file: string;
  readonly label?: string;
  readonly data: SampleData;
}

/**
 * Images in DIR or DIR/<class>/ (sorted). With `limit`, an evenly spaced subset so every class is represented.
 */
export async function listImageFiles(dir: string, limit?: number): Promise<ImageFile[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    throw new LsError('LS_ERR_FILE_NOT_FOUND', dir, { subject: dir });
  }
  const files: ImageFile[] = [];
  const byName = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });
  for (const e of entries.filter((x) => x.isFile() && isImageFile(x.name)).map((x) => x.name).sort(byName)) files.push({ path: path.join(dir, e) });
  for (const d of entries.filter((x) => x.isDirectory()).map((x) => x.name).sort(byName)) {
    const inner = (await fs.readdir(path.join(dir, d))).filter(isImageFile).sort(byName);
    for (const f of inner) files.push({ path: path.join(dir, d, f), label: d });
  }
  if (!files.length) throw new LsError('LS_ERR_DATASET', `no images in ${dir} or its class folders`, { subject: dir });
  return limit ? evenlySpaced(files, limit) : files;
}

/** At most `n` items evenly spaced over the list (so every class of a sorted list is represented). */
export function evenlySpaced<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)]!);
}

/** The image preprocessing of a model, or a clear error for models that do not take images. */
export function imageSpecOf(manifest: Manifest): ImagePreprocess {
  if (manifest.preprocess.kind !== 'image') {
    throw new LsError('LS_ERR_VALIDATION', `model ${manifest.name} does not take images (preprocess: ${manifest.preprocess.kind}); use --dynamic int8 and no --calib/--eval images`);
  }
  return manifest.preprocess;
}

/** Read and preprocess image files (several at once); an unreadable image stops with its name. */
export async function loadSamples(files: readonly ImageFile[], spec: ImagePreprocess): Promise<Sample[]> {
  return mapLimit(files, 4, async (f) => {
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(f.path);
    } catch {
      throw new LsError('LS_ERR_FILE_READ', undefined, { subject: f.path });
    }
    return { file: f.path, ...(f.label !== undefined ? { label: f.label } : {}), data: await preprocessImage(bytes, spec, f.path) };
  });
}

/** Stack samples into one input tensor for `inputName`. */
export function stackSamples(samples: readonly Sample[], spec: ImagePreprocess, inputName: string): Record<string, Tensor> {
  const per = sampleSize(spec);
  const c = spec.color === 'gray' ? 1 : 3;
  const n = samples.length;
  const shape = spec.layout === 'NCHW' ? [n, c, spec.height, spec.width] : [n, spec.height, spec.width, c];
  if (spec.dtype === 'uint8') {
    const data = new Uint8Array(per * n);
    samples.forEach((s, i) => data.set(s.data, i * per));
    return { [inputName]: { datatype: 'UINT8', shape, data } };
  }
  const data = new Float32Array(per * n);
  samples.forEach((s, i) => data.set(s.data, i * per));
  return { [inputName]: { datatype: 'FP32', shape, data } };
}

/** Split samples into feeds of at most `batch` samples. */
export function batchesOf(samples: readonly Sample[], spec: ImagePreprocess, inputName: string, batch: number): Array<Record<string, Tensor>> {
  const out: Array<Record<string, Tensor>> = [];
  for (let i = 0; i < samples.length; i += batch) out.push(stackSamples(samples.slice(i, i + batch), spec, inputName));
  return out;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Feeds of `batch` synthetic rows for a tabular model: values inside each feature's range, categories in turn. */
export function syntheticRows(manifest: Manifest, batch: number, seed = 1): Record<string, Tensor> {
  if (manifest.preprocess.kind !== 'tabular') throw new LsError('LS_ERR_INTERNAL', 'not a tabular model');
  const next = lcg(seed);
  const features = manifest.preprocess.features;
  const rows: RawRow[] = Array.from({ length: batch }, (_, r) =>
    Object.fromEntries(features.map((f) => {
      if (f.type === 'categorical') return [f.name, f.categories?.[r % Math.max(1, f.categories.length)] ?? ''];
      const lo = f.min ?? 0;
      const hi = f.max ?? lo + 1;
      return [f.name, lo + next() * (hi - lo)];
    })),
  );
  return tabularFeeds(manifest, rows);
}

/** Feeds of `batch` rows for any model with FP32 inputs, from a seeded generator. */
export function syntheticFeeds(inputs: readonly IoInfo[], batch: number, seed = 1): Record<string, Tensor> {
  const next = lcg(seed);
  const feeds: Record<string, Tensor> = {};
  for (const i of inputs) {
    const shape = i.shape.map((d, k) => (d < 0 ? (k === 0 ? batch : 1) : d));
    const n = shape.reduce((a, d) => a * d, 1);
    if (i.datatype !== 'FP32') throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `input ${i.name} is ${i.datatype}; only FP32 inputs can be synthesised for benchmarking`);
    feeds[i.name] = { datatype: 'FP32', shape, data: Float32Array.from({ length: n }, () => next() * 2 - 1) };
  }
  return feeds;
}
