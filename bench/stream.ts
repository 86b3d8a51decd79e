/**
 * `npm run bench:stream`: sensor readings through MQTT -> features -> model -> store -> decision.
 *  1. throughput: a publisher (worker thread) sends readings as fast as QoS 1 allows; we measure the
 *     sustained rate at which readings are committed (with prediction and decision) in the store;
 *  2. latency: the publisher sends at a fixed rate (default 5,000/s); for each reading we measure
 *     from the publisher's send to the committed decision (p50/p99).
 * LineSight runs in this process exactly as `linesight start` composes it (embedded aedes broker, SQLite
 * with synchronous=FULL, the bundled machine-failure model through the batched ModelManager), or against
 * an external broker with --broker mqtt://host:port.
 * Options: --readings N (100000) --rate R (5000) --seconds S (10) --machines M (10) --sync full|normal --broker URL
 *          --persistence indexed|library (the embedded broker's session store; default indexed)
 *          --compare-persistence (both session stores side by side, alternated twice, with the ratio)
 *          --window W (readings published but not yet committed while flooding; default 10000 on the
 *          embedded broker, 800 on an external one: Mosquitto drops QoS 1 messages beyond max_queued_messages 1000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';

interface PubJob {
  url: string;
  mode: 'flood' | 'paced';
  count: number;
  rate: number;
  machines: number;
  line: string;
  prefix: string;
  protocolVersion: 4 | 5;
  samples: Array<{ type: string; values: string }>;
  /** Flood mode: readings published but not yet committed, at most (end-to-end flow control). */
  window: number;
  /** SharedArrayBuffer with one Int32: readings committed since the run started. */
  committed: SharedArrayBuffer;
}

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

