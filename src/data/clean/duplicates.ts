/**
 * Duplicate detection: exact duplicates by content hash (sha256 of the bytes, or of a table row) and
 * near-duplicate images by a perceptual hash (pHash, 64 bits) within a Hamming distance.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { LsError } from '../../core/errors.ts';
import { mapLimit } from '../../core/concurrency.ts';

/** A group of files (or rows) with the same content; the first is the one kept by --fix. */
export interface DuplicateGroup {
  readonly kind: 'exact' | 'near';
  readonly items: readonly string[];
  /** Near duplicates: Hamming distance of the perceptual hashes to the first item. */
  readonly distances?: readonly number[];
}

/** sha256 of bytes, hex. */
export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const P = 32;
/** cos((2x+1)uπ / 2P) for the 8 lowest DCT frequencies. */
const COS = Array.from({ length: 8 }, (_, u) => Float64Array.from({ length: P }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * P))));

/**
 * 64-bit perceptual hash (pHash): the image shrunk to 32×32 gray, its 8×8 lowest DCT frequencies,
 * one bit per coefficient above their median. Re-encoding, rescaling and brightness changes keep it
 * (distance 0 on NEU variants), while different NEU images differ by 8 bits or more.
 */
export async function perceptualHash(bytes: Uint8Array, subject?: string): Promise<bigint> {
  let px: Buffer;
  try {
    px = await sharp(bytes).grayscale().resize(P, P, { fit: 'fill' }).raw().toBuffer();
  } catch (e) {
    throw new LsError('LS_ERR_IMAGE_CORRUPT', (e as Error).message, { subject });
  }
  // Separable DCT: rows first (8 frequencies per row), then columns.
  const rows = new Float64Array(P * 8);
  for (let y = 0; y < P; y++) for (let v = 0; v < 8; v++) {
    let s = 0;
    for (let x = 0; x < P; x++) s += px[y * P + x]! * COS[v]![x]!;
    rows[y * 8 + v] = s;
  }
  const coef: number[] = [];
  for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) {
    let s = 0;
    for (let y = 0; y < P; y++) s += rows[y * 8 + v]! * COS[u]![y]!;
    coef.push(s);
  }
  // The median leaves out the DC term, which only says how bright the image is.
  const median = coef.slice(1).sort((a, b) => a - b)[31]!;
  let h = 0n;
  for (const c of coef) h = (h << 1n) | (c > median ? 1n : 0n);
  return h;
}

/** Number of differing bits. */
export function hamming(a: bigint, b: bigint): number {
  let x = a ^ b;
  let n = 0;
  while (x) {
    x &= x - 1n;
    n++;
  }
  return n;
}

/** Group equal keys (in first-seen order); only groups with 2+ members. */
export function groupByKey(items: ReadonlyArray<{ id: string; key: string }>): DuplicateGroup[] {
  const by = new Map<string, string[]>();
  for (const it of items) {
    const g = by.get(it.key);
    if (g) g.push(it.id);
    else by.set(it.key, [it.id]);
  }
  return [...by.values()].filter((g) => g.length > 1).map((items) => ({ kind: 'exact' as const, items }));
}

/** Duplicate groups and unreadable files of an image set. */
export interface ImageDuplicateReport {
  readonly files: number;
  readonly exact: readonly DuplicateGroup[];
  readonly near: readonly DuplicateGroup[];
  /** Files that could not be read or decoded. */
  readonly unreadable: ReadonlyArray<{ file: string; code: string; error: string }>;
}

/**
 * Find exact duplicates (same bytes) and near duplicates (pHash within `maxDistance` bits) among image
 * files. Each near group is anchored on its first file; exact copies are not repeated as near ones.
 */
export async function findImageDuplicates(files: readonly string[], maxDistance = 4, concurrency = 4): Promise<ImageDuplicateReport> {
  const unreadable: Array<{ file: string; code: string; error: string }> = [];
  const hashed = await mapLimit(files, concurrency, async (file) => {
    try {
      const bytes = await fs.readFile(file);
      return { file, sha: contentHash(bytes), ph: await perceptualHash(bytes, file) };
    } catch (e) {
      const err = e instanceof LsError ? e : new LsError('LS_ERR_FILE_READ', (e as Error).message, { subject: file });
      unreadable.push({ file, code: err.code, error: err.message });
      return undefined;
    }
  });
  const ok = hashed.filter((h): h is NonNullable<typeof h> => h !== undefined);
  const exact = groupByKey(ok.map((h) => ({ id: h.file, key: h.sha })));
  // One representative per exact group takes part in the near-duplicate search.
  const copies = new Set(exact.flatMap((g) => g.items.slice(1)));
  const reps = ok.filter((h) => !copies.has(h.file));
  const used = new Set<number>();
  const near: DuplicateGroup[] = [];
  for (let i = 0; i < reps.length; i++) {
    if (used.has(i)) continue;
    const items = [reps[i]!.file];
    const distances = [0];
    for (let j = i + 1; j < reps.length; j++) {
      if (used.has(j)) continue;
      const d = hamming(reps[i]!.ph, reps[j]!.ph);
      if (d <= maxDistance) {
        items.push(reps[j]!.file);
        distances.push(d);
        used.add(j);
      }
    }
    if (items.length > 1) near.push({ kind: 'near', items, distances });
  }
  return { files: files.length, exact, near, unreadable };
}

/** Exact duplicate rows of a table (all cells equal); ids are 1-based row numbers. */
export function findDuplicateRows(rows: readonly (readonly string[])[]): DuplicateGroup[] {
  return groupByKey(rows.map((r, i) => ({ id: String(i + 1), key: r.join('\u001f') })));
}
