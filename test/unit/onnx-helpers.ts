/** Shared helpers of the graph-tool tests: run a model, read the graph onnxruntime actually executes. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { opCounts } from '../../src/onnx/check.ts';
import { decodeModel } from '../../src/onnx/proto.ts';
import { getBackend } from '../../src/runtime/index.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';

/** Run a model once on the feeds and return its float outputs. */
export async function run(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const backend = await getBackend();
  const s = await backend.load(bytes, { intraOpThreads: 1 });
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.dispose();
  }
}

/** The operators of the graph after onnxruntime's optimizations (session option optimizedModelFilePath). */
export async function engineOps(bytes: Uint8Array): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-engine-'));
  try {
    const file = path.join(dir, 'optimized.onnx');
    const backend = await getBackend();
    const s = await backend.load(bytes, { intraOpThreads: 1, optimizedModelPath: file });
    await s.dispose();
    return opCounts(decodeModel(readFileSync(file)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Index of the largest value in each row of a [rows, width] array. */
export function argmaxRows(data: Float32Array, width: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < data.length / width; r++) {
    let best = 0;
    for (let k = 1; k < width; k++) if (data[r * width + k]! > data[r * width + best]!) best = k;
    out.push(best);
  }
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Spread of the values (max − min), to express tolerances relative to the output's scale. */
export function spread(a: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi - lo;
}
