/**
 * The arithmetic of int8 quantization, on typed arrays: activation ranges (min-max and percentile),
 * asymmetric uint8 parameters, symmetric per-channel int8 weights and int32 biases.
 */

/** Observed range of one activation tensor. */
export interface Range {
  min: number;
  max: number;
}

/** Quantization parameters of a uint8 activation: real = (q − zeroPoint) · scale. */
export interface ActParams {
  readonly scale: number;
  readonly zeroPoint: number;
}

/** uint8 parameters covering a range that always includes 0 (so padding and ReLU zeros are exact). */
export function activationParams(r: Range): ActParams {
  const lo = Math.min(0, r.min);
  const hi = Math.max(0, r.max);
  if (!(hi > lo) || !Number.isFinite(hi - lo)) return { scale: 1, zeroPoint: 0 };
  const scale = (hi - lo) / 255;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** Fold a batch of values into a running min-max range. */
export function updateRange(r: Range | undefined, data: Float32Array): Range {
  let min = r?.min ?? Infinity;
  let max = r?.max ?? -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** A fixed-range histogram for the percentile calibration method. */
export class RangeHistogram {
  readonly counts: Float64Array;
  total = 0;
  constructor(readonly range: Range, readonly bins = 2048) {
    this.counts = new Float64Array(bins);
  }

  add(data: Float32Array): void {
    const { min, max } = this.range;
    const width = max - min;
    if (!(width > 0)) {
      this.total += data.length;
      this.counts[0]! += data.length;
      return;
    }
    const k = this.bins / width;
    for (let i = 0; i < data.length; i++) {
      let b = Math.floor((data[i]! - min) * k);
      if (b < 0) b = 0;
      else if (b >= this.bins) b = this.bins - 1;
      this.counts[b]!++;
    }
    this.total += data.length;
  }

  /** The range holding all but (100 − p)% of the values, split evenly between both tails. */
  clip(percentile: number): Range {
    const { min, max } = this.range;
    if (!(max > min) || this.total === 0) return { min, max };
    const tail = ((100 - percentile) / 100 / 2) * this.total;
    const width = (max - min) / this.bins;
    let acc = 0;
    let lo = 0;
    while (lo < this.bins - 1 && acc + this.counts[lo]! <= tail) acc += this.counts[lo++]!;
    acc = 0;
    let hi = this.bins - 1;
    while (hi > lo && acc + this.counts[hi]! <= tail) acc += this.counts[hi--]!;
    return { min: min + lo * width, max: min + (hi + 1) * width };
  }
}

/** Symmetric int8 weights, one scale per slice along `axis` (axis 0 for Conv, per tensor when axis is undefined). */
export function quantizeWeightsSymmetric(
  w: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(w.length);
  if (axis === undefined) {
    let m = 0;
    for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(w[i]!));
    const s = m > 0 ? m / 127 : 1;
    for (let i = 0; i < w.length; i++) q[i] = clampInt(Math.round(w[i]! / s), -127, 127);
    return { q, scales: Float32Array.of(s) };
  }
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const outer = dims.slice(0, axis).reduce((a, d) => a * d, 1);
  const max = new Float64Array(channels);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++)
      for (let j = 0; j < inner; j++) {
        const v = Math.abs(w[(o * channels + c) * inner + j]!);
        if (v > max[c]!) max[c] = v;
      }
  // Round-trip through float32 so the scale the engine reads is the scale the integers were made with.
  const scales = Float32Array.from(max, (m) => (m > 0 ? m / 127 : 1));
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      for (let j = 0; j < inner; j++) {
        const i = (o * channels + c) * inner + j;
        q[i] = clampInt(Math.round(w[i]! / s), -127, 127);
      }
    }
  return { q, scales };
}

/** int32 bias with scale inputScale × weightScale[c], as onnxruntime's integer kernels expect. */
export function quantizeBias(b: Float32Array, inputScale: number, weightScales: Float32Array): { q: Int32Array; scales: Float32Array } {
  const scales = new Float32Array(b.length);
  const q = new Int32Array(b.length);
  for (let c = 0; c < b.length; c++) {
    const s = Math.fround(inputScale * (weightScales.length === 1 ? weightScales[0]! : weightScales[c]!));
    scales[c] = s;
    q[c] = clampInt(Math.round(b[c]! / s), -2147483647, 2147483647);
  }
  return { q, scales };
}

function clampInt(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
