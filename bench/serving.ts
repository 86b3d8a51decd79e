/**
 * `npm run bench`: one run, one table, same machine, same model (models/steel-surface):
 *  1. bare onnxruntime-node session.run in-process at the best batch size (the engine's limit);
 *  2. LineSight POST /v2/models/steel-surface/infer with binary tensors, concurrency 16;
 *  3. LineSight POST /v1/inspect/steel-surface from 640x480 JPEG bytes, concurrency 8;
 *  4. the spec's Python pipeline (cv2 + ToTensor + PyTorch, same weights) when /usr/bin/python3 has torch.
 *  rows 2, 3, 3b run a temporary copy of the model with execution.instances: 1, rows 2b/3c one with 2;
 * Environment: BENCH_SECONDS (per phase, default 10), BENCH_REPO (default ./models),
 * BENCH_SERVER_NODE_ARGS (Node flags for each server process, e.g. --cpu-prof --cpu-prof-dir=DIR).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Pool } from 'undici';
import YAML from 'yaml';
import { ModelRepository } from '../src/repository/repository.ts';
import { getBackend } from '../src/runtime/index.ts';
import { LoadedModel } from '../src/pipeline/model.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const REPO = process.env.BENCH_REPO ?? './models';
const MODEL = 'steel-surface';
const NEU = path.resolve('../shared/datasets/neu-surface-defect/images');
const PYTHON = '/usr/bin/python3';

interface Row {
  name: string;
  imgPerS: number;
  p50?: number;
  p99?: number;
  note: string;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN;
}

/** 640x480 JPEGs made by upscaling NEU images (synthetic texture if the data set is absent). */
async function makeJpegs(dir: string, n: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const sources: string[] = [];
  if (existsSync(NEU)) {
    for (const cls of readdirSync(NEU).sort()) {
      const files = readdirSync(path.join(NEU, cls)).filter((f) => f.endsWith('.jpg')).sort().slice(0, Math.ceil(n / 6));
      for (const f of files) sources.push(path.join(NEU, cls, f));
    }
  }
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `img_${String(i).padStart(3, '0')}.jpg`);
    const src = sources[i % Math.max(1, sources.length)];
    const img = src
      ? sharp(src).resize(640, 480, { fit: 'fill' })
      : sharp(Buffer.from(Array.from({ length: 64 * 48 * 3 }, (_, k) => (k * 37 + i * 11) % 256)), { raw: { width: 64, height: 48, channels: 3 } }).resize(640, 480);
    await img.jpeg({ quality: 90 }).toFile(file);
    out.push(file);
  }
  return out;
}

/** Phase 1: the engine alone, at each batch size; returns the best. */
async function bareOrt(modelPath: string): Promise<{ row: Row; perBatch: string }> {
  const results: Array<{ b: number; threads: string; ips: number }> = [];
  const per = Math.max(1, SECONDS / 5);
  // The engine's limit: every batch size, with onnxruntime's default threads (all cores) and with one.
  for (const intra of [0, 1]) {
    const session = await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: 'all', ...(intra ? { intraOpNumThreads: intra } : {}) });
    for (const b of [1, 4, 8, 16, 32]) {
      const x = new ort.Tensor('float32', new Float32Array(b * 224 * 224).fill(0.5), [b, 1, 224, 224]);
      for (let i = 0; i < 2; i++) await session.run({ image: x }, ['logits']);
      let n = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < per * 1000) {
        await session.run({ image: x }, ['logits']);
        n += b;
      }
      results.push({ b, threads: intra ? String(intra) : 'default', ips: n / ((performance.now() - t0) / 1000) });
    }
    await session.release();
  }
  const best = results.reduce((a, r) => (r.ips > a.ips ? r : a));
  return {
    row: { name: '1. onnxruntime-node session.run (in-process)', imgPerS: best.ips, note: `best: batch ${best.b}, intra-op threads ${best.threads}` },
    perBatch: results.map((r) => `b${r.b}/t${r.threads === 'default' ? 'd' : r.threads}: ${r.ips.toFixed(0)}`).join(', '),
  };
}

