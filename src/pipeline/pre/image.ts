/**
 * Image preprocessing: bytes -> one sample's input tensor data, as config.yaml's `preprocess` says.
 * `opencv` mode decodes to sRGB and resizes/converts in TypeScript exactly like cv2;
 * `fast` mode lets libvips resize and convert (only for models trained that way).
 */
import sharp, { type Sharp } from 'sharp';
import { LsError } from '../../core/errors.ts';
import type { ImagePreprocess } from '../../repository/manifest.ts';
import { checkImageBytes, decodeRgb } from './decode.ts';
import { resizeLinear, swapRB, toGray, type Image8 } from './opencv.ts';

export type SampleData = Float32Array | Uint8Array;

/** Number of values of one preprocessed sample. */
export function sampleSize(spec: ImagePreprocess): number {
  return spec.width * spec.height * (spec.color === 'gray' ? 1 : 3);
}

/** Resize and colour-convert a decoded RGB image the way OpenCV does (pure). */
export function opencvResizeColor(rgb: Image8, spec: ImagePreprocess): Image8 {
  // cv2 resizes the 3-channel BGR image first, then converts; the order matters for the result.
  const resized = resizeLinear(rgb, spec.width, spec.height);
  if (spec.color === 'gray') return toGray(resized, 'rgb');
  if (spec.color === 'bgr') return swapRB(resized);
  return resized;
}

/** 8-bit interleaved pixels -> tensor data in the configured layout, dtype, scale and mean/std (pure). */
export function toTensorData(img: Image8, spec: ImagePreprocess): SampleData {
  const c = img.channels;
  const hw = img.width * img.height;
  if (spec.dtype === 'uint8') {
    if (spec.layout === 'NHWC' || c === 1) return img.data.slice();
    const out = new Uint8Array(hw * c);
    for (let i = 0; i < hw; i++) for (let k = 0; k < c; k++) out[k * hw + i] = img.data[i * c + k]!;
    return out;
  }
  const out = new Float32Array(hw * c);
  // A lookup table per channel: 256 entries replace a multiply-add per pixel.
  const lut: Float32Array[] = [];
  for (let k = 0; k < c; k++) {
    const mean = spec.mean[k] ?? spec.mean[0] ?? 0;
    const std = spec.std[k] ?? spec.std[0] ?? 1;
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(v * spec.scale) - mean) / std;
    lut.push(t);
  }
  const d = img.data;
  if (spec.layout === 'NHWC') {
    for (let i = 0; i < hw * c; i++) out[i] = lut[i % c]![d[i]!]!;
  } else {
    for (let k = 0; k < c; k++) {
      const t = lut[k]!;
      const off = k * hw;
      for (let i = 0; i < hw; i++) out[off + i] = t[d[i * c + k]!]!;
    }
  }
  return out;
}

/** Decode and preprocess one image into one sample's tensor data. */
export async function preprocessImage(bytes: Uint8Array, spec: ImagePreprocess, subject?: string): Promise<SampleData> {
  if (spec.mode === 'fast') return toTensorData(await fastResizeColor(bytes, spec, subject), spec);
  const rgb = await decodeRgb(bytes, subject);
  return toTensorData(opencvResizeColor(rgb, spec), spec);
}

/** libvips resize + colour conversion (shrink-on-load for JPEG; linear-light grayscale). */
async function fastResizeColor(bytes: Uint8Array, spec: ImagePreprocess, subject?: string): Promise<Image8> {
  const fmt = checkImageBytes(bytes, subject);
  if (fmt === 'bmp') {
    // libvips cannot read BMP: decode here, then let sharp resize the raw pixels.
    const rgb = await decodeRgb(bytes, subject);
    return runFast(sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } }), spec, subject);
  }
  return runFast(sharp(bytes, { failOn: 'error' }).rotate(), spec, subject);
}

async function runFast(img: Sharp, spec: ImagePreprocess, subject?: string): Promise<Image8> {
  try {
    let p = img.removeAlpha().resize(spec.width, spec.height, { fit: 'fill', kernel: 'linear' });
    p = spec.color === 'gray' ? p.grayscale() : p.toColourspace('srgb');
    const { data, info } = await p.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const out: Image8 = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
    return spec.color === 'bgr' ? swapRB(out) : out;
  } catch (e) {
    throw new LsError('LS_ERR_IMAGE_CORRUPT', (e as Error).message.split('\n')[0], { subject });
  }
}
