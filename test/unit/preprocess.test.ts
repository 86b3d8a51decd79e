import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { preprocessImage, toTensorData } from '../../src/pipeline/pre/image.ts';
import type { ImagePreprocess } from '../../src/repository/manifest.ts';

const base: ImagePreprocess = { kind: 'image', mode: 'opencv', width: 2, height: 1, color: 'rgb', scale: 1 / 255, mean: [0], std: [1], layout: 'NCHW', dtype: 'float32' };
const img = { data: new Uint8Array([10, 20, 30, 40, 50, 60]), width: 2, height: 1, channels: 3 };

describe('tensor layout and normalisation', () => {
  it('writes NCHW planes', () => {
    const t = toTensorData(img, { ...base, scale: 1 });
    expect(Array.from(t)).toEqual([10, 40, 20, 50, 30, 60]);
  });

  it('keeps NHWC interleaved', () => {
    const t = toTensorData(img, { ...base, scale: 1, layout: 'NHWC' });
    expect(Array.from(t)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('applies scale then per-channel mean/std like torchvision Normalize', () => {
    const t = toTensorData(img, { ...base, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(t[0]).toBeCloseTo((10 / 255 - 0.485) / 0.229, 5);
    expect(t[3]).toBeCloseTo((50 / 255 - 0.456) / 0.224, 5);
    expect(t[5]).toBeCloseTo((60 / 255 - 0.406) / 0.225, 5);
  });

  it('passes uint8 through for models that take raw bytes', () => {
    const t = toTensorData(img, { ...base, dtype: 'uint8' });
    expect(t).toBeInstanceOf(Uint8Array);
    expect(Array.from(t)).toEqual([10, 40, 20, 50, 30, 60]);
  });
});

describe('opencv vs fast mode', () => {
  it('fast (libvips, linear-light grey) differs visibly from the cv2 pipeline the model was trained with', async () => {
    const bytes = readFileSync(new URL('../fixtures/color-640x480.png', import.meta.url));
    const spec: ImagePreprocess = { ...base, width: 224, height: 224, color: 'gray', scale: 1 };
    const cv = await preprocessImage(bytes, spec);
    const fast = await preprocessImage(bytes, { ...spec, mode: 'fast' });
    expect(cv.length).toBe(224 * 224);
    expect(fast.length).toBe(224 * 224);
    let max = 0;
    for (let i = 0; i < cv.length; i++) max = Math.max(max, Math.abs(cv[i]! - fast[i]!));
    // This is the training/serving skew the opencv mode exists to prevent.
    expect(max).toBeGreaterThan(5);
  });
});
