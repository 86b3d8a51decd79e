import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeRgb } from '../../src/pipeline/pre/decode.ts';
import { opencvResizeColor } from '../../src/pipeline/pre/image.ts';
import { resizeLinear, toGray } from '../../src/pipeline/pre/opencv.ts';
import type { ImagePreprocess } from '../../src/repository/manifest.ts';

const fx = (p: string) => new URL(`../fixtures/${p}`, import.meta.url);

interface Case { file: string; width: number; height: number; mode?: 'gray' | 'rgb'; base64?: string; gray_base64?: string; rgb_base64?: string }

const spec = (width: number, height: number, color: 'gray' | 'rgb'): ImagePreprocess => ({
  kind: 'image', mode: 'opencv', width, height, color, scale: 1 / 255, mean: [0], std: [1], layout: 'NCHW', dtype: 'float32',
});

/** Largest absolute difference and how many values differ at all. */
function compare(a: Uint8Array, b: Uint8Array): { max: number; differing: number } {
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d) differing++;
    max = Math.max(max, d);
  }
  return { max, differing };
}

const cases: Case[] = [
  ...(JSON.parse(readFileSync(fx('cv2-gray-224.json'), 'utf8')) as { images: Case[] }).images,
  ...(JSON.parse(readFileSync(fx('cv2-extra.json'), 'utf8')) as { cases: Case[] }).cases,
];

describe('OpenCV-compatible preprocessing (cv2.resize INTER_LINEAR + cvtColor)', () => {
  for (const c of cases) {
    const mode = c.mode ?? (c.rgb_base64 ? 'rgb' : 'gray');
    it(`${c.file} -> ${c.width}x${c.height} ${mode} matches cv2 within 1/255`, async () => {
      const expected = new Uint8Array(Buffer.from(c.base64 ?? c.gray_base64 ?? c.rgb_base64!, 'base64'));
      const file = c.file.startsWith('neu/') ? c.file : c.file;
      const rgb = await decodeRgb(readFileSync(fx(file)), file);
      const got = opencvResizeColor(rgb, spec(c.width, c.height, mode));
      expect(got.data.length).toBe(expected.length);
      const { max, differing } = compare(got.data, expected);
      // the figures the README quotes
      console.info(`cv2 parity ${c.file} -> ${c.width}x${c.height} ${mode}: ${differing} of ${expected.length} values differ, max ${max}`);
      expect(max).toBeLessThanOrEqual(1);
      // Off-by-one values are rounding differences of OpenCV's scalar tail loop; they must stay rare.
      expect(differing / expected.length).toBeLessThan(0.01);
    });
  }

  it('keeps a flat image flat and its size when no resize is needed', () => {
    const img = { data: new Uint8Array(30 * 20 * 3).fill(77), width: 30, height: 20, channels: 3 };
    const r = resizeLinear(img, 13, 41);
    expect(r.data.every((v) => v === 77)).toBe(true);
    expect(resizeLinear(img, 30, 20).data).toEqual(img.data);
  });

  it('uses BT.601 luma weights (green heaviest) on RGB order', () => {
    const px = (r: number, g: number, b: number) => toGray({ data: new Uint8Array([r, g, b]), width: 1, height: 1, channels: 3 }, 'rgb').data[0];
    expect(px(255, 0, 0)).toBe(76);
    expect(px(0, 255, 0)).toBe(150);
    expect(px(0, 0, 255)).toBe(29);
    expect(px(200, 200, 200)).toBe(200);
  });
});
