/**
 * CSV reading and writing for tables of plant data: UTF-8 with or without a byte-order mark,
 * CRLF or LF line endings, comma / semicolon / tab detected from the header line, RFC 4180 quoting,
 * decimal commas in semicolon files.
 */
import { promises as fs } from 'node:fs';
import { LsError } from '../../core/errors.ts';

/** A parsed table: header names and rows of raw strings (same length as the header). */
export interface CsvTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly delimiter: ',' | ';' | '\t';
}

const DELIMITERS = [',', ';', '\t'] as const;

/** The delimiter that splits the header line into the most fields, outside quotes. */
export function detectDelimiter(text: string): ',' | ';' | '\t' {
  let end = text.indexOf('\n');
  if (end < 0) end = text.length;
  const head = text.slice(0, end);
  let best: ',' | ';' | '\t' = ',';
  let bestCount = 0;
  for (const d of DELIMITERS) {
    let inQuotes = false;
    let count = 0;
    for (const ch of head) {
      if (ch === '"') inQuotes = !inQuotes;
      else if (ch === d && !inQuotes) count++;
    }
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

/** Parse CSV text. Rows whose field count differs from the header give LS_ERR_CSV naming the line. */
export function parseCsv(input: string, subject?: string): CsvTable {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (text.trim() === '') throw new LsError('LS_ERR_CSV', 'the file is empty', { subject });
  const delimiter = detectDelimiter(text);
  const records: { fields: string[]; line: number }[] = [];
  let field = '';
  let fields: string[] = [];
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const endRecord = (): void => {
    fields.push(field);
    // A blank line (one empty field) is skipped, not treated as a row.
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && !fieldStarted) {
      inQuotes = true;
      fieldStarted = true;
    } else if (ch === delimiter) {
      fields.push(field);
      field = '';
      fieldStarted = false;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      // CRLF: the \n ends the record.
    } else if (ch === '\n' || ch === '\r') {
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (inQuotes) throw new LsError('LS_ERR_CSV', `a quoted field opened on line ${recordLine} is never closed`, { subject });
  if (field !== '' || fields.length) endRecord();
  const header = records.shift();
  if (!header) throw new LsError('LS_ERR_CSV', 'the file has no header line', { subject });
  const columns = header.fields.map((c) => c.trim());
  const seen = new Set<string>();
  for (const c of columns) {
    if (c === '') throw new LsError('LS_ERR_CSV', 'the header has an empty column name', { subject });
    if (seen.has(c)) throw new LsError('LS_ERR_CSV', `the header names column "${c}" twice`, { subject });
    seen.add(c);
  }
  if (!records.length) throw new LsError('LS_ERR_CSV', 'the file has a header but no data rows', { subject });
  for (const r of records) {
    if (r.fields.length !== columns.length) {
      throw new LsError('LS_ERR_CSV', `line ${r.line} has ${r.fields.length} fields, the header has ${columns.length}`, { subject });
    }
  }
  const rows = records.map((r) => r.fields);
  if (delimiter === ';') decimalCommaToDot(columns.length, rows);
  return { columns, rows, delimiter };
}

const DECIMAL_COMMA = /^\s*[+-]?\d+(,\d+)?\s*$/;

/**
 * Semicolon files from spreadsheets in most European locales write decimals with a comma ("1,5").
 * A column whose every non-empty cell is such a number, with at least one comma, is converted to dots;
 * anything else is left alone (and reported as non-numeric where a number is needed).
 */
function decimalCommaToDot(width: number, rows: string[][]): void {
  for (let c = 0; c < width; c++) {
    let comma = false;
    let ok = true;
    for (const r of rows) {
      const v = r[c]!;
      if (v.trim() === '') continue;
      if (!DECIMAL_COMMA.test(v)) {
        ok = false;
        break;
      }
      if (v.includes(',')) comma = true;
    }
    if (ok && comma) for (const r of rows) r[c] = r[c]!.replace(',', '.');
  }
}

/** Read and parse a CSV file; a missing file gives LS_ERR_FILE_NOT_FOUND, bad UTF-8 LS_ERR_CSV. */
export async function readCsv(file: string): Promise<CsvTable> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LsError('LS_ERR_FILE_NOT_FOUND', undefined, { subject: file });
    throw new LsError('LS_ERR_FILE_READ', code ?? (e as Error).message, { subject: file });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new LsError('LS_ERR_CSV', 'the file is not UTF-8 text', { subject: file });
  }
  return parseCsv(text, file);
}

/** Index of a column by name, or LS_ERR_CSV listing the columns that exist. */
export function columnIndex(table: CsvTable, name: string, subject?: string): number {
  const i = table.columns.indexOf(name);
  if (i < 0) throw new LsError('LS_ERR_CSV', `no column "${name}" (columns: ${table.columns.join(', ')})`, { subject });
  return i;
}

/** Table rows as objects keyed by column name. */
export function toRecords(table: CsvTable): Record<string, string>[] {
  return table.rows.map((r) => Object.fromEntries(table.columns.map((c, i) => [c, r[i] ?? ''])));
}

function quote(v: string, delimiter: string): string {
  return v.includes(delimiter) || v.includes('"') || v.includes('\n') || v.includes('\r') ? `"${v.replaceAll('"', '""')}"` : v;
}

/** Format rows as CSV text (LF line endings, fields quoted only when needed). */
export function formatCsv(columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>, delimiter = ','): string {
  const out = [columns.map((c) => quote(c, delimiter)).join(delimiter)];
  for (const r of rows) out.push(r.map((v) => quote(String(v), delimiter)).join(delimiter));
  return `${out.join('\n')}\n`;
}