/** Run `fn` from `concurrency` loops for SECONDS; returns throughput and latencies. */
async function load(concurrency: number, fn: (i: number) => Promise<void>): Promise<{ ips: number; lat: number[]; errors: number }> {
  const lat: number[] = [];
  let errors = 0;
  let i = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        try {
          await fn(i++);
          lat.push(performance.now() - s);
        } catch {
          errors++;
        }
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { ips: lat.length / ((performance.now() - t0) / 1000), lat, errors };
}

/** Authorization header of the server under test (its first admin token). */
const AUTH: Record<string, string> = {};
/** Process id of the server under test. */
let serverPid = 0;

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return NaN;
  }
}

/** Start `linesight serve` on a repository, give a 16-connection pool to `fn`, stop it afterwards. */
async function withServer(repo: string, extra: string[], fn: (pool: Pool) => Promise<void>): Promise<void> {
  const server = await startServerProcess(repo, extra);
  const pool = new Pool(server.url, { connections: 16, pipelining: 1 });
  try {
    await fn(pool);
  } finally {
    await pool.close();
    await server.stop();
  }
}

/** Phase 2: POST /v2/models/{m}/infer with one binary FP32 image tensor per request, concurrency 16. */
async function v2Phase(pool: Pool, name: string): Promise<Row> {
  const x = new Float32Array(224 * 224).fill(0.5);
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'image', shape: [1, 1, 224, 224], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }],
    outputs: [{ name: 'logits', parameters: { binary_data: true } }],
  }));
  const body = Buffer.concat([header, Buffer.from(x.buffer)]);
  const infer = async () => {
    const r = await pool.request({ method: 'POST', path: `/v2/models/${MODEL}/infer`, headers: { ...AUTH, 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }, body });
    await r.body.arrayBuffer();
    if (r.statusCode !== 200) throw new Error(String(r.statusCode));
  };
  for (let i = 0; i < 32; i++) await infer();
  const s0 = cpuSeconds(serverPid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await load(16, infer);
  const wall = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const cpu = `CPU: server ${((cpuSeconds(serverPid) - s0) / wall).toFixed(2)} cores, load generator ${((c1.user + c1.system) / 1e6 / wall).toFixed(2)} cores`;
  const after = await (await pool.request({ method: 'GET', path: '/metrics', headers: AUTH })).body.text();
  const totalMs = histMeanMs(after, 'linesight_total_duration_seconds');
  const inferMs = histMeanMs(after, 'linesight_inference_duration_seconds');
  const queueMs = histMeanMs(after, 'linesight_queue_duration_seconds');
  const batch = histMeanMs(after, 'linesight_batch_size') / 1000;
  return {
    name,
    imgPerS: res.ips,
    p50: percentile(res.lat, 0.5),
    p99: percentile(res.lat, 0.99),
    note: `server: total ${totalMs.toFixed(1)} ms = batch run ${inferMs.toFixed(1)} + overhead ${(totalMs - inferMs).toFixed(1)} (queue ${queueMs.toFixed(1)}); mean batch ${batch.toFixed(1)}; ${cpu}; errors ${res.errors}`,
  };
}

/** Phase 3: POST /v1/inspect with JPEG bytes at concurrency 8. */
async function inspectPhase(pool: Pool, jpegs: Buffer[], name: string, note: string): Promise<Row> {
  const inspect = async (i: number) => {
    const r = await pool.request({ method: 'POST', path: `/v1/inspect/${MODEL}`, headers: { ...AUTH, 'content-type': 'image/jpeg' }, body: jpegs[i % jpegs.length]! });
    await r.body.arrayBuffer();
    if (r.statusCode !== 200) throw new Error(String(r.statusCode));
  };
  for (let i = 0; i < 16; i++) await inspect(i);
  const res = await load(8, inspect);
  return { name, imgPerS: res.ips, p50: percentile(res.lat, 0.5), p99: percentile(res.lat, 0.99), note: `${note}; errors ${res.errors}` };
}

