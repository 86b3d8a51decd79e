/**
 * Why an alert fired: occlusion contributions. Each numeric feature in turn is replaced by its
 * reference value (a typical reading) and the model re-run; the drop in failure probability is that
 * feature's contribution. Works with any model (no gradients needed); costs one batch of F+1 rows,
 * and runs only when an alert fires.
 */
import type { RawRow } from '../pipeline/pre/tabular.ts';

export interface Contribution {
  readonly feature: string;
  readonly value: number;
  /** Probability with the actual value minus probability with the reference value. */
  readonly contribution: number;
}

/** The rows an occlusion explanation needs: the row itself, then one row per feature set to its reference. */
export function occlusionRows(row: RawRow, references: Readonly<Record<string, number | string>>): { features: string[]; rows: RawRow[] } {
  const features = Object.keys(references).filter((f) => typeof row[f] === 'number' && row[f] !== references[f]);
  return { features, rows: [row, ...features.map((f) => ({ ...row, [f]: references[f] }))] };
}

/** Contributions from the probabilities of `occlusionRows`, largest absolute first. */
export function contributionsFrom(features: readonly string[], row: RawRow, probs: readonly number[], top: number): Contribution[] {
  const base = probs[0] ?? NaN;
  return features
    .map((f, i) => ({ feature: f, value: row[f] as number, contribution: base - (probs[i + 1] ?? NaN) }))
    .filter((c) => Number.isFinite(c.contribution))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, top);
}

/** The features with the largest absolute contributions, largest first (one model call of F+1 rows). */
export async function occlusionContributions(
  predict: (rows: readonly RawRow[]) => Promise<number[]>,
  row: RawRow,
  references: Readonly<Record<string, number | string>>,
  top: number,
): Promise<Contribution[]> {
  const { features, rows } = occlusionRows(row, references);
  if (!features.length || top <= 0) return [];
  return contributionsFrom(features, row, await predict(rows), top);
}
