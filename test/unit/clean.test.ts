import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { findDuplicateRows, findImageDuplicates, hamming, perceptualHash } from '../../src/data/clean/duplicates.ts';
import { imputeMissing, isMissing } from '../../src/data/clean/missing.ts';
import { findOutOfRange, schemaFromFeatures } from '../../src/data/clean/range.ts';
import { embeddingLabelIssues, findLabelIssues, tableLabelIssues } from '../../src/data/clean/label-errors.ts';
import { cleanTable, writeCleanImageFolder, writeCleanTable } from '../../src/data/clean/report.ts';
import { parseCsv, readCsv } from '../../src/data/readers/csv.ts';
import { createRng } from '../../src/training/rng.ts';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/training/trainer.ts';
import { NEU_IMAGES } from '../helpers/shared-data.ts';

const NEU = path.join(NEU_IMAGES, 'patches');
const FIX = new URL('../fixtures/neu/', import.meta.url).pathname;
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ls-clean-'));
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

describe('duplicates', () => {
  it('finds the byte-identical NEU pair patches_101.jpg / patches_105.jpg', async () => {
    const files = ['patches_100.jpg', 'patches_101.jpg', 'patches_102.jpg', 'patches_105.jpg'].map((f) => path.join(NEU, f));
    const r = await findImageDuplicates(files);
    expect(r.exact).toEqual([{ kind: 'exact', items: [path.join(NEU, 'patches_101.jpg'), path.join(NEU, 'patches_105.jpg')] }]);
    expect(r.near).toEqual([]);
  });

  it('finds re-encoded / resized copies as near duplicates, not different images; lists undecodable files', async () => {
    const src = path.join(FIX, 'crazing_14.jpg');
    const dir = path.join(tmp, 'imgs', 'crazing');
    await fs.mkdir(dir, { recursive: true });
    await fs.copyFile(src, path.join(dir, 'a.jpg'));
    await sharp(src).resize(150, 150).jpeg({ quality: 60 }).toFile(path.join(dir, 'a_small.jpg'));
    await fs.copyFile(path.join(FIX, 'inclusion_2.jpg'), path.join(dir, 'b.jpg'));
    await fs.writeFile(path.join(dir, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01]));
    const files = ['a.jpg', 'a_small.jpg', 'b.jpg', 'broken.jpg'].map((f) => path.join(dir, f));
    const r = await findImageDuplicates(files, 4);
    expect(r.near.map((g) => g.items)).toEqual([[files[0], files[1]]]);
    expect(r.unreadable.map((u) => [u.file, u.code])).toEqual([[files[3], 'LS_ERR_IMAGE_CORRUPT']]);
    expect(hamming(await perceptualHash(await fs.readFile(files[0]!)), await perceptualHash(await fs.readFile(files[2]!)))).toBeGreaterThan(4);
    // --fix copies the folder without the near copy and the broken file, leaving the original alone
    const out = path.join(tmp, 'imgs-clean');
    expect(await writeCleanImageFolder(path.join(tmp, 'imgs'), out, r)).toBe(2);
    expect((await fs.readdir(path.join(out, 'crazing'))).sort()).toEqual(['a.jpg', 'b.jpg']);
    expect((await fs.readdir(dir)).length).toBe(4);
    await expect(writeCleanImageFolder(path.join(tmp, 'imgs'), path.join(tmp, 'imgs', 'x'), r)).rejects.toMatchObject({ code: 'LS_ERR_VALIDATION' });
  });

  it('hamming counts differing bits', () => {
    expect(hamming(0b1011n, 0b0001n)).toBe(2);
    expect(hamming(0n, (1n << 64n) - 1n)).toBe(64);
  });

  it('finds duplicate table rows', () => {
    expect(findDuplicateRows([['1', 'a'], ['2', 'b'], ['1', 'a'], ['1', 'a']])).toEqual([{ kind: 'exact', items: ['1', '3', '4'] }]);
  });
});

describe('missing values', () => {
  const t = parseCsv('x,kind,z\n1,A,5\n,B,\n3,,7\nNA,A,\n10,A,9\n');
  it('recognises the usual missing tokens', () => {
    for (const v of ['', ' ', 'NA', 'n/a', 'NaN', 'null', '?']) expect(isMissing(v)).toBe(true);
    expect(isMissing('0')).toBe(false);
  });
  it('auto: median for numbers, most frequent for categories', () => {
    const { report, table } = imputeMissing(t);
    expect(report.totalMissing).toBe(5);
    expect(report.columns.map((c) => [c.column, c.missing, c.strategy, c.fill])).toEqual([
      ['x', 2, 'median', '3'],
      ['kind', 1, 'most-frequent', 'A'],
      ['z', 2, 'median', '7'],
    ]);
    expect(table.rows.map((r) => r.join(','))).toEqual(['1,A,5', '3,B,7', '3,A,7', '3,A,7', '10,A,9']);
  });
  it('forward fill and drop', () => {
    expect(imputeMissing(t, 'ffill').table.rows.map((r) => r.join(','))).toEqual(['1,A,5', '1,B,5', '3,B,7', '3,A,7', '10,A,9']);
    const d = imputeMissing(t, 'drop');
    expect(d.report.droppedRows).toBe(3);
    expect(d.table.rows.length).toBe(2);
    expect(() => imputeMissing(t, 'median', { kind: 'median' })).toThrow(/not numeric/);
  });
});

