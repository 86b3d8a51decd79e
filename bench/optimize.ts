/**
 * Benchmark of `linesight optimize` on the bundled steel-surface model (run: `npm run bench:optimize`).
 * Works on a temporary copy of the repository (nothing is written into models/); calibrates on the
 * training split and evaluates on the test split of tools/train/split.json, then prints the reports
 * and the targets. Flags: --variants int8,int8-all,int8-percentile,prune,structured,fp16  --iterations N (default 200)  --threads N
 * --tuning: also time fp32 and int8 over intra-op threads × batch sizes, and 1 session × 2 threads
 * against 2 sessions × 1 thread (the data behind the tuning guide in docs/optimize.md).
 * --profile-nodes: onnxruntime's own profiler on fp32 and int8 at batch 1, one thread, 300 runs each:
 * the kernel time of each node (the data behind the shallow-filter rule, MIN_INT8_CONV_DEPTH).
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseWith } from '../src/core/validate.ts';
import { getBackend } from '../src/runtime/index.ts';
import { cpuFeatures } from '../src/runtime/cpu-features.ts';
import { optimizeModel, type OptimizeOptions } from '../src/optimize/optimize.ts';
import { formatReport, type OptimizeReport } from '../src/optimize/report.ts';
import { median } from '../src/optimize/benchmark.ts';
import type { InferenceBackend } from '../src/runtime/backend.ts';
import type { Tensor } from '../src/runtime/tensor.ts';

const root = path.resolve(import.meta.dirname, '..');
const data = process.env.NEU_DIR ?? path.resolve('../shared/datasets/neu-surface-defect/images');
const argv = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
};
const args = parseWith(
  z.strictObject({
    variants: z.array(z.enum(['int8', 'int8-all', 'int8-percentile', 'prune', 'structured', 'fp16'])).min(1),
    iterations: z.number().int().positive(),
    threads: z.number().int().min(0),
    calibCount: z.number().int().positive(),
  }),
  {
    variants: flag('variants', 'int8').split(','),
    iterations: Number(flag('iterations', '200')),
    threads: Number(flag('threads', '0')),
    calibCount: Number(flag('calib-count', '200')),
  },
  'LS_ERR_VALIDATION',
  'bench arguments',
);

const split = z.object({ train: z.array(z.string()), test: z.array(z.string()) }).parse(JSON.parse(readFileSync(path.join(root, 'tools/train/split.json'), 'utf8')));
const files = (list: string[]) => list.map((p) => ({ path: path.join(data, p), label: p.split('/')[0]! }));

const repo = mkdtempSync(path.join(os.tmpdir(), 'linesight-bench-optimize-'));
cpSync(path.join(root, 'models', 'steel-surface'), path.join(repo, 'steel-surface'), { recursive: true });
const backend = await getBackend();
const base: OptimizeOptions = {
  repo,
  model: 'steel-surface:1',
  calibFiles: files(split.train),
  calibCount: args.calibCount,
  evalFiles: files(split.test),
  iterations: args.iterations,
  threads: args.threads,
  batches: [1, 16],
};
const variants: Record<string, Partial<OptimizeOptions>> = {
  int8: { int8: true, calibMethod: 'minmax' },
  // every Conv in int8, the shallow first layer too (what int8 did before MIN_INT8_CONV_DEPTH)
  'int8-all': { int8: true, calibMethod: 'minmax', minConvDepth: 0 },
  'int8-percentile': { int8: true, calibMethod: 'percentile' },
  prune: { prune: 0.3 },
  structured: { prune: 0.125, structured: true },
  fp16: { fp16: true },
};
const cpu = cpuFeatures();
process.stdout.write(`machine: ${cpu.model}, ${cpu.logical_cpus} CPUs, flags ${cpu.flags.join(' ')}; onnxruntime ${backend.version}; node ${process.version}; ${new Date().toISOString()}\n`);
const results: Record<string, OptimizeReport> = {};
try {
  for (const v of args.variants) {
    process.stdout.write(`\n=== ${v} ===\n`);
    const r = await optimizeModel({ ...base, ...variants[v] }, backend, (m) => process.stderr.write(`  ${m}\n`));
    results[v] = r;
    process.stdout.write(`${formatReport(r)}\n`);
  }
  const r = results.int8 ?? results['int8-percentile'];
  if (r) {
    const b1 = r.latency.find((x) => x.batch === 1);
    const b16 = r.latency.find((x) => x.batch === 16);
    const checks: Array<[string, boolean, string]> = [
      ['file size <= 0.30x', r.size.file_ratio <= 0.3, r.size.file_ratio.toFixed(3)],
      ['batch-1 latency <= 0.5x', (b1?.ratio ?? Infinity) <= 0.5, b1?.ratio.toFixed(3) ?? '-'],
      ['batch-16 latency <= 0.7x', (b16?.ratio ?? Infinity) <= 0.7, b16?.ratio.toFixed(3) ?? '-'],
      ['accuracy drop <= 1.0 point', (r.accuracy?.drop_points ?? Infinity) <= 1, r.accuracy?.drop_points.toFixed(2) ?? '-'],
      ['argmax agreement >= 99%', (r.accuracy?.argmax_agreement ?? 0) >= 0.99, r.accuracy ? `${(r.accuracy.argmax_agreement * 100).toFixed(2)}%` : '-'],
    ];
    process.stdout.write('\ntargets (int8):\n');
    for (const [name, ok, value] of checks) process.stdout.write(`  ${ok ? 'met    ' : 'NOT met'}  ${name}: ${value}\n`);
  }
  if (argv.includes('--tuning')) {
    const int8 = results.int8 ?? results['int8-percentile'];
    const models: Array<[string, string]> = [['fp32', path.join(repo, 'steel-surface', '1', 'model.onnx')]];
    if (int8) models.push(['int8', int8.path]);
    await tuning(backend, models, args.iterations);
  }
  if (argv.includes('--profile-nodes')) {
    const models: Array<[string, string]> = [['fp32', path.join(repo, 'steel-surface', '1', 'model.onnx')]];
    for (const v of ['int8', 'int8-all'] as const) if (results[v]) models.push([v, results[v].path]);
    await profileNodes(models);
  }
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(results)}\n`);
} finally {
  rmSync(repo, { recursive: true, force: true });
}

/** Median latency and throughput over threads × batch sizes, then sessions in parallel. */
async function tuning(backend: InferenceBackend, models: ReadonlyArray<[string, string]>, iterations: number): Promise<void> {
  const feeds = (n: number): Record<string, Tensor> => {
    const data = new Float32Array(n * 224 * 224);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 255) / 255;
    return { image: { datatype: 'FP32', shape: [n, 1, 224, 224], data } };
  };
  const time = async (run: () => Promise<unknown>, n: number): Promise<number[]> => {
    await run();
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await run();
      out.push(performance.now() - t0);
    }
    return out;
  };
  process.stdout.write('\ntuning (median ms per run, images/s)\n  model  threads  batch      ms   images/s\n');
  for (const [label, file] of models) {
    for (const threads of [1, 2]) {
      const s = await backend.load(file, { intraOpThreads: threads });
      for (const batch of [1, 8, 16, 32]) {
        const f = feeds(batch);
        const ms = median(await time(() => s.run(f), Math.max(5, Math.round(iterations / Math.sqrt(batch)))));
        process.stdout.write(`  ${label.padEnd(6)} ${String(threads).padStart(7)} ${String(batch).padStart(6)} ${ms.toFixed(2).padStart(7)} ${((batch * 1000) / ms).toFixed(1).padStart(10)}\n`);
      }
      await s.dispose();
    }
    // Two sessions of one thread each, run concurrently, against one session of two threads.
    const f = feeds(16);
    const one = await backend.load(file, { intraOpThreads: 2 });
    const pair = [await backend.load(file, { intraOpThreads: 1 }), await backend.load(file, { intraOpThreads: 1 })];
    const rounds = Math.max(5, Math.round(iterations / 4));
    const t1 = median(await time(() => Promise.all([one.run(f), one.run(f)]), rounds));
    const t2 = median(await time(() => Promise.all(pair.map((p) => p.run(f))), rounds));
    process.stdout.write(`  ${label}: 32 images as 2 batches of 16: 1 session x 2 threads ${t1.toFixed(1)} ms (${(32000 / t1).toFixed(1)} images/s); 2 sessions x 1 thread ${t2.toFixed(1)} ms (${(32000 / t2).toFixed(1)} images/s)\n`);
    for (const x of [one, ...pair]) await x.dispose();
  }
}

