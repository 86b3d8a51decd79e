/**
 * `data clean` as functions: check a table or an image folder for duplicates, missing values,
 * out-of-range values and suspected label errors, and (with fix) write a cleaned copy elsewhere.
 * The original is never modified.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LsError } from '../../core/errors.ts';
import { formatCsv, type CsvTable } from '../readers/csv.ts';
import { readImageFolder } from '../readers/image-folder.ts';
import { findDuplicateRows, findImageDuplicates, type DuplicateGroup, type ImageDuplicateReport } from './duplicates.ts';
import { imputeMissing, type ImputeStrategy, type MissingReport } from './missing.ts';
import { findOutOfRange, type RangeSchema, type RangeViolation } from './range.ts';
import { tableLabelIssues, type LabelIssue, type TableLabelOptions } from './label-errors.ts';

/** Which checks to run on a table and how to fix what they find. */
export interface TableCleanOptions {
  readonly impute: ImputeStrategy;
  readonly schema?: RangeSchema;
  /** Drop out-of-range rows (true) or only report them. */
  readonly dropOutOfRange: boolean;
  readonly labels?: TableLabelOptions;
}

/** Everything found in a table. */
export interface TableCleanReport {
  readonly rows: number;
  readonly duplicates: readonly DuplicateGroup[];
  readonly missing: MissingReport;
  readonly outOfRange: readonly RangeViolation[];
  readonly labelIssues?: { readonly labels: readonly string[]; readonly issues: readonly LabelIssue[] };
  /** Rows in the cleaned copy. */
  readonly cleanedRows: number;
}

/** Check a table and build its cleaned copy: duplicates removed (first kept), missing imputed, out-of-range dropped. */
export function cleanTable(table: CsvTable, opts: TableCleanOptions): { report: TableCleanReport; cleaned: CsvTable } {
  const duplicates = findDuplicateRows(table.rows);
  const dupRows = new Set(duplicates.flatMap((g) => g.items.slice(1).map((id) => Number(id) - 1)));
  const outOfRange = opts.schema ? findOutOfRange(table, opts.schema) : [];
  const badRows = new Set(opts.dropOutOfRange ? outOfRange.map((v) => v.row - 1) : []);
  const kept: CsvTable = { ...table, rows: table.rows.filter((_, i) => !dupRows.has(i) && !badRows.has(i)) };
  const { report: missing, table: cleaned } = imputeMissing(kept, opts.impute);
  // Label checks need a complete table: they run on the imputed copy, rows numbered as in the original.
  let labelIssues: TableCleanReport['labelIssues'];
  if (opts.labels) {
    const original = table.rows.map((_, i) => i).filter((i) => !dupRows.has(i) && !badRows.has(i));
    if (cleaned.rows.length !== original.length) throw new LsError('LS_ERR_DATASET', 'label checks need every row kept; use an imputation other than drop/ffill for leading gaps');
    const r = tableLabelIssues(cleaned, opts.labels);
    labelIssues = { labels: r.labels, issues: r.issues.map((x) => ({ ...x, item: String(original[Number(x.item) - 1]! + 1) })) };
  }
  return {
    report: { rows: table.rows.length, duplicates, missing, outOfRange, ...(labelIssues ? { labelIssues } : {}), cleanedRows: cleaned.rows.length },
    cleaned,
  };
}

/** Write a cleaned table; refuses to overwrite the input. */
export async function writeCleanTable(input: string, out: string, table: CsvTable): Promise<void> {
  if (path.resolve(input) === path.resolve(out)) throw new LsError('LS_ERR_VALIDATION', 'the cleaned copy must not overwrite the original; choose another --out', { subject: out });
  await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await fs.writeFile(out, formatCsv(table.columns, table.rows, table.delimiter));
}

/** Everything found in an image folder. */
export interface ImageCleanReport extends ImageDuplicateReport {
  readonly labelIssues?: readonly LabelIssue[];
}

/**
 * Copy an image folder to `out` without the duplicate copies (the first of each exact or near group is
 * kept) and without undecodable files. Returns the number of files copied.
 */
export async function writeCleanImageFolder(dir: string, out: string, report: ImageDuplicateReport): Promise<number> {
  const src = path.resolve(dir);
  const dst = path.resolve(out);
  if (dst === src || dst.startsWith(`${src}${path.sep}`)) throw new LsError('LS_ERR_VALIDATION', 'the cleaned copy must be outside the original folder', { subject: out });
  const skip = new Set([...report.exact, ...report.near].flatMap((g) => g.items.slice(1)));
  for (const u of report.unreadable) skip.add(u.file);
  let n = 0;
  const files = await readImageFolder(dir);
  for (const f of files) {
    if (skip.has(f.path)) continue;
    const target = path.join(dst, path.relative(src, path.resolve(f.path)));
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.copyFile(f.path, target);
    n++;
  }
  return n;
}
