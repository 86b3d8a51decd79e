/**
 * Merging requests into one batch tensor and splitting the batch outputs back, along dimension 0.
 * Pure functions on typed arrays.
 */
import { LsError } from '../core/errors.ts';
import type { Tensor, TensorData } from '../runtime/tensor.ts';

type Typed = Exclude<TensorData, string[]>;

/** A key that is equal for requests whose tensors can be stacked (same names, datatypes, non-batch dims). */
export function batchKey(feeds: Readonly<Record<string, Tensor>>, outputs?: readonly string[]): string {
  const parts = Object.keys(feeds)
    .sort()
    .map((k) => `${k}:${feeds[k]!.datatype}:${feeds[k]!.shape.slice(1).join('x')}`);
  return `${parts.join('|')}>${outputs ? [...outputs].sort().join(',') : '*'}`;
}

/** Concatenate the same-named tensors of several requests along dimension 0. */
export function concatFeeds(items: ReadonlyArray<Readonly<Record<string, Tensor>>>): Record<string, Tensor> {
  const first = items[0];
  if (!first) throw new LsError('LS_ERR_INTERNAL', 'empty batch');
  if (items.length === 1) return { ...first };
  const out: Record<string, Tensor> = {};
  for (const name of Object.keys(first)) {
    const parts = items.map((f) => {
      const t = f[name];
      if (!t) throw new LsError('LS_ERR_INTERNAL', `input ${name} missing from a batched request`);
      return t;
    });
    const t0 = parts[0]!;
    const rows = parts.reduce((a, t) => a + (t.shape[0] ?? 1), 0);
    const shape = [rows, ...t0.shape.slice(1)];
    if (Array.isArray(t0.data)) {
      out[name] = { datatype: t0.datatype, shape, data: parts.flatMap((t) => t.data as string[]) };
      continue;
    }
    const total = parts.reduce((a, t) => a + t.data.length, 0);
    const Ctor = (t0.data as Typed).constructor as new (n: number) => Typed;
    const data = new Ctor(total);
    let off = 0;
    for (const t of parts) {
      (data as unknown as { set(a: ArrayLike<number | bigint>, o: number): void }).set(t.data as Typed, off);
      off += t.data.length;
    }
    out[name] = { datatype: t0.datatype, shape, data };
  }
  return out;
}

/** Split batch outputs into one record per request of `rows[i]` rows each. */
export function splitOutputs(outputs: Readonly<Record<string, Tensor>>, rows: readonly number[]): Array<Record<string, Tensor>> {
  if (rows.length === 1) return [{ ...outputs }];
  const total = rows.reduce((a, b) => a + b, 0);
  const result: Array<Record<string, Tensor>> = rows.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.shape[0] !== total) {
      throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `output ${name} has first dimension ${t.shape[0]}, not the batch size ${total}; set max_batch_size: 0`);
    }
    const per = total === 0 ? 0 : t.data.length / total;
    let row = 0;
    rows.forEach((n, i) => {
      const start = row * per;
      const end = (row + n) * per;
      const data = Array.isArray(t.data) ? t.data.slice(start, end) : (t.data as Typed).subarray(start, end);
      result[i]![name] = { datatype: t.datatype, shape: [n, ...t.shape.slice(1)], data };
      row += n;
    });
  }
  return result;
}