/** Per-node kernel time (µs per run) from onnxruntime's profiler, batch 1, one intra-op thread. */
async function profileNodes(models: ReadonlyArray<[string, string]>): Promise<void> {
  const ort = await import('onnxruntime-node');
  const runs = 300;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'linesight-ort-profile-'));
  try {
    const x = new ort.Tensor('float32', new Float32Array(224 * 224).fill(0.5), [1, 1, 224, 224]);
    for (const [label, file] of models) {
      const s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', intraOpNumThreads: 1, enableProfiling: true, profileFilePrefix: path.join(dir, label) });
      for (let i = 0; i < runs; i++) await s.run({ image: x });
      await s.release();
      const prof = readdirSync(dir).filter((n) => n.startsWith(`${label}_`)).map((n) => path.join(dir, n));
      const events = JSON.parse(readFileSync(prof[prof.length - 1]!, 'utf8')) as Array<{ cat: string; name: string; dur: number; args: { op_name?: string; input_type_shape?: unknown[] } }>;
      const nodes = new Map<string, { us: number; input: string }>();
      for (const e of events) {
        if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
        const k = `${e.args.op_name} ${e.name.replace(/_kernel_time$/, '')}`;
        const n = nodes.get(k) ?? { us: 0, input: JSON.stringify(e.args.input_type_shape?.[0] ?? '') };
        n.us += e.dur;
        nodes.set(k, n);
      }
      const total = [...nodes.values()].reduce((a, n) => a + n.us, 0) / runs;
      process.stdout.write(`\nnode profile, ${label}, batch 1, 1 thread, ${runs} runs: ${total.toFixed(0)} µs of kernels per run; slowest nodes:\n`);
      for (const [k, n] of [...nodes].sort((a, b) => b[1].us - a[1].us).slice(0, 8)) process.stdout.write(`  ${(n.us / runs).toFixed(0).padStart(6)} µs  ${k}  ${n.input}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