/** Mean of a Prometheus histogram (sum/count) for the model, in ms. */
function histMeanMs(text: string, name: string): number {
  const sum = new RegExp(`^${name}_sum\\{model="${MODEL}"[^}]*\\} ([\\d.e+-]+)`, 'm').exec(text);
  const count = new RegExp(`^${name}_count\\{model="${MODEL}"[^}]*\\} ([\\d.e+-]+)`, 'm').exec(text);
  return sum && count ? (Number(sum[1]) / Number(count[1])) * 1000 : NaN;
}

/** `linesight serve` in a child process on a free port; resolves once it prints its URL. */
async function startServerProcess(repo: string, extra: string[] = []): Promise<{ url: string; stop(): Promise<void> }> {
  // The server runs as a plant runs it: authentication on; the bench uses the first admin token.
  const data = mkdtempSync(path.join(os.tmpdir(), 'ls-bench-data-'));
  // BENCH_SERVER_NODE_ARGS: Node flags for the server process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, 'bin/linesight.mjs', 'serve', '--repo', repo, '--port', '0', '--poll', '0', '--log-level', 'error', '--data', data, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (c) => reject(new Error(`server exited with code ${c}: ${out}`)));
  });
  serverPid = child.pid ?? 0;
  AUTH.authorization = `Bearer ${readFileSync(path.join(data, 'admin-token'), 'utf8').trim()}`;
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