{
  const { values: a } = parseArgs({
    options: {
      readings: { type: 'string', default: '100000' },
      rate: { type: 'string', default: '5000' },
      seconds: { type: 'string', default: '10' },
      machines: { type: 'string', default: '10' },
      sync: { type: 'string', default: 'full' },
      broker: { type: 'string' },
      window: { type: 'string' },
      persistence: { type: 'string', default: 'indexed' },
      'compare-persistence': { type: 'boolean', default: false },
    },
  });
  if (a.persistence !== 'indexed' && a.persistence !== 'library') throw new Error('--persistence indexed|library');
  if (a['compare-persistence'] && a.broker) throw new Error('--compare-persistence compares the embedded broker\'s session stores; drop --broker');
  const { startLine } = await import('../src/line/app.ts');
  const { parseLineConfig } = await import('../src/line/line-config.ts');
  const YAML = (await import('yaml')).default;
  const { readFileSync } = await import('node:fs');
  const base = YAML.parse(readFileSync('config/line.yaml', 'utf8')) as Record<string, unknown>;
  const machines = Number(a.machines);
  const lineId = `bench${process.pid}`;
  const config = parseLineConfig({ ...base, lines: [{ id: lineId, machines: Array.from({ length: machines }, (_, i) => ({ id: `m${i + 1}` })) }] });
  const protocolVersion = a.broker ? 5 : 4;
  // realistic readings: the simulator's AI4I physics, one machine sequence per simulated machine
  // (made once: every measured run publishes the same readings)
  const { Ai4iMachine } = await import('../src/line/simulator/ai4i.ts');
  const { Rng } = await import('../src/line/simulator/rng.ts');
  const rng = new Rng(7);
  const sims = Array.from({ length: machines }, () => new Ai4iMachine(rng));
  const samples = Array.from({ length: 20_000 }, (_, i) => {
    const r = sims[i % machines]!.step();
    return { type: r.type, values: JSON.stringify(r.values) };
  });
  const measure = async (persistence: 'indexed' | 'library') => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-bench-stream-'));
    let committed = 0;
    const shared = new SharedArrayBuffer(4);
    const sharedCount = new Int32Array(shared);
    let latencies: number[] | undefined;
    const line = await startLine({
      brokerPersistence: persistence,
      repoDir: 'models', line: config, db: path.join(dir, 'bench.db'), port: 0, mqttPort: 0, simulator: false, dashboard: false,
      ...(a.broker ? { mqttUrl: a.broker } : {}), clientId: `bench-line-${process.pid}`,
      storeSynchronous: a.sync === 'normal' ? 'NORMAL' : 'FULL',
      onSensorCommitted: (items) => {
        committed += items.length;
        Atomics.add(sharedCount, 0, items.length);
        if (latencies) {
          const t = nowUs();
          for (const it of items) latencies.push((t - Number(it.msg_id.slice(it.msg_id.lastIndexOf('-') + 1))) / 1000);
        }
      },
    });
    const run = (job: Omit<PubJob, 'url' | 'line' | 'machines' | 'protocolVersion' | 'samples' | 'window' | 'committed'>): Promise<void> =>
      new Promise((resolve, reject) => {
        Atomics.store(sharedCount, 0, 0);
        const w = new Worker(new URL('./stream-publisher.mjs', import.meta.url), { workerData: { ...job, url: line.mqttUrl, line: lineId, machines, protocolVersion, samples, window: Number(a.window ?? (a.broker ? 800 : 10_000)), committed: shared } satisfies PubJob });
        w.once('message', () => resolve());
        w.once('error', reject);
      });
    // a reading that never arrives (e.g. a broker dropped it) stops the bench with the count instead of hanging
    const waitCommitted = async (n: number): Promise<void> => {
      let last = committed;
      let since = performance.now();
      while (committed < n) {
        await new Promise((r) => setTimeout(r, 5));
        if (committed !== last) {
          last = committed;
          since = performance.now();
        } else if (performance.now() - since > 30_000) {
          throw new Error(`no progress for 30 s: ${n - committed} readings never committed (lost by the broker?)`);
        }
      }
    };
    const q = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

    const loadBefore = Number(os.loadavg()[0]!.toFixed(2));
    // warm-up: load and JIT everything
    await run({ mode: 'flood', count: 5000, rate: 0, prefix: 'warm' });
    await waitCommitted(5000);

    // 1. throughput
    const N = Number(a.readings);
    const start = committed;
    const marks: Array<{ t: number; n: number }> = [];
    const sampler = setInterval(() => marks.push({ t: performance.now(), n: committed - start }), 50);
    const t0 = performance.now();
    const pub = run({ mode: 'flood', count: N, rate: 0, prefix: 'flood' });
    await waitCommitted(start + N);
    const t1 = performance.now();
    clearInterval(sampler);
    await pub;
    const lo = marks.find((m) => m.n >= N * 0.1)!;
    const hi = marks.find((m) => m.n >= N * 0.9) ?? { t: t1, n: N };
    const sustained = ((hi.n - lo.n) * 1000) / (hi.t - lo.t);
    const overall = (N * 1000) / (t1 - t0);

    // 2. latency at a fixed rate
    const rate = Number(a.rate);
    const count = Math.round(rate * Number(a.seconds));
    latencies = [];
    const before = committed;
    await run({ mode: 'paced', count, rate, prefix: 'paced' });
    await waitCommitted(before + count);
    const lat = latencies.sort((x, y) => x - y);
    const counts = await line.store.counts();
    await line.dispose();
    rmSync(dir, { recursive: true, force: true });
    const fmt = (x: number) => x.toFixed(1);
    const out = {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}`,
      // the bench machine is shared: the 1-minute load average says how much CPU others were using
      load_average_1m: { before: loadBefore, after: Number(os.loadavg()[0]!.toFixed(2)) },
      broker: a.broker ?? `embedded aedes, ${persistence} session store`,
      store: `sqlite synchronous=${a.sync === 'normal' ? 'NORMAL' : 'FULL'}`,
      model: 'machine-failure (bundled), batch via ModelManager.predictRows',
      throughput: { readings: N, sustained_per_s: Math.round(sustained), overall_per_s: Math.round(overall) },
      latency_at_fixed_rate: { rate_per_s: rate, readings: count, p50_ms: fmt(q(lat, 0.5)), p99_ms: fmt(q(lat, 0.99)), max_ms: fmt(lat[lat.length - 1]!) },
      stored: counts.readings,
    };
    return out;
  };

  if (!a['compare-persistence']) {
    process.stdout.write(`${JSON.stringify(await measure(a.persistence), null, 2)}\n`);
    process.exit(0);
  }
  // the embedded broker's session store side by side: aedes-persistence's own (linear scans of the
  // in-flight queue) and LineSight's indexed one, alternated so both see the same machine
  const runs: Array<Awaited<ReturnType<typeof measure>> & { persistence: 'indexed' | 'library' }> = [];
  for (const p of ['library', 'indexed', 'library', 'indexed'] as const) runs.push({ ...(await measure(p)), persistence: p });
  const of = (p: 'indexed' | 'library') => runs.filter((r) => r.persistence === p);
  const sustained = (p: 'indexed' | 'library') => { const xs = of(p).map((r) => r.throughput.sustained_per_s); return xs.reduce((x, y) => x + y, 0) / xs.length; };
  const summary = {
    runs: runs.map((r) => ({ broker: r.broker, sustained_per_s: r.throughput.sustained_per_s, p50_ms: r.latency_at_fixed_rate.p50_ms, p99_ms: r.latency_at_fixed_rate.p99_ms, load_before: r.load_average_1m.before })),
    sustained_per_s: { library: Math.round(sustained('library')), indexed: Math.round(sustained('indexed')) },
    ratio_indexed_vs_library: Number((sustained('indexed') / sustained('library')).toFixed(3)),
  };
  process.stdout.write(`${JSON.stringify({ date: runs[0]!.date, machine: runs[0]!.machine, ...summary }, null, 2)}\n`);
  process.exit(0);
}
