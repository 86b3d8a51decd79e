/**
 * Activation ranges for static quantization: run calibration inputs through the float model with
 * the tensors of interest exposed as extra outputs, and record min-max (or a percentile range).
 */
import { LsError } from '../core/errors.ts';
import type { InferenceBackend } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { graphOf, graphOutputNames } from './graph.ts';
import { DataType, decodeModel, encodeModel, type ModelProto } from './proto.ts';
import { RangeHistogram, updateRange, type Range } from './quant-math.ts';

/** How activation ranges are taken from the calibration data. */
export type CalibrationMethod = 'minmax' | 'percentile';

/** How to calibrate, and the session settings of the calibration runs. */
export interface CalibrationOptions {
  readonly method: CalibrationMethod;
  /** For `percentile`: the share of values kept, e.g. 99.99. */
  readonly percentile?: number;
  /** Session options for the calibration runs. */
  readonly intraOpThreads?: number;
}

/** Run the batches through `model` and return the range of every tensor in `tensors`. */
export async function calibrateRanges(
  model: ModelProto,
  tensors: readonly string[],
  batches: ReadonlyArray<Readonly<Record<string, Tensor>>>,
  backend: InferenceBackend,
  opts: CalibrationOptions,
): Promise<Map<string, Range>> {
  if (batches.length === 0) throw new LsError('LS_ERR_DATASET', 'static quantization needs at least one calibration input');
  const probe = decodeModel(encodeModel(model));
  const g = graphOf(probe);
  const existing = graphOutputNames(g);
  for (const t of tensors) {
    // No shape: the engine infers it; only the element type is declared.
    if (!existing.has(t)) g.output!.push({ name: t, type: { tensorType: { elemType: DataType.FLOAT } } });
  }
  const session = await backend.load(encodeModel(probe), { intraOpThreads: opts.intraOpThreads });
  const inputs = new Set(session.inputs.map((i) => i.name));
  const ranges = new Map<string, Range>();
  try {
    const wanted = tensors.filter((t) => !inputs.has(t));
    const observe = async (visit: (name: string, data: Float32Array) => void): Promise<void> => {
      for (const feeds of batches) {
        for (const t of tensors) if (inputs.has(t)) visit(t, asFloat(feeds[t], t));
        const out = wanted.length ? await session.run(feeds, wanted) : {};
        for (const t of wanted) visit(t, asFloat(out[t], t));
      }
    };
    await observe((name, data) => ranges.set(name, updateRange(ranges.get(name), data)));
    if (opts.method === 'percentile') {
      const hists = new Map([...ranges].map(([k, r]) => [k, new RangeHistogram(r)]));
      await observe((name, data) => hists.get(name)!.add(data));
      for (const [k, h] of hists) ranges.set(k, h.clip(opts.percentile ?? 99.99));
    }
  } finally {
    await session.dispose();
  }
  return ranges;
}

function asFloat(t: Tensor | undefined, name: string): Float32Array {
  if (!t || !(t.data instanceof Float32Array)) throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `tensor ${name} is not float32; it cannot be quantized`);
  return t.data;
}

/**
 * Mean of every channel (axis 1) of the given NCHW/NC tensors over the batches: what structured
 * pruning adds to the next layer's bias in place of a removed channel.
 */
export async function channelMeans(
  model: ModelProto,
  tensors: readonly string[],
  batches: ReadonlyArray<Readonly<Record<string, Tensor>>>,
  backend: InferenceBackend,
  intraOpThreads?: number,
): Promise<Map<string, Float64Array>> {
  if (batches.length === 0 || tensors.length === 0) return new Map();
  const probe = decodeModel(encodeModel(model));
  const g = graphOf(probe);
  const existing = graphOutputNames(g);
  for (const t of tensors) if (!existing.has(t)) g.output!.push({ name: t, type: { tensorType: { elemType: DataType.FLOAT } } });
  const session = await backend.load(encodeModel(probe), { intraOpThreads });
  const sums = new Map<string, { sum: Float64Array; n: number }>();
  try {
    for (const feeds of batches) {
      const out = await session.run(feeds, [...tensors]);
      for (const t of tensors) {
        const v = out[t];
        const data = asFloat(v, t);
        const [n = 1, c = 1] = v!.shape;
        const inner = data.length / (n * c);
        const acc = sums.get(t) ?? { sum: new Float64Array(c), n: 0 };
        for (let b = 0; b < n; b++)
          for (let k = 0; k < c; k++) {
            let s = 0;
            const off = (b * c + k) * inner;
            for (let j = 0; j < inner; j++) s += data[off + j]!;
            acc.sum[k]! += s / inner;
          }
        acc.n += n;
        sums.set(t, acc);
      }
    }
  } finally {
    await session.dispose();
  }
  return new Map([...sums].map(([t, a]) => [t, a.sum.map((s) => s / Math.max(1, a.n))]));
}
