/**
 * Camera frames for the simulator: real images from a folder of `<class>/<image>` (default the NEU
 * steel images of ../shared/datasets, else the committed samples/neu), drawn so that a configurable
 * fraction are defects; or synthetic grey textures when no folder has images. The class folder is
 * the ground-truth label the simulator publishes for QA feedback.
 */
import { promises as fs, existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { LsError } from '../../core/errors.ts';
import type { Rng } from './rng.ts';

export interface Frame {
  readonly label: string;
  readonly bytes: Uint8Array;
  readonly file: string;
}

/** Where the demo frames come from, first that exists. */
export function defaultImageFolder(cwd = process.cwd()): string | undefined {
  const candidates = [path.resolve(cwd, '../shared/datasets/neu-surface-defect/images'), path.resolve(cwd, 'samples/neu')];
  return candidates.find((c) => existsSync(c));
}

const IMAGE_RE = /\.(jpe?g|png|bmp|tiff?)$/i;

export class FrameSource {
  private constructor(private readonly byClass: Map<string, Frame[]>, private readonly okClasses: readonly string[], private readonly defectRate: number) {}

  /** Load every image under `folder/<class>/` (bytes are kept in memory: the NEU set is ~10 MB). */
  static async fromFolder(folder: string, opts: { defectRate: number; okClasses: readonly string[] }): Promise<FrameSource> {
    const byClass = new Map<string, Frame[]>();
    let entries: string[];
    try {
      entries = await fs.readdir(folder);
    } catch (e) {
      throw new LsError('LS_ERR_FILE_NOT_FOUND', (e as Error).message, { subject: folder });
    }
    for (const cls of entries.sort()) {
      const dir = path.join(folder, cls);
      if (!(await fs.stat(dir)).isDirectory()) continue;
      const files = (await fs.readdir(dir)).filter((f) => IMAGE_RE.test(f)).sort();
      const frames = await Promise.all(files.map(async (f) => ({ label: cls, bytes: new Uint8Array(await fs.readFile(path.join(dir, f))), file: path.join(dir, f) })));
      if (frames.length) byClass.set(cls, frames);
    }
    if (!byClass.size) throw new LsError('LS_ERR_DATASET', 'no images in <folder>/<class>/ sub-folders', { subject: folder });
    return new FrameSource(byClass, opts.okClasses, opts.defectRate);
  }

  /** Synthetic grey noise frames (label `synthetic`, always PASS-worthy) when no real images exist. */
  static async synthetic(rng: Rng, count = 8): Promise<FrameSource> {
    const frames: Frame[] = [];
    for (let i = 0; i < count; i++) {
      const px = new Uint8Array(200 * 200);
      const base = 90 + Math.floor(rng.next() * 80);
      for (let k = 0; k < px.length; k++) px[k] = Math.max(0, Math.min(255, base + Math.round(rng.normal(0, 18))));
      const bytes = new Uint8Array(await sharp(px, { raw: { width: 200, height: 200, channels: 1 } }).jpeg({ quality: 85 }).toBuffer());
      frames.push({ label: 'synthetic', bytes, file: `synthetic-${i}.jpg` });
    }
    return new FrameSource(new Map([['synthetic', frames]]), ['synthetic'], 0);
  }

  get classes(): string[] {
    return [...this.byClass.keys()];
  }

  get size(): number {
    return [...this.byClass.values()].reduce((a, f) => a + f.length, 0);
  }

  /** A frame: a defect class with probability defectRate, else an acceptable class. */
  next(rng: Rng): Frame {
    const ok = this.classes.filter((c) => this.okClasses.includes(c));
    const bad = this.classes.filter((c) => !this.okClasses.includes(c));
    const pool = (rng.next() < this.defectRate && bad.length) || !ok.length ? bad : ok;
    const frames = this.byClass.get(rng.pick(pool))!;
    return rng.pick(frames);
  }
}
