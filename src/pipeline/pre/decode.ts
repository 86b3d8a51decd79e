/** Image decoding (sharp/libvips): the I/O edge of image preprocessing. */
import sharp from 'sharp';
import { LsError } from '../../core/errors.ts';
import type { Image8 } from './opencv.ts';

export type ImageFormat = 'jpeg' | 'png' | 'bmp' | 'tiff' | 'webp';

// libvips in sharp's prebuilt binaries has no BMP loader; BMP is decoded here (see decodeBmp).
const SUPPORTED = new Set(['jpeg', 'png', 'tiff', 'webp', 'bmp']);

/** Identify the format by magic bytes (not by file name or Content-Type). */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))) return 'tiff';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'webp';
  return undefined;
}

/** Throws the right LsError when bytes are empty or not a supported image. */
export function checkImageBytes(bytes: Uint8Array, subject?: string): ImageFormat {
  if (bytes.byteLength === 0) throw new LsError('LS_ERR_IMAGE_EMPTY', undefined, { subject });
  const fmt = sniffFormat(bytes);
  if (!fmt || !SUPPORTED.has(fmt)) throw new LsError('LS_ERR_IMAGE_FORMAT', undefined, { subject });
  return fmt;
}

/** Decode to 8-bit sRGB, 3 interleaved channels (RGB order), EXIF orientation applied like cv2.imread. */
export async function decodeRgb(bytes: Uint8Array, subject?: string): Promise<Image8> {
  const fmt = checkImageBytes(bytes, subject);
  if (fmt === 'bmp') return decodeBmp(bytes, subject);
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: 100_000_000 })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return toThreeChannels(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width, info.height, info.channels);
  } catch (e) {
    throw new LsError('LS_ERR_IMAGE_CORRUPT', (e as Error).message.split('\n')[0], { subject });
  }
}

function toThreeChannels(data: Uint8Array, width: number, height: number, channels: number): Image8 {
  if (channels === 3) return { data, width, height, channels: 3 };
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = data[i * channels]!;
    const g = channels >= 3 ? data[i * channels + 1]! : v;
    const b = channels >= 3 ? data[i * channels + 2]! : v;
    out[i * 3] = v;
    out[i * 3 + 1] = g;
    out[i * 3 + 2] = b;
  }
  return { data: out, width, height, channels: 3 };
}

/**
 * Uncompressed BMP (BI_RGB 24/32-bit, and 8-bit palette), the formats line cameras write.
 * Written here because sharp's prebuilt libvips has no BMP loader.
 */
export function decodeBmp(b: Uint8Array, subject?: string): Image8 {
  const fail = (why: string): never => {
    throw new LsError('LS_ERR_IMAGE_CORRUPT', `BMP: ${why}`, { subject });
  };
  if (b.length < 54) fail('truncated header');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width <= 0 || height <= 0 || width * height > 100_000_000) fail('bad dimensions');
  if (!(compression === 0 || (compression === 3 && bpp === 32))) fail('compressed BMP is not supported');
  if (![8, 24, 32].includes(bpp)) fail(`${bpp}-bit BMP is not supported`);
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > b.length) fail('truncated pixel data');
  let palette: Uint8Array | undefined;
  if (bpp === 8) {
    const colors = dv.getUint32(46, true) || 256;
    palette = b.subarray(14 + headerSize, 14 + headerSize + colors * 4);
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let bl: number, g: number, r: number;
      if (bpp === 8) {
        const idx = b[row + x]! * 4;
        bl = palette![idx] ?? 0; g = palette![idx + 1] ?? 0; r = palette![idx + 2] ?? 0;
      } else {
        const p = row + x * (bpp / 8);
        bl = b[p]!; g = b[p + 1]!; r = b[p + 2]!;
      }
      out[o] = r; out[o + 1] = g; out[o + 2] = bl;
    }
  }
  return { data: out, width, height, channels: 3 };
}
