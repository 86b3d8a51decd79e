import { describe, expect, it } from 'vitest';
import { activationParams, quantizeBias, quantizeWeightsSymmetric, RangeHistogram, updateRange } from '../../src/onnx/quant-math.ts';

describe('quantization arithmetic', () => {
  it('uint8 parameters always represent 0 exactly', () => {
    const relu = activationParams({ min: 0, max: 2.55 });
    expect(relu.scale).toBeCloseTo(0.01, 12);
    expect(relu.zeroPoint).toBe(0);
    const p = activationParams({ min: -1, max: 3 });
    expect(p.scale).toBeCloseTo(4 / 255, 9);
    expect(p.zeroPoint).toBe(64);
    // A range not containing 0 is widened to include it.
    expect(activationParams({ min: 1, max: 2 })).toEqual({ scale: 2 / 255, zeroPoint: 0 });
    expect(activationParams({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('per-channel symmetric weights round-trip within half a step per channel', () => {
    const w = Float32Array.from([0.5, -0.25, 0.1, 0.01, 10, -3, 2, 0]);
    const { q, scales } = quantizeWeightsSymmetric(w, [2, 4], 0);
    expect(scales.length).toBe(2);
    expect(scales[0]).toBeCloseTo(0.5 / 127, 7);
    expect(scales[1]).toBeCloseTo(10 / 127, 6);
    expect(Math.max(...q)).toBe(127);
    for (let i = 0; i < w.length; i++) expect(Math.abs(q[i]! * scales[i < 4 ? 0 : 1]! - w[i]!)).toBeLessThanOrEqual(scales[i < 4 ? 0 : 1]! / 2 + 1e-9);
  });

  it('per-column weights (axis 1) and per-tensor weights', () => {
    const w = Float32Array.from([1, 100, -2, 50]); // [2, 2]: columns (1, -2) and (100, 50)
    const col = quantizeWeightsSymmetric(w, [2, 2], 1);
    expect(col.scales[0]).toBeCloseTo(2 / 127, 7);
    expect(col.scales[1]).toBeCloseTo(100 / 127, 5);
    const all = quantizeWeightsSymmetric(w, [2, 2], undefined);
    expect(all.scales.length).toBe(1);
    expect(all.q[1]).toBe(127);
  });

  it('int32 bias scale is input scale × weight scale', () => {
    const { q, scales } = quantizeBias(Float32Array.of(1, -1), 0.5, Float32Array.of(0.01, 0.1));
    expect(scales[0]).toBeCloseTo(0.005, 7);
    expect(q[0]).toBe(200);
    expect(q[1]).toBe(-20);
  });

  it('percentile clipping drops outliers that min-max keeps', () => {
    const data = new Float32Array(100_000);
    for (let i = 0; i < data.length; i++) data[i] = (i % 1000) / 1000; // uniform 0..1
    data[0] = 50; // one outlier
    const r = updateRange(undefined, data);
    expect(r.max).toBe(50);
    const h = new RangeHistogram(r);
    h.add(data);
    const clipped = h.clip(99.9);
    expect(clipped.max).toBeLessThan(1.1);
    expect(clipped.min).toBeLessThanOrEqual(0.05);
  });
});
