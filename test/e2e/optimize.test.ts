import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditEntries } from '../helpers/audit-entries.ts';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optimizeModel } from '../../src/optimize/optimize.ts';
import type { OptimizeReport } from '../../src/optimize/report.ts';
import { ModelRepository } from '../../src/repository/repository.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { LoadedModel } from '../../src/pipeline/model.ts';
import { convNet, unknownOpModel } from '../unit/onnx-fixture.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const AUDIT = path.join(mkdtempSync(path.join(os.tmpdir(), 'ls-optimize-audit-')), 'audit.log');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Run the CLI; resolves with exit code and output instead of throwing on a non-zero exit. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // model-writing commands record into a test audit log, never the checkout's data/audit.log
    const audited = ['optimize', 'train', 'finetune'].includes(args[0] ?? '') ? ['--audit-file', AUDIT] : [];
    const r = await run(process.execPath, [path.join(root, 'bin/linesight.mjs'), ...args, ...audited], { cwd: root, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

describe('linesight optimize on a model repository', () => {
  const repo = mkdtempSync(path.join(os.tmpdir(), 'ls-optimize-e2e-'));
  const v1 = path.join(repo, 'steel-surface', '1', 'model.onnx');
  let before: string;
  let report: OptimizeReport;

  beforeAll(async () => {
    mkdirSync(path.dirname(v1), { recursive: true });
    copyFileSync(path.join(root, 'models/steel-surface/config.yaml'), path.join(repo, 'steel-surface', 'config.yaml'));
    writeFileSync(v1, convNet({ size: 224, widths: [8, 16, 16, 24], batchNorm: true }));
    before = sha(v1);
    report = await optimizeModel(
      {
        repo,
        model: 'steel-surface',
        int8: true,
        calib: path.join(root, 'test/fixtures/neu'),
        eval: path.join(root, 'samples/neu'),
        batches: [1, 4],
        iterations: 3,
        warmup: 1,
        threads: 1,
      },
      await getBackend(),
    );
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('writes a new version with a version-level config saying how it was made, leaving the original untouched', async () => {
    expect(report.version).toBe(2);
    expect(sha(v1)).toBe(before);
    const r = await ModelRepository.open(repo);
    expect(await r.listVersions('steel-surface')).toEqual([1, 2]);
    const { manifest, configPath } = await r.readManifest('steel-surface', 2);
    expect(configPath).toBe(path.join(repo, 'steel-surface', '2', 'config.yaml'));
    expect(manifest.metadata.optimization).toMatchObject({ made_by: 'linesight optimize', from_version: 1, steps: ['int8-static-minmax'] });
    expect(manifest.labels).toHaveLength(6);
    // No temporary folders are left behind.
    expect(readdirSync(path.join(repo, 'steel-surface')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('reports numbers taken from the real files and runs', () => {
    expect(report.size.baseline.file_bytes).toBe(statSync(v1).size);
    expect(report.size.optimized.file_bytes).toBe(statSync(report.path).size);
    expect(report.size.file_ratio).toBeCloseTo(report.size.optimized.file_bytes / report.size.baseline.file_bytes, 9);
    expect(report.size.file_ratio).toBeLessThan(0.5);
    expect(report.engine_kernels.optimized['com.microsoft.QLinearConv']).toBe(3); // the shallow first conv stays float
    expect(report.engine_kernels.integer_kernels).toBeGreaterThanOrEqual(5);
    expect(report.engine_kernels.baseline['com.microsoft.QLinearConv'] ?? 0).toBe(0);
    expect(report.latency.map((l) => l.batch)).toEqual([1, 4]);
    for (const l of report.latency) {
      expect(l.baseline_ms).toBeGreaterThan(0);
      expect(l.optimized_ms).toBeGreaterThan(0);
      expect(l.ratio).toBeCloseTo(l.optimized_ms / l.baseline_ms, 9);
      expect(l.optimized_per_s).toBeCloseTo((l.batch * 1000) / l.optimized_ms, 6);
    }
    expect(report.accuracy?.samples).toBe(30);
    expect(report.accuracy?.argmax_agreement).toBeGreaterThanOrEqual(0.9);
    expect(report.accuracy?.drop_points).toBeCloseTo((report.accuracy!.baseline_accuracy - report.accuracy!.optimized_accuracy) * 100, 9);
    expect(report.warnings).toEqual([]);
  });

  it('the new version serves predictions through the normal pipeline', async () => {
    const r = await ModelRepository.open(repo);
    const m = await LoadedModel.load(await r.resolve({ name: 'steel-surface', version: 2 }), await getBackend());
    try {
      const bytes = readFileSync(path.join(root, 'test/fixtures/neu/scratches_1.jpg'));
      const [res] = await m.predictImages([{ bytes }]);
      expect(res?.ok).toBe(true);
      if (res?.ok) expect(m.manifest.labels).toContain(res.value.label);
    } finally {
      await m.dispose();
    }
  });

  it('a model preferring [cuda, cpu] is measured on the CPU with one warning naming cuda', async () => {
    mkdirSync(path.join(repo, 'gpu-first', '1'), { recursive: true });
    const config = readFileSync(path.join(root, 'models/steel-surface/config.yaml'), 'utf8').replace('name: steel-surface', 'name: gpu-first').replace('providers: [cpu]', 'providers: [cuda, cpu]');
    expect(config).toContain('providers: [cuda, cpu]');
    writeFileSync(path.join(repo, 'gpu-first', 'config.yaml'), config);
    writeFileSync(path.join(repo, 'gpu-first', '1', 'model.onnx'), convNet({ size: 224 }));
    const r = await optimizeModel({ repo, model: 'gpu-first', fp16: true, batches: [1], iterations: 2, warmup: 0, threads: 1 }, await getBackend());
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^execution provider "cuda" unavailable \(.+\)/);
    expect(r.latency).toHaveLength(1);
    expect(r.fp16?.converted_initializers).toBeGreaterThan(0);
  });

  it('CLI: --prune --json prints the report as one JSON object and writes the next version', async () => {
    const r = await cli('optimize', '-m', 'steel-surface:1', '--repo', repo, '--prune', '0.5', '--no-bench', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as OptimizeReport;
    expect(j.version).toBe(3);
    expect(j.latency).toEqual([]);
    expect(j.size.optimized.sparsity).toBeGreaterThan(0.45);
    expect(j.size.optimized.gzip_bytes).toBeLessThan(j.size.baseline.gzip_bytes);
    expect(existsSync(path.join(repo, 'steel-surface', '3', 'model.onnx'))).toBe(true);
    expect(auditEntries(AUDIT).filter((x) => x.action === 'model.optimize')).toMatchObject([{ target: 'model:steel-surface:3', details: { source_version: 1, steps: j.steps } }]);
  });

  it('CLI: bad option combinations are one clear validation error', async () => {
    const a = await cli('optimize', '-m', 'steel-surface', '--repo', repo, '--int8');
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/LS_ERR_VALIDATION: .*--calib/);
    const b = await cli('optimize', '-m', 'steel-surface', '--repo', repo, '--prune', '2');
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/LS_ERR_VALIDATION: .*prune/);
    expect(await (await ModelRepository.open(repo)).listVersions('steel-surface')).toEqual([1, 2, 3]);
  });

  it('CLI: corrupt, truncated and unknown-operator models are refused and nothing is written', async () => {
    const add = (name: string, bytes: Uint8Array, config: string) => {
      mkdirSync(path.join(repo, name, '1'), { recursive: true });
      writeFileSync(path.join(repo, name, 'config.yaml'), config);
      writeFileSync(path.join(repo, name, '1', 'model.onnx'), bytes);
    };
    const steelConfig = (name: string) => readFileSync(path.join(root, 'models/steel-surface/config.yaml'), 'utf8').replace('name: steel-surface', `name: ${name}`);
    add('garbage', new TextEncoder().encode('not an onnx model'), steelConfig('garbage'));
    const full = convNet({ size: 224 });
    add('truncated', full.subarray(0, Math.floor(full.length * 0.6)), steelConfig('truncated'));
    add('topk', unknownOpModel(), 'name: topk\ntask: classification\nmax_batch_size: 8\ninputs: [{name: x, datatype: FP32, shape: [8]}]\noutputs: [{name: values, datatype: FP32, shape: [2]}]\n');
    for (const [name, code] of [['garbage', 'LS_ERR_MODEL_CORRUPT'], ['truncated', 'LS_ERR_MODEL_CORRUPT'], ['topk', 'LS_ERR_MODEL_UNSUPPORTED']] as const) {
      const r = await cli('optimize', '-m', name, '--repo', repo, '--prune', '0.3', '--no-bench');
      expect(r.code, name).toBe(1);
      expect(r.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(r.stderr, name).toContain(code);
      expect(readdirSync(path.join(repo, name)).sort(), name).toEqual(['1', 'config.yaml']);
    }
    const topk = await cli('optimize', '-m', 'topk', '--repo', repo, '--int8', '--dynamic', '--no-bench');
    expect(topk.stderr).toContain('TopK');
    // refused runs leave no audit entry: still only the one optimize above
    expect(auditEntries(AUDIT).filter((x) => x.action === 'model.optimize')).toHaveLength(1);
  });

  it('CLI: doctor --json lists versions, providers, CPU features and threads in force', async () => {
    const r = await cli('doctor', '--repo', repo, '--json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as {
      node: string; backend: { version: string }; providers: Array<{ name: string; status: string }>;
      cpu: { logical_cpus: number; flags: string[] }; models: Array<{ model: string; threads?: { intra_op: unknown } }>;
    };
    expect(d.node).toBe(process.version);
    expect(d.backend.version).toMatch(/^\d+\.\d+/);
    expect(d.providers).toContainEqual(expect.objectContaining({ name: 'cpu', status: 'available' }));
    expect(d.cpu.logical_cpus).toBeGreaterThan(0);
    const steel = d.models.find((m) => m.model === 'steel-surface') as { threads?: { intra_op: unknown }; serving_intra_op?: number } | undefined;
    expect(steel?.threads?.intra_op).toBe('default');
    expect(steel?.serving_intra_op).toBeGreaterThanOrEqual(1);
    const text = await cli('doctor', '--repo', repo);
    expect(text.stdout).toMatch(/execution providers:\n\s+cpu\s+available/);
  });
});
