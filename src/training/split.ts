/** Seeded train/validation/test splits, stratified by class for classification. */
import { createRng, permutation } from './rng.ts';

/** Row indices of each part. */
export interface Split {
  readonly train: number[];
  readonly val: number[];
  readonly test: number[];
}

/**
 * Split rows: `testFraction` of all rows to test, then `valFraction` of the rest to validation.
 * With `strata` (class index per row) every class is split in the same proportions.
 */
export function splitRows(n: number, testFraction: number, valFraction: number, seed: number, strata?: ArrayLike<number>): Split {
  const rng = createRng(seed ^ 0x5eed);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const k = strata ? strata[i]! : 0;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(i);
  }
  const out: Split = { train: [], val: [], test: [] };
  for (const key of [...groups.keys()].sort((a, b) => a - b)) {
    const rows = groups.get(key)!;
    const p = permutation(rows.length, rng);
    const nTest = Math.round(rows.length * testFraction);
    const nVal = Math.round((rows.length - nTest) * valFraction);
    p.forEach((pi, j) => (j < nTest ? out.test : j < nTest + nVal ? out.val : out.train).push(rows[pi]!));
  }
  for (const part of [out.train, out.val, out.test]) part.sort((a, b) => a - b);
  return out;
}

/** Assign each row to one of k folds (stratified when strata are given). */
export function kFolds(n: number, k: number, seed: number, strata?: ArrayLike<number>): Int32Array {
  const rng = createRng(seed ^ 0xf01d);
  const fold = new Int32Array(n);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = strata ? strata[i]! : 0;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  }
  let offset = 0;
  for (const key of [...groups.keys()].sort((a, b) => a - b)) {
    const rows = groups.get(key)!;
    const p = permutation(rows.length, rng);
    // Continue the round-robin across classes so small classes do not all land in fold 0.
    p.forEach((pi, j) => (fold[rows[pi]!] = (j + offset) % k));
    offset += rows.length;
  }
  return fold;
}