describe('ranges', () => {
  it('reports values outside the declared schema and categories not allowed', () => {
    const t = parseCsv('temp,type\n300,L\n350,M\n-5,X\nabc,L\n');
    const v = findOutOfRange(t, { columns: { temp: { min: 0, max: 320 }, type: { allowed: ['L', 'M', 'H'] } } });
    expect(v.map((x) => `${x.row}:${x.column}:${x.reason}`)).toEqual(['2:temp:above max 320', '3:temp:below min 0', '3:type:not one of L, M, H', '4:temp:not a finite number']);
  });
  it('builds a schema from a model\'s features', () => {
    expect(schemaFromFeatures([{ name: 'a', type: 'numeric', min: 1, max: 2 }, { name: 't', type: 'categorical', categories: ['L'] }])).toEqual({ columns: { a: { min: 1, max: 2 }, t: { allowed: ['L'] } } });
  });
});

describe('label errors (confident learning)', () => {
  it('flags rows whose given label has a low out-of-fold probability, with the suggestion', () => {
    const probs = Float64Array.from([0.9, 0.1, 0.05, 0.95, 0.5, 0.5]);
    const issues = findLabelIssues(probs, 2, [0, 0, 1], ['ok', 'bad'], ['1', '2', '3'], 0.2);
    expect(issues).toEqual([{ item: '2', given: 'ok', givenProbability: 0.05, suggested: 'bad', suggestedProbability: 0.95 }]);
  });

  it('auto: per-class thresholds (mean self-confidence) as in confident learning', () => {
    // class ok: self-confidence 0.9, 0.8, 0.3 -> t_ok 2/3; class bad: 0.6, 0.7 -> t_bad 0.65
    const probs = Float64Array.from([0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.4, 0.6, 0.3, 0.7]);
    const given = [0, 0, 0, 1, 1];
    const issues = findLabelIssues(probs, 2, given, ['ok', 'bad'], ['1', '2', '3', '4', '5'], 'auto');
    // row 3 (ok at 0.3 < 2/3, bad at 0.7 >= 0.65) is flagged; row 4 (bad at 0.6 < 0.65, ok at 0.4 < 2/3) is not
    expect(issues.map((x) => [x.item, x.suggested])).toEqual([['3', 'bad']]);
  });

  it('finds planted label flips in a table with the trainer', () => {
    const rng = createRng(3);
    const lines = ['a,b,label'];
    const flipped = new Set<number>();
    for (let i = 1; i <= 120; i++) {
      const a = rng.normal();
      const b = rng.normal();
      let label = a + b > 0 ? 'good' : 'bad';
      // flip three rows that lie clearly on one side of the boundary
      if (flipped.size < 3 && i > 5 && Math.abs(a + b) > 1) {
        flipped.add(i);
        label = label === 'good' ? 'bad' : 'good';
      }
      lines.push(`${a.toFixed(3)},${b.toFixed(3)},${label}`);
    }
    const { issues } = tableLabelIssues(parseCsv(lines.join('\n')), { target: 'label', folds: 5, threshold: 0.2, train: { ...DEFAULT_TRAIN_OPTIONS, model: 'logistic', lr: 0.1, epochs: 100, batchSize: 16 } });
    const found = new Set(issues.map((x) => Number(x.item)));
    for (const r of flipped) expect(found.has(r), `row ${r}`).toBe(true);
    expect(issues.length).toBeLessThanOrEqual(6);
  });

  it('finds planted flips among image embeddings', () => {
    const rng = createRng(8);
    const n = 60;
    const dim = 8;
    const data = new Float64Array(n * dim);
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = i % 3;
      y.push(c);
      for (let d = 0; d < dim; d++) data[i * dim + d] = (d === c ? 4 : 0) + rng.normal() * 0.5;
    }
    y[4] = 2; // truly class 1
    y[9] = 1; // truly class 0
    const items = y.map((_, i) => `img_${i}.png`);
    const issues = embeddingLabelIssues({ data, rows: n, dim, index: items.map((_, i) => i), failed: [] }, y, ['a', 'b', 'c'], items, 5, 0.2, { ...DEFAULT_TRAIN_OPTIONS, model: 'softmax', epochs: 100, batchSize: 8, patience: 0 });
    expect(issues.map((x) => [x.item, x.suggested]).sort()).toEqual([['img_4.png', 'b'], ['img_9.png', 'a']]);
  });
});

describe('cleaning a table', () => {
  it('removes duplicates, imputes, drops out-of-range rows, writes a copy and never the original', async () => {
    const file = path.join(tmp, 'dirty.csv');
    await fs.writeFile(file, 'temp;type\n300;L\n300;L\n;M\n999;H\n301;L\n');
    const table = await readCsv(file);
    const { report, cleaned } = cleanTable(table, { impute: 'auto', schema: { columns: { temp: { min: 250, max: 350 } } }, dropOutOfRange: true });
    expect(report.duplicates.length).toBe(1);
    expect(report.outOfRange.map((v) => v.row)).toEqual([4]);
    expect(report.missing.totalMissing).toBe(1);
    expect(cleaned.rows).toEqual([['300', 'L'], ['300.5', 'M'], ['301', 'L']]);
    await expect(writeCleanTable(file, file, cleaned)).rejects.toMatchObject({ code: 'LS_ERR_VALIDATION' });
    await writeCleanTable(file, path.join(tmp, 'out', 'clean.csv'), cleaned);
    expect(await fs.readFile(path.join(tmp, 'out', 'clean.csv'), 'utf8')).toBe('temp;type\n300;L\n300.5;M\n301;L\n');
    expect(await fs.readFile(file, 'utf8')).toBe('temp;type\n300;L\n300;L\n;M\n999;H\n301;L\n');
  });
});