async function main(): Promise<void> {
  const started = new Date();
  const repo = await ModelRepository.open(REPO);
  const resolved = await repo.resolve({ name: MODEL });
  const work = mkdtempSync(path.join(os.tmpdir(), 'ls-bench-'));
  process.stderr.write(`bench: ${MODEL}:${resolved.version}, ${SECONDS}s per phase, work dir ${work}\n`);
  const files = await makeJpegs(path.join(work, 'jpeg'), 48);
  const jpegs = files.map((f) => readFileSync(f));
  const rows: Row[] = [];

  // Reference logits of the first image for the Python parity check (same OpenCV-exact preprocessing).
  const loaded = await LoadedModel.load(resolved, await getBackend());
  const [ref] = await loaded.predictImages([{ bytes: jpegs[0]! }]);
  const refOut = await loaded.infer(loaded.stackImages([await loaded.preprocess(jpegs[0]!)]), ['logits']);
  writeFileSync(path.join(work, 'ref.json'), JSON.stringify({ file: path.basename(files[0]!), logits: Array.from(refOut.logits!.data as Float32Array), label: ref?.ok ? ref.value.label : null }));
  await loaded.dispose();

  process.stderr.write('bench: 1/4 bare onnxruntime-node\n');
  const one = await bareOrt(resolved.modelPath);
  rows.push(one.row);

  // Temporary copies of the model whose config fixes execution.instances (1 for rows 2/3/3b, 2 for
  // 2b/3c), so the rows mean the same whatever the bundled config.yaml says.
  const withInstances = (n: number): string => {
    const dir = path.join(work, `repo-instances${n}`);
    mkdirSync(path.join(dir, MODEL, String(resolved.version)), { recursive: true });
    copyFileSync(resolved.modelPath, path.join(dir, MODEL, String(resolved.version), 'model.onnx'));
    const cfg = YAML.parse(readFileSync(resolved.configPath, 'utf8')) as { execution?: Record<string, unknown> };
    cfg.execution = { ...(cfg.execution ?? {}), instances: n };
    writeFileSync(path.join(dir, MODEL, 'config.yaml'), YAML.stringify(cfg));
    return dir;
  };
  const repo1 = withInstances(1);
  const repo2 = withInstances(2);

  process.stderr.write('bench: 2/4 /v2 infer, binary tensors, concurrency 16; 3/4 /v1/inspect, concurrency 8 (instances: 1)\n');
  // The server runs in its own process, as in production; this process only generates load.
  await withServer(repo1, [], async (pool) => {
    rows.push(await v2Phase(pool, '2. LineSight /v2 infer, binary, concurrency 16, instances: 1'));
    rows.push(await inspectPhase(pool, jpegs, '3. LineSight /v1/inspect, 640x480 JPEG, concurrency 8, instances: 1', 'preprocessing on the main thread, 4 images in flight'));
  });
  process.stderr.write('bench: 3b/4 /v1/inspect with a preprocessing pool of 2 worker threads\n');
  await withServer(repo1, ['--preprocess-threads', '2'], async (pool) => {
    rows.push(await inspectPhase(pool, jpegs, '3b. same, preprocessing in 2 worker threads', 'serve --preprocess-threads 2'));
  });
  // The same model with execution.instances: 2 (two session threads of one intra-op thread each).
  process.stderr.write('bench: 2b, 3c: the same with execution.instances: 2\n');
  await withServer(repo2, [], async (pool) => {
    rows.push(await v2Phase(pool, '2b. /v2 infer as 2, config execution.instances: 2'));
    rows.push(await inspectPhase(pool, jpegs, '3c. /v1/inspect as 3, config execution.instances: 2', 'main-thread preprocessing'));
  });

  process.stderr.write('bench: 4/4 spec Python pipeline (cv2 + ToTensor + PyTorch)\n');
  let four: Row | undefined;
  if (existsSync(PYTHON)) {
    try {
      const { stdout } = await promisify(execFile)(PYTHON, ['bench/python/spec_pipeline.py', resolved.modelPath, path.join(work, 'jpeg'), String(SECONDS), path.join(work, 'ref.json')], {
        env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
        timeout: (SECONDS + 60) * 1000,
      });
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as { img_per_s: number; p50_ms: number; p99_ms: number; max_abs_diff: number; torch: string };
      four = { name: '4. spec pipeline: cv2 + ToTensor + PyTorch (Python)', imgPerS: r.img_per_s, p50: r.p50_ms, p99: r.p99_ms, note: `torch ${r.torch}; logits match onnxruntime within ${r.max_abs_diff.toExponential(1)}` };
      rows.push(four);
    } catch (e) {
      const err = e as { stdout?: string; message: string };
      process.stderr.write(`bench: Python pipeline unavailable: ${(err.stdout || err.message).slice(0, 300)}\n`);
    }
  }

  const base = rows[0]!.imgPerS;
  const byName = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))?.imgPerS ?? NaN;
  const fmt = (n: number | undefined, d = 1) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
  const lines = [
    `LineSight serving benchmark — ${started.toISOString()} — ${os.cpus()[0]?.model ?? 'cpu'} (${os.cpus().length} cores), Node ${process.version}, onnxruntime-node ${ort.env.versions.common}`,
    `model ${MODEL}:${resolved.version}, ${SECONDS} s per phase; engine per batch size (img/s): ${one.perBatch}`,
    '',
    '| Pipeline | img/s | vs 1 | p50 ms | p99 ms | Notes |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${fmt(r.imgPerS)} | ${fmt(r.imgPerS / base, 2)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.note} |`),
    '',
    `Ratios: 2 / 1 = ${fmt(byName('2.') / base, 2)}, 2b / 1 = ${fmt(byName('2b.') / base, 2)} (target >= 0.9)` +
      (four
        ? `; 3 / 4 = ${fmt(byName('3.') / four.imgPerS, 2)}, 3b / 4 = ${fmt(byName('3b.') / four.imgPerS, 2)}, 3c / 4 = ${fmt(byName('3c.') / four.imgPerS, 2)} (target >= 1.5)`
        : '; 4 not run'),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
