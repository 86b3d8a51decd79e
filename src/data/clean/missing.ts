/** Missing values in a table: detection and imputation (median, most frequent, forward fill) per column. Pure. */
import { LsError } from '../../core/errors.ts';
import type { CsvTable } from '../readers/csv.ts';
import { looksNumeric } from '../../training/preprocessing.ts';

/** Imputation strategies accepted by --impute. */
export const IMPUTE_STRATEGIES = ['auto', 'median', 'most-frequent', 'ffill', 'drop'] as const;
/** One of IMPUTE_STRATEGIES. */
export type ImputeStrategy = (typeof IMPUTE_STRATEGIES)[number];

/** Tokens plants and spreadsheets use for "no value". */
const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null', 'none', '?', '-', '#n/a']);

/** Whether a cell holds no value. */
export function isMissing(v: string): boolean {
  return MISSING.has(v.trim().toLowerCase());
}

/** Missing cells of one column and how they were filled. */
export interface ColumnMissing {
  readonly column: string;
  readonly missing: number;
  /** 1-based data row numbers (first 20). */
  readonly rows: readonly number[];
  readonly strategy: Exclude<ImputeStrategy, 'auto'>;
  /** The value filled in (median / most frequent); absent for ffill and drop. */
  readonly fill?: string;
}

/** Missing cells of a table. */
export interface MissingReport {
  readonly columns: readonly ColumnMissing[];
  readonly totalMissing: number;
  /** Rows removed by 'drop' or left unfillable by 'ffill' at the top of a column. */
  readonly droppedRows: number;
}

function median(xs: number[]): number {
  const s = xs.sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function mostFrequent(xs: readonly string[]): string {
  const c = new Map<string, number>();
  for (const x of xs) c.set(x, (c.get(x) ?? 0) + 1);
  let best = '';
  let n = -1;
  for (const [k, v] of [...c.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) if (v > n) [best, n] = [k, v];
  return best;
}

/**
 * Report missing cells and return an imputed copy. `auto`: median for numeric columns, most frequent
 * for categorical ones. `strategies` may set a strategy per column.
 */
export function imputeMissing(table: CsvTable, strategy: ImputeStrategy = 'auto', strategies: Readonly<Record<string, ImputeStrategy>> = {}): { report: MissingReport; table: CsvTable } {
  const rows = table.rows.map((r) => [...r]);
  const drop = new Set<number>();
  const columns: ColumnMissing[] = [];
  let total = 0;
  table.columns.forEach((name, c) => {
    const missingRows: number[] = [];
    rows.forEach((r, i) => isMissing(r[c]!) && missingRows.push(i));
    if (!missingRows.length) return;
    total += missingRows.length;
    const present = rows.filter((r) => !isMissing(r[c]!)).map((r) => r[c]!.trim());
    const numeric = looksNumeric(present);
    let s = strategies[name] ?? strategy;
    if (s === 'auto') s = numeric ? 'median' : 'most-frequent';
    if (s === 'median' && !numeric) throw new LsError('LS_ERR_DATASET', `column "${name}" is not numeric: use most-frequent or ffill for it`);
    let fill: string | undefined;
    if (s === 'median' || s === 'most-frequent') {
      if (!present.length) throw new LsError('LS_ERR_DATASET', `column "${name}" has no values at all to impute from`);
      fill = s === 'median' ? String(median(present.map(Number).filter(Number.isFinite))) : mostFrequent(present);
      for (const i of missingRows) rows[i]![c] = fill;
    } else if (s === 'ffill') {
      let last: string | undefined;
      rows.forEach((r, i) => {
        if (!isMissing(r[c]!)) last = r[c]!;
        else if (last !== undefined) r[c] = last;
        else drop.add(i);
      });
    } else for (const i of missingRows) drop.add(i);
    columns.push({ column: name, missing: missingRows.length, rows: missingRows.slice(0, 20).map((i) => i + 1), strategy: s, ...(fill !== undefined ? { fill } : {}) });
  });
  return {
    report: { columns, totalMissing: total, droppedRows: drop.size },
    table: { ...table, rows: rows.filter((_, i) => !drop.has(i)) },
  };
}
