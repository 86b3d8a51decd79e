import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectDelimiter, formatCsv, parseCsv, readCsv, toRecords } from '../../src/data/readers/csv.ts';
import { LsError } from '../../src/core/errors.ts';
import { AI4I_CSV } from '../helpers/shared-data.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as LsError).code;
  }
  return 'none';
}

describe('CSV reader', () => {
  it('reads UTF-8 with a BOM and CRLF line endings', () => {
    const t = parseCsv('\ufeffUDI,Type\r\n1,M\r\n2,L\r\n');
    expect(t.columns).toEqual(['UDI', 'Type']);
    expect(t.rows).toEqual([['1', 'M'], ['2', 'L']]);
  });
  it('detects comma, semicolon and tab', () => {
    expect(detectDelimiter('a;b;c\n1;2;3')).toBe(';');
    expect(detectDelimiter('a\tb\n1\t2')).toBe('\t');
    expect(detectDelimiter('a,b\n1,2')).toBe(',');
    expect(parseCsv('a;b\n1,5;2\n').rows).toEqual([['1.5', '2']]);
    expect(parseCsv('a\tb\n1\t2').rows).toEqual([['1', '2']]);
  });
  it('reads decimal commas in semicolon files, only in columns that are all such numbers', () => {
    const t = parseCsv('temp;speed;note\n300,5;1500;a,b\n;1400;x\n-2,25;1450;1,5\n');
    expect(t.rows).toEqual([['300.5', '1500', 'a,b'], ['', '1400', 'x'], ['-2.25', '1450', '1,5']]);
    // comma-delimited files are never touched
    expect(parseCsv('a,b\n"1,5",2\n').rows).toEqual([['1,5', '2']]);
  });

  it('handles quoted fields with delimiters, quotes and newlines', () => {
    const t = parseCsv('name,note\n"a,b","say ""hi""\nthere"\n');
    expect(t.rows).toEqual([['a,b', 'say "hi"\nthere']]);
    expect(toRecords(t)).toEqual([{ name: 'a,b', note: 'say "hi"\nthere' }]);
  });
  it('round-trips through formatCsv', () => {
    const rows = [['a,b', 'x"y'], ['1', '']];
    expect(parseCsv(formatCsv(['p', 'q'], rows)).rows).toEqual(rows);
  });
  it('skips blank lines, gives one clear error for empty files, ragged rows, duplicate columns, open quotes', () => {
    expect(parseCsv('a\n1\n\n2\n').rows).toEqual([['1'], ['2']]);
    expect(code(() => parseCsv(''))).toBe('LS_ERR_CSV');
    expect(code(() => parseCsv('\ufeff\r\n'))).toBe('LS_ERR_CSV');
    expect(code(() => parseCsv('a,b\n'))).toBe('LS_ERR_CSV');
    expect(() => parseCsv('a,b\n1,2\n3\n')).toThrow(/line 3 has 1 fields, the header has 2/);
    expect(code(() => parseCsv('a,a\n1,2'))).toBe('LS_ERR_CSV');
    expect(code(() => parseCsv('a\n"open'))).toBe('LS_ERR_CSV');
  });
  it('reads the real AI4I file header (BOM + CRLF)', async () => {
    const file = AI4I_CSV;
    // the shared data set is part of this machine's setup (../shared/datasets/README.md)
    expect(await fs.access(file).then(() => true, () => false)).toBe(true);
    const t = await readCsv(file);
    expect(t.columns[0]).toBe('UDI');
    expect(t.columns).toContain('Machine failure');
    expect(t.rows.length).toBe(10000);
  });
  it('refuses files that are not UTF-8 or do not exist', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ls-csv-'));
    await fs.writeFile(path.join(dir, 'bad.csv'), Buffer.from([0x61, 0x0a, 0xff, 0xfe, 0x0a]));
    await expect(readCsv(path.join(dir, 'bad.csv'))).rejects.toMatchObject({ code: 'LS_ERR_CSV' });
    await expect(readCsv(path.join(dir, 'none.csv'))).rejects.toMatchObject({ code: 'LS_ERR_FILE_NOT_FOUND' });
    await fs.rm(dir, { recursive: true });
  });
});
