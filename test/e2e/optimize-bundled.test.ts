import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { optimizeModel } from '../../src/optimize/optimize.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { AI4I_CSV } from '../helpers/shared-data.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('int8 of the bundled steel-surface model', () => {
  const repo = mkdtempSync(path.join(os.tmpdir(), 'ls-optimize-bundled-'));
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('becomes fully integer in onnxruntime, under 0.30x the size, and agrees with fp32 on real images', async () => {
    // A copy: the bundled repository is never written by tests.
    cpSync(path.join(root, 'models', 'steel-surface'), path.join(repo, 'steel-surface'), { recursive: true });
    const r = await optimizeModel(
      {
        repo,
        model: 'steel-surface:1',
        int8: true,
        calib: path.join(root, 'test/fixtures/neu'),
        eval: path.join(root, 'samples/neu'),
        bench: false,
        threads: 1,
      },
      await getBackend(),
    );
    const ops = r.engine_kernels.optimized;
    // Every Conv but the shallow first one (1 input channel, 3x3) was quantized, and every quantized
    // one became an integer kernel; the first stays one float Conv.
    expect(r.quantize?.quantized_nodes.Conv).toBe(5);
    expect(r.quantize?.skipped).toEqual([{ node: '/features/features.0/features.0.0/Conv', reason: expect.stringMatching(/^shallow filter \(1×3×3 = 9 values/) }]);
    expect(ops['com.microsoft.QLinearConv']).toBe(5);
    expect(Object.entries(ops).filter(([k]) => /(^|\.)(Fused)?Conv$/.test(k)).reduce((a, [, n]) => a + n, 0)).toBe(1);
    expect(r.size.file_ratio).toBeLessThanOrEqual(0.3);
    expect(r.accuracy?.samples).toBe(30);
    expect(r.accuracy?.argmax_agreement).toBeGreaterThanOrEqual(29 / 30);
    expect(r.accuracy?.drop_points).toBeLessThanOrEqual(100 / 30);
  });
});

describe('dynamic int8 of the bundled machine-failure model', () => {
  const repo = mkdtempSync(path.join(os.tmpdir(), 'ls-optimize-tabular-'));
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('runs on integer MatMul kernels and agrees with fp32 on real AI4I rows from a CSV', async () => {
    cpSync(path.join(root, 'models', 'machine-failure'), path.join(repo, 'machine-failure'), { recursive: true });
    // The first 1,000 rows of the real data set (BOM and CRLF included, as the file has them).
    const csv = readFileSync(AI4I_CSV, 'utf8').split('\n').slice(0, 1001).join('\n');
    const csvPath = path.join(repo, 'ai4i-head.csv');
    writeFileSync(csvPath, csv);
    const r = await optimizeModel({ repo, model: 'machine-failure:1', int8: true, dynamic: true, eval: csvPath, batches: [1, 64], iterations: 3, threads: 1 }, await getBackend());
    expect(r.engine_kernels.optimized['com.microsoft.DynamicQuantizeMatMul']).toBe(r.quantize?.quantized_nodes.Gemm ?? 0);
    expect(r.size.file_ratio).toBeLessThan(0.7);
    expect(r.accuracy?.samples).toBe(1000);
    expect(r.accuracy?.argmax_agreement).toBeGreaterThanOrEqual(0.98);
    expect(Math.abs(r.accuracy!.drop_points)).toBeLessThanOrEqual(1);
    expect(r.latency.map((l) => l.batch)).toEqual([1, 64]);
  });
});
