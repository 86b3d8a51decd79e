import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { LsError } from '../../src/core/errors.ts';
import { decodeBmp, decodeRgb, sniffFormat } from '../../src/pipeline/pre/decode.ts';

const jpeg = readFileSync(new URL('../fixtures/neu/scratches_1.jpg', import.meta.url));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(LsError);
    return (e as LsError).code;
  }
}

describe('image decoding', () => {
  it('sniffs formats from magic bytes', async () => {
    expect(sniffFormat(jpeg)).toBe('jpeg');
    expect(sniffFormat(await sharp(jpeg).png().toBuffer())).toBe('png');
    expect(sniffFormat(await sharp(jpeg).tiff().toBuffer())).toBe('tiff');
    expect(sniffFormat(new TextEncoder().encode('GIF89a....'))).toBeUndefined();
  });

  it('decodes JPEG, PNG and TIFF to the same 3-channel pixels', async () => {
    const a = await decodeRgb(jpeg);
    const png = await decodeRgb(await sharp(jpeg).png().toBuffer());
    const tiff = await decodeRgb(await sharp(jpeg).tiff({ compression: 'lzw' }).toBuffer());
    expect([a.width, a.height, a.channels]).toEqual([200, 200, 3]);
    expect(Buffer.compare(Buffer.from(png.data), Buffer.from(a.data))).toBe(0);
    expect(Buffer.compare(Buffer.from(tiff.data), Buffer.from(a.data))).toBe(0);
  });

  it('expands single-channel images to three equal channels', async () => {
    const gray = await sharp(jpeg).grayscale().png().toBuffer();
    const img = await decodeRgb(gray);
    expect(img.channels).toBe(3);
    expect(img.data[0]).toBe(img.data[1]);
    expect(img.data[1]).toBe(img.data[2]);
  });

  it('decodes a 24-bit BMP written by OpenCV like the PNG of the same pixels', async () => {
    const bmp = readFileSync(new URL('../fixtures/color-317x233.bmp', import.meta.url));
    const img = decodeBmp(bmp);
    expect([img.width, img.height]).toEqual([317, 233]);
    const viaSharp = await sharp(Buffer.from(img.data), { raw: { width: 317, height: 233, channels: 3 } }).png().toBuffer();
    const back = await decodeRgb(viaSharp);
    expect(Buffer.compare(Buffer.from(back.data), Buffer.from(img.data))).toBe(0);
  });

  it('gives a stable code for each kind of bad image', async () => {
    expect(await codeOf(decodeRgb(new Uint8Array()))).toBe('LS_ERR_IMAGE_EMPTY');
    expect(await codeOf(decodeRgb(new TextEncoder().encode('{"not": "an image"}')))).toBe('LS_ERR_IMAGE_FORMAT');
    expect(await codeOf(decodeRgb(jpeg.subarray(0, Math.floor(jpeg.length / 2))))).toBe('LS_ERR_IMAGE_CORRUPT');
    const garbage = Buffer.concat([jpeg.subarray(0, 4), Buffer.alloc(500, 7)]);
    expect(await codeOf(decodeRgb(garbage))).toBe('LS_ERR_IMAGE_CORRUPT');
    const bmp = readFileSync(new URL('../fixtures/color-317x233.bmp', import.meta.url));
    expect(await codeOf(decodeRgb(bmp.subarray(0, 1000)))).toBe('LS_ERR_IMAGE_CORRUPT');
  });

  it('names the file at fault', async () => {
    const e = await decodeRgb(new Uint8Array(), 'cam1/part-17.jpg').catch((x: LsError) => x);
    expect((e as LsError).toLine()).toContain('(cam1/part-17.jpg)');
  });
});
