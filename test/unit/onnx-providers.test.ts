import { mkdtempSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCpuInfo, cpuFeatures } from '../../src/runtime/cpu-features.ts';
import { planProviders, threadSettings } from '../../src/runtime/providers.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { LoadedModel } from '../../src/pipeline/model.ts';
import { ModelRepository } from '../../src/repository/repository.ts';
import { convNet } from './onnx-fixture.ts';

const CPUINFO = `processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B14
physical id\t: 0
core id\t: 0
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16

processor\t: 1
model name\t: AMD EPYC 9B14
physical id\t: 0
core id\t: 1
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16
`;

describe('CPU features', () => {
  it('reads model, flags and physical cores from /proc/cpuinfo text', () => {
    const p = parseCpuInfo(CPUINFO);
    expect(p.model).toBe('AMD EPYC 9B14');
    expect(p.physicalCores).toBe(2);
    expect([...p.flags]).toEqual(expect.arrayContaining(['avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16']));
  });

  it('reports only inference-relevant flags and whether int8 dot products exist', () => {
    const f = cpuFeatures(() => CPUINFO);
    expect(f.flags).toEqual(['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16']);
    expect(f.int8_dot_product).toBe(true);
    const old = cpuFeatures(() => 'processor: 0\nflags: sse4_2 avx avx2\n');
    expect(old.int8_dot_product).toBe(false);
    expect(cpuFeatures(() => { throw new Error('no /proc'); }).flags).toEqual([]);
  });
});

describe('execution providers', () => {
  const available = [
    { name: 'cpu', available: true },
    { name: 'cuda', available: false, note: 'needs the GPU binaries' },
  ];

  it('plans the first available provider and says why the others were skipped', () => {
    expect(planProviders(['cuda', 'cpu'], available)).toEqual({ requested: ['cuda', 'cpu'], effective: 'cpu', fallbacks: [{ provider: 'cuda', reason: 'needs the GPU binaries' }] });
    expect(planProviders(['tpu'], available).fallbacks[0]).toEqual({ provider: 'tpu', reason: 'unknown execution provider' });
    expect(planProviders(['cpu'], available).fallbacks).toEqual([]);
  });

  it('thread settings in force: default intra-op means one per core', () => {
    expect(threadSettings({ providers: ['cpu'], intra_op_threads: 0, inter_op_threads: 0, instances: 2 }, 2)).toEqual({ intra_op: 'default', inter_op: 'default', instances: 2, max_busy_threads: 4 });
    expect(threadSettings({ providers: ['cpu'], intra_op_threads: 1, inter_op_threads: 1, instances: 2 }, 2).max_busy_threads).toBe(2);
  });

  const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-providers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a model asking for [cuda, cpu] runs on the CPU here with one warning naming cuda', async () => {
    mkdirSync(path.join(dir, 'steel-surface', '1'), { recursive: true });
    copyFileSync(new URL('../../models/steel-surface/config.yaml', import.meta.url), path.join(dir, 'steel-surface', 'config.yaml'));
    writeFileSync(path.join(dir, 'steel-surface', '1', 'model.onnx'), convNet({ size: 224 }));
    writeFileSync(
      path.join(dir, 'steel-surface', '1', 'config.yaml'),
      (await import('node:fs')).readFileSync(path.join(dir, 'steel-surface', 'config.yaml'), 'utf8').replace('providers: [cpu]', 'providers: [cuda, cpu]'),
    );
    const repo = await ModelRepository.open(dir);
    const resolved = await repo.resolve({ name: 'steel-surface' });
    expect(resolved.manifest.execution.providers).toEqual(['cuda', 'cpu']);
    const warnings: Array<[string, string]> = [];
    const m = await LoadedModel.load(resolved, await getBackend(), { onProviderFallback: (p, why) => warnings.push([p, why]) });
    try {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]![0]).toBe('cuda');
      expect(warnings[0]![1]).toMatch(/GPU|not installed|unavailable/);
      expect(m.session.provider).toBe('cpu');
      const out = await m.infer(m.stackImages([new Float32Array(224 * 224).fill(0.5)]));
      expect(out.logits!.shape).toEqual([1, 6]);
    } finally {
      await m.dispose();
    }
  });
});
