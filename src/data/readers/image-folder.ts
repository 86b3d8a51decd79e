/** Reads a labelled image folder in the folder-per-class layout: DIR/<class>/<image>. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LsError } from '../../core/errors.ts';

const IMAGE_EXT = /\.(jpe?g|png|bmp|tiff?|webp)$/i;

export interface LabelledFile {
  readonly path: string;
  readonly label: string;
}

/** All image files under DIR/<class>/, sorted by class then name. */
export async function readImageFolder(dir: string): Promise<LabelledFile[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    throw new LsError('LS_ERR_FILE_NOT_FOUND', dir, { subject: dir });
  }
  const out: LabelledFile[] = [];
  for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const files = (await fs.readdir(path.join(dir, e.name))).filter((f) => IMAGE_EXT.test(f)).sort(naturalCompare);
    for (const f of files) out.push({ path: path.join(dir, e.name, f), label: e.name });
  }
  if (!out.length) throw new LsError('LS_ERR_DATASET', `no images in the folder-per-class layout DIR/<class>/<image> under ${dir}`, { subject: dir });
  return out;
}

/** Whether a file name looks like an image we can read. */
export function isImageFile(name: string): boolean {
  return IMAGE_EXT.test(name);
}

function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}
