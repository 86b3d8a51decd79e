/**
 * Synthetic defect images: procedural steel-like textures with scratches, spots, inclusions and
 * patches (plus clean surfaces), written in the folder-per-class layout. SYNTHETIC: for tests and
 * demos; a model trained on them says nothing about real parts.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { LsError } from '../../core/errors.ts';
import { createRng, type Rng } from '../../training/rng.ts';

/** The classes the image generator draws. */
export const SYNTH_CLASSES = ['clean', 'scratches', 'spots', 'inclusions', 'patches'] as const;
/** One of SYNTH_CLASSES. */
export type SynthClass = (typeof SYNTH_CLASSES)[number];

/** A grayscale image as bytes 0..255, row-major. */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Smooth value noise: a coarse random grid interpolated bilinearly, summed over octaves. */
function valueNoise(w: number, h: number, rng: Rng, cell: number, octaves: number): Float32Array {
  const out = new Float32Array(w * h);
  let amp = 1;
  let c = cell;
  for (let o = 0; o < octaves; o++) {
    const gw = Math.ceil(w / c) + 2;
    const gh = Math.ceil(h / c) + 2;
    const grid = Float32Array.from({ length: gw * gh }, () => rng.next() - 0.5);
    for (let y = 0; y < h; y++) {
      const gy = y / c;
      const y0 = Math.floor(gy);
      const fy = gy - y0;
      for (let x = 0; x < w; x++) {
        const gx = x / c;
        const x0 = Math.floor(gx);
        const fx = gx - x0;
        const a = grid[y0 * gw + x0]!, b = grid[y0 * gw + x0 + 1]!, cc = grid[(y0 + 1) * gw + x0]!, d = grid[(y0 + 1) * gw + x0 + 1]!;
        out[y * w + x]! += amp * ((a * (1 - fx) + b * fx) * (1 - fy) + (cc * (1 - fx) + d * fx) * fy);
      }
    }
    amp /= 2;
    c = Math.max(1, c / 2);
  }
  return out;
}

function stamp(img: Float32Array, w: number, h: number, cx: number, cy: number, rx: number, ry: number, angle: number, delta: number): void {
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const r = Math.ceil(Math.max(rx, ry)) + 1;
  for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(h, cy + r); y++) {
    for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(w, cx + r); x++) {
      const dx = x - cx, dy = y - cy;
      const u = (dx * cos + dy * sin) / rx, v = (-dx * sin + dy * cos) / ry;
      const d2 = u * u + v * v;
      if (d2 < 1) img[y * w + x]! += delta * (1 - d2);
    }
  }
}

/** Draw one image of a class. */
export function synthImage(cls: SynthClass, rng: Rng, width = 200, height = 200): GrayImage {
  const tex = valueNoise(width, height, rng, 24, 4);
  const base = 110 + rng.next() * 40;
  const img = Float32Array.from(tex, (t) => base + t * 40 + (rng.next() - 0.5) * 12);
  const w = width, h = height;
  if (cls === 'scratches') {
    for (let k = 0, n = 1 + rng.int(3); k < n; k++) {
      const angle = (rng.next() - 0.5) * 0.6 + Math.PI / 2 * rng.int(2);
      const len = h * (0.4 + rng.next() * 0.6);
      const cx = rng.next() * w, cy = rng.next() * h;
      for (let t = -len / 2; t < len / 2; t += 1) stamp(img, w, h, cx + t * Math.cos(angle), cy + t * Math.sin(angle), 1.5, 1.5, 0, 70);
    }
  } else if (cls === 'spots') {
    for (let k = 0, n = 4 + rng.int(10); k < n; k++) stamp(img, w, h, rng.next() * w, rng.next() * h, 2 + rng.next() * 4, 2 + rng.next() * 4, 0, -80);
  } else if (cls === 'inclusions') {
    for (let k = 0, n = 1 + rng.int(4); k < n; k++) {
      const angle = Math.PI / 2 + (rng.next() - 0.5) * 0.3;
      stamp(img, w, h, rng.next() * w, rng.next() * h, 15 + rng.next() * 30, 2 + rng.next() * 2, angle, -90);
    }
  } else if (cls === 'patches') {
    const blob = valueNoise(w, h, rng, 40, 2);
    for (let i = 0; i < img.length; i++) if (blob[i]! > 0.15) img[i]! -= 70 * Math.min(1, (blob[i]! - 0.15) * 6);
  }
  const data = Uint8Array.from(img, (v) => Math.max(0, Math.min(255, Math.round(v))));
  return { width, height, data };
}

/** How many images, of which classes, in which format and size. */
export interface SynthImagesOptions {
  readonly perClass: number;
  readonly seed?: number;
  readonly format?: 'png' | 'jpeg';
  readonly size?: number;
  readonly classes?: readonly SynthClass[];
}

/** Write `perClass` images of each class to DIR/<class>/<class>_<n>.<ext>; returns the files written. */
export async function writeSynthImages(dir: string, opts: SynthImagesOptions): Promise<string[]> {
  const classes = opts.classes ?? SYNTH_CLASSES;
  const unknown = classes.filter((c) => !SYNTH_CLASSES.includes(c));
  if (unknown.length) throw new LsError('LS_ERR_VALIDATION', `unknown synthetic classes ${unknown.join(', ')} (known: ${SYNTH_CLASSES.join(', ')})`);
  const rng = createRng(opts.seed ?? 1);
  const ext = opts.format === 'jpeg' ? 'jpg' : 'png';
  const files: string[] = [];
  for (const cls of classes) {
    await fs.mkdir(path.join(dir, cls), { recursive: true });
    for (let i = 1; i <= opts.perClass; i++) {
      const img = synthImage(cls, rng, opts.size ?? 200, opts.size ?? 200);
      const s = sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 1 } });
      const bytes = opts.format === 'jpeg' ? await s.jpeg({ quality: 92 }).toBuffer() : await s.png().toBuffer();
      const file = path.join(dir, cls, `${cls}_${i}.${ext}`);
      await fs.writeFile(file, bytes);
      files.push(file);
    }
  }
  return files;
}
