import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-run.ts';
import { NEU_IMAGES } from '../helpers/shared-data.ts';

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ls-e2e-data-'));
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

describe('linesight data', () => {
  it('synth images, then clean finds an added exact copy and --fix writes a copy without it', async () => {
    const dir = path.join(tmp, 'imgs');
    const s = await runCli(['data', 'synth', 'images', '--out', dir, '--per-class', '3', '--size', '64', '--seed', '4']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/wrote 15 synthetic images/);
    await fs.copyFile(path.join(dir, 'spots', 'spots_1.png'), path.join(dir, 'spots', 'spots_copy.png'));
    const out = path.join(tmp, 'imgs-clean');
    const r = await runCli(['data', 'clean', dir, '--fix', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { files: number; exact: Array<{ items: string[] }>; copied: number };
    expect(rep.files).toBe(16);
    expect(rep.exact.map((g) => g.items.map((f) => path.basename(f)))).toEqual([['spots_1.png', 'spots_copy.png']]);
    const nearCopies = (JSON.parse(r.stdout) as { near: Array<{ items: unknown[] }> }).near.reduce((a, g) => a + g.items.length - 1, 0);
    expect(rep.copied).toBe(16 - 1 - nearCopies);
    expect(await fs.readdir(path.join(out, 'spots'))).not.toContain('spots_copy.png');
    expect(await fs.readdir(path.join(dir, 'spots'))).toContain('spots_copy.png');
  });

  it('synth sensors writes a seeded AI4I-layout table', async () => {
    const out = path.join(tmp, 's.csv');
    const r = await runCli(['data', 'synth', 'sensors', '--rows', '500', '--seed', '3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote 500 synthetic rows \(\d+ failures/);
    const text = await fs.readFile(out, 'utf8');
    expect(text.split('\n')[0]).toBe('UDI,Product ID,Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min],Machine failure,TWF,HDF,PWF,OSF,RNF');
    expect(text.trim().split('\n').length).toBe(501);
  });

  it('clean a CSV: duplicates, missing values, out-of-range values against a schema, cleaned copy written next to it', async () => {
    const csv = path.join(tmp, 'readings.csv');
    await fs.writeFile(csv, '\ufefftemp;speed;type\r\n300;1500;L\r\n300;1500;L\r\n;1400;M\r\n301;99999;\r\n302;1450;H\r\n');
    const schema = path.join(tmp, 'schema.yaml');
    await fs.writeFile(schema, 'columns:\n  speed: { min: 1000, max: 3000 }\n  type: { allowed: [L, M, H] }\n');
    const r = await runCli(['data', 'clean', csv, '--schema', schema, '--fix', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { rows: number; duplicates: unknown[]; missing: { totalMissing: number }; outOfRange: Array<{ row: number; column: string }>; cleanedRows: number; written: string };
    expect(rep.rows).toBe(5);
    expect(rep.duplicates.length).toBe(1);
    expect(rep.missing.totalMissing).toBe(1);
    expect(rep.outOfRange).toMatchObject([{ row: 4, column: 'speed' }]);
    expect(rep.cleanedRows).toBe(3);
    expect(rep.written).toBe(path.join(tmp, 'readings.clean.csv'));
    expect(await fs.readFile(rep.written, 'utf8')).toBe('temp;speed;type\n300;1500;L\n301;1400;M\n302;1450;H\n');
    const bad = await runCli(['data', 'clean', path.join(tmp, 'nope.csv')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^LS_ERR_FILE_NOT_FOUND/);
  });

  it('finds the byte-identical NEU pair patches_101.jpg / patches_105.jpg', async () => {
    const dir = path.join(tmp, 'neu', 'patches');
    await fs.mkdir(dir, { recursive: true });
    const src = path.join(NEU_IMAGES, 'patches');
    for (const n of [100, 101, 102, 103, 104, 105]) await fs.symlink(path.join(src, `patches_${n}.jpg`), path.join(dir, `patches_${n}.jpg`));
    const r = await runCli(['data', 'clean', path.join(tmp, 'neu')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/exact duplicates \(same bytes\): 1 group/);
    expect(r.stdout).toMatch(/patches_101\.jpg\s+==\s+\S+patches_105\.jpg/);
  });
});
