/**
 * Tables as rows for tabular models: CSV rows keyed by column, checked against the model's features
 * so that one bad row is reported on its own and the others are still predicted.
 */
import { LsError } from '../core/errors.ts';
import type { TabularFeature } from '../repository/manifest.ts';
import { columnIndex, type CsvTable } from './readers/csv.ts';

/** What is wrong with a row for these features, or undefined when it can be predicted. */
export function rowProblem(row: Readonly<Record<string, string>>, features: readonly TabularFeature[]): string | undefined {
  for (const f of features) {
    const v = row[f.name];
    if (v === undefined) return `no value for "${f.name}"`;
    if (f.type === 'numeric') {
      const n = v.trim() === '' ? NaN : Number(v);
      if (!Number.isFinite(n)) return `"${f.name}" must be a finite number, got ${JSON.stringify(v)}`;
    } else if (v.trim() === '') return `"${f.name}" is empty`;
  }
  return undefined;
}

/** Check that a table has every feature column the model needs (LS_ERR_CSV naming the missing ones). */
export function requireColumns(table: CsvTable, features: readonly TabularFeature[], subject?: string): void {
  const missing = features.filter((f) => !table.columns.includes(f.name)).map((f) => f.name);
  if (missing.length) {
    throw new LsError('LS_ERR_CSV', `the model needs column(s) ${missing.map((m) => `"${m}"`).join(', ')}, which the file does not have (columns: ${table.columns.join(', ')})`, { subject });
  }
}

/** Values of one column. */
export function columnValues(table: CsvTable, name: string, subject?: string): string[] {
  const i = columnIndex(table, name, subject);
  return table.rows.map((r) => r[i]!);
}
