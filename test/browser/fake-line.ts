/**
 * A scripted stand-in for the line API (contract 5) for the dashboard's own browser test: the
 * same endpoints and event shapes as src/line/http/, fed by a seeded generator instead of models,
 * so the page can be checked against known data (a p-chart with a known rule violation, a known
 * confusion matrix). The real demo line is exercised by dashboard.test.ts as well.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { LsError } from '../../src/core/errors.ts';
import type { LineEvent, StatsEvent } from '../../src/line/events.ts';
import { pChart } from '../../src/line/spc.ts';
import { Metrics } from '../../src/monitoring/metrics.ts';
import type { DecisionKind } from '../../src/pipeline/decide.ts';
import { dashboardPlugin } from '../../src/serving/routes/dashboard.ts';
import { mulberry32 } from '../../src/core/rng.ts';

/** Two lines: cam-1 and the machines on line-1, cam-2 on line-2. */
const LINE_OF: Readonly<Record<string, string>> = { 'cam-1': 'line-1', 'cam-2': 'line-2' };
const LABELS = ['crazing', 'inclusion', 'patches', 'pitted_surface', 'rolled-in_scale', 'scratches'];
const REJECT = new Set(['inclusion', 'patches', 'pitted_surface', 'scratches']);
/** The committed NEU sample images, two per class. */
const NEU = path.resolve(import.meta.dirname, '../fixtures/neu');

interface FakePart {
  part_id: string;
  ts: number;
  line: string;
  station: string;
  model: string;
  version: number;
  label: string;
  probability: number;
  outputs: Record<string, number>;
  decision: DecisionKind;
  reason: string;
  latency_ms: number;
  has_image: boolean;
  image: string;
  feedback?: { true_label: string; by: string; ts: number; correct: boolean };
}


export interface FakeLine {
  readonly url: string;
  readonly app: FastifyInstance;
  /** Parts generated so far. */
  readonly parts: readonly FakePart[];
  dispose(): Promise<void>;
}

/**
 * Start the scripted line on 127.0.0.1:port. History: 30 intervals of 10 s with a defect burst in
 * the 5th-last interval (breaks Western Electric rule 1); then a part every `partEveryMs`.
 */
export async function startFakeLine(opts: { port?: number; distDir?: string; partEveryMs?: number; seed?: number } = {}): Promise<FakeLine> {
  const rand = mulberry32(opts.seed ?? 7);
  const images = readdirSync(NEU).filter((f) => f.endsWith('.jpg')).sort();
  const classOf = (file: string): string => LABELS.filter((l) => file.startsWith(l)).sort((a, b) => b.length - a.length)[0] ?? 'crazing';
  const parts: FakePart[] = [];
  const alerts: Array<{ id: string; ts: number; line: string; source: string; severity: 'critical'; message: string; probability: number; contributions: Array<{ feature: string; value: number; contribution: number }>; acknowledged_by?: string; acknowledged_at?: number }> = [];
  const readings = new Map<string, Array<{ ts: number; probability: number; values: Record<string, number> }>>();
  const listeners = new Set<(e: LineEvent) => void>();
  const metrics = new Metrics();
  const publish = (e: LineEvent): void => {
    for (const l of listeners) l(e);
  };
  let seq = 0;

  const makePart = (ts: number, station: string, defectBias: number): FakePart => {
    const file = images[Math.floor(rand() * images.length)] ?? '';
    const truth = classOf(file);
    // the model is right 85 % of the time; the defect burst forces reject classes
    const label = rand() < defectBias ? 'scratches' : rand() < 0.85 ? truth : LABELS[Math.floor(rand() * LABELS.length)]!;
    const probability = 0.55 + rand() * 0.44;
    const outputs = Object.fromEntries(LABELS.map((l) => [l, l === label ? probability : (1 - probability) / 5]));
    const decision: DecisionKind = probability < 0.6 ? 'REVIEW' : REJECT.has(label) ? 'REJECT' : 'PASS';
    seq++;
    return { part_id: `${station}-${String(seq).padStart(6, '0')}`, ts, line: LINE_OF[station] ?? 'line-1', station, model: 'steel-surface', version: 1, label, probability, outputs, decision, reason: `${label} at ${(probability * 100).toFixed(1)}%`, latency_ms: 4 + rand() * 6, has_image: true, image: file };
  };

  /** Make a part a PASS of class crazing, keeping its outputs and reason consistent. */
  const passAsCrazing = (p: FakePart): void => {
    p.label = 'crazing';
    p.decision = 'PASS';
    p.outputs = Object.fromEntries(LABELS.map((l) => [l, l === 'crazing' ? p.probability : (1 - p.probability) / 5]));
    p.reason = 'crazing is acceptable';
  };

  const start = Date.now();
  // history: 30 intervals of 10 s, about 20 parts each, few defects, one burst
  for (let i = 30; i >= 1; i--) {
    const base = start - i * 10_000;
    for (let k = 0; k < 20; k++) {
      const burst = i === 5 ? 0.9 : 0;
      const p = makePart(base + k * 500, k % 2 ? 'cam-2' : 'cam-1', burst);
      // keep the background defect rate low so the burst stands out
      if (burst === 0 && p.decision !== 'PASS' && rand() < 0.7) passAsCrazing(p);
      parts.push(p);
    }
  }
  const machineIds = ['press-1', 'press-2', 'mill-3'];
  for (const [mi, m] of machineIds.entries()) {
    const hist: Array<{ ts: number; probability: number; values: Record<string, number> }> = [];
    for (let i = 120; i >= 1; i--) hist.push({ ts: start - i * 5000, probability: Math.min(1, 0.02 + mi * 0.05 + rand() * 0.05 + (mi === 2 ? (120 - i) / 200 : 0)), values: machineValues(rand, mi) });
    readings.set(m, hist);
  }
  alerts.push({ id: 'al-1', ts: start - 60_000, line: 'line-1', source: 'mill-3', severity: 'critical', message: 'failure probability above 50%', probability: 0.62, contributions: [{ feature: 'torque_nm', value: 61.2, contribution: 0.21 }, { feature: 'tool_wear_min', value: 212, contribution: 0.12 }] });
  // QA feedback on 12 older parts: a known confusion matrix
  for (const p of parts.slice(0, 12)) {
    const truth = classOf(p.image);
    p.feedback = { true_label: truth, by: 'qa-bot', ts: p.ts + 1000, correct: truth === p.label };
  }

  const stats = (): StatsEvent => {
    const now = Date.now();
    const stations = ['cam-1', 'cam-2'].map((s) => {
      const mine = parts.filter((p) => p.station === s);
      const recent = mine.filter((p) => p.ts >= now - 10_000);
      const last = mine[mine.length - 1];
      return { line: LINE_OF[s] ?? 'line-1', station: s, parts_per_s: recent.length / 10, defect_rate: mine.length ? mine.filter((p) => p.decision !== 'PASS').length / mine.length : 0, total: mine.length, ...(last ? { last_decision: last.decision } : {}) };
    });
    const acc = accuracy();
    return { type: 'stats', ts: now, stations, accuracy: acc.map(({ model, version, labelled, correct, accuracy: a }) => ({ model, version, labelled, correct, accuracy: a })) };
  };

  const accuracy = () => {
    const fb = parts.filter((p) => p.feedback);
    if (fb.length === 0) return [];
    const confusion = LABELS.map(() => LABELS.map(() => 0));
    for (const p of fb) confusion[LABELS.indexOf(p.feedback!.true_label)]![LABELS.indexOf(p.label)]!++;
    const correct = fb.filter((p) => p.feedback!.correct).length;
    return [{ model: 'steel-surface', version: 1, labelled: fb.length, correct, accuracy: correct / fb.length, labels: LABELS, confusion }];
  };

  const app = Fastify({ forceCloseConnections: true });
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof LsError) return reply.code(err.status).send({ error: err.message, code: err.code });
    return reply.code(500).send({ error: String(err), code: 'LS_ERR_INTERNAL' });
  });
  const view = ({ image: _i, ...p }: FakePart) => p;
  app.get('/v1/line/summary', async () => ({
    stations: stats().stations,
    machines: machineIds.map((m) => {
      const last = readings.get(m)!.at(-1)!;
      return { line: 'line-1', machine: m, ts: last.ts, values: last.values, probability: last.probability, decision: last.probability >= 0.5 ? 'ALERT' : 'PASS' };
    }),
    open_alerts: alerts.filter((a) => !a.acknowledged_at).length,
    lines: [
      { id: 'line-1', stations: [{ id: 'cam-1', model: 'steel-surface' }], machines: machineIds.map((id) => ({ id, model: 'machine-failure' })) },
      { id: 'line-2', stations: [{ id: 'cam-2', model: 'steel-surface' }], machines: [] },
    ],
  }));
  app.get<{ Querystring: { limit?: string; line?: string } }>('/v1/parts/recent', async (req) => ({
    parts: parts.filter((p) => !req.query.line || p.line === req.query.line).slice(-Number(req.query.limit ?? 20)).reverse().map(view),
  }));
  app.get<{ Params: { id: string } }>('/v1/parts/:id', async (req) => {
    const p = parts.find((x) => x.part_id === req.params.id);
    if (!p) throw new LsError('LS_ERR_NOT_FOUND', req.params.id);
    return view(p);
  });
  app.get<{ Params: { id: string } }>('/v1/parts/:id/image', async (req, reply) => {
    const p = parts.find((x) => x.part_id === req.params.id);
    if (!p) throw new LsError('LS_ERR_NOT_FOUND', req.params.id);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path.join(NEU, p.image));
    } catch {
      throw new LsError('LS_ERR_NOT_FOUND', `image of ${p.part_id}`);
    }
    return reply.header('content-type', 'image/jpeg').send(bytes);
  });
  app.get<{ Querystring: { state?: string } }>('/v1/alerts', async (req) => ({ alerts: req.query.state === 'all' ? alerts : alerts.filter((a) => !a.acknowledged_at) }));
  app.post<{ Params: { id: string }; Body: { by?: string } | null }>('/v1/alerts/:id/ack', async (req) => {
    const a = alerts.find((x) => x.id === req.params.id);
    if (!a) throw new LsError('LS_ERR_NOT_FOUND', req.params.id);
    a.acknowledged_by = req.body?.by ?? 'anonymous';
    a.acknowledged_at = Date.now();
    publish({ type: 'alert', ...a });
    return a;
  });
  app.post<{ Body: { part_id: string; true_label: string; by?: string } }>('/v1/feedback', async (req) => {
    const p = parts.find((x) => x.part_id === req.body.part_id);
    if (!p) throw new LsError('LS_ERR_NOT_FOUND', req.body.part_id);
    if (!LABELS.includes(req.body.true_label)) throw new LsError('LS_ERR_VALIDATION', 'unknown label');
    p.feedback = { true_label: req.body.true_label, by: req.body.by ?? 'anonymous', ts: Date.now(), correct: req.body.true_label === p.label };
    publish({ type: 'feedback', ts: Date.now(), part_id: p.part_id, model: p.model, predicted: p.label, true_label: p.feedback.true_label, correct: p.feedback.correct, by: p.feedback.by });
    return { part: view(p), correct: p.feedback.correct, accuracy: accuracy()[0] };
  });
  app.get('/v1/accuracy', async () => ({ models: accuracy() }));
  app.get<{ Params: { id: string } }>('/v1/machines/:id/history', async (req) => ({ machine: req.params.id, points: readings.get(req.params.id) ?? [] }));
  app.get<{ Querystring: { station?: string; line?: string; interval_s?: string; points?: string } }>('/v1/spc/p-chart', async (req) => {
    const interval = Number(req.query.interval_s ?? 60) * 1000;
    const n = Number(req.query.points ?? 50);
    const end = Math.floor(Date.now() / interval) * interval + interval;
    const groups = Array.from({ length: n }, (_, i) => ({ start: end - (n - i) * interval, n: 0, defects: 0 }));
    for (const p of parts) {
      if (req.query.station && p.station !== req.query.station) continue;
      if (req.query.line && p.line !== req.query.line) continue;
      const g = groups[Math.floor((p.ts - (end - n * interval)) / interval)];
      if (!g) continue;
      g.n++;
      if (p.decision !== 'PASS') g.defects++;
    }
    return { station: req.query.station ?? null, interval_s: interval / 1000, ...pChart(groups) };
  });
  app.get('/v1/models', async () => ({ ready: true, models: [{ name: 'steel-surface', version: 1, state: 'READY', task: 'classification' }, { name: 'machine-failure', version: 1, state: 'READY', task: 'classification' }] }));
  app.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.text()));
  app.get('/v1/events', (req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (e: LineEvent): void => {
      reply.raw.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    };
    send(stats());
    listeners.add(send);
    req.raw.on('close', () => listeners.delete(send));
  });
  await app.register(dashboardPlugin, opts.distDir ? { distDir: opts.distDir } : {});

  const tick = setInterval(() => {
    const p = makePart(Date.now(), seq % 2 ? 'cam-2' : 'cam-1', 0);
    if (p.decision !== 'PASS' && rand() < 0.7) passAsCrazing(p);
    parts.push(p);
    metrics.observeTimings('steel-surface', 1, { queue_ms: 0.5 + rand(), preprocess_ms: 3 + rand() * 2, inference_ms: 2 + rand() * 3, postprocess_ms: 0.1, total_ms: 6 + rand() * 5 });
    metrics.batchSize.observe({ model: 'steel-surface', version: '1' }, 1 + Math.floor(rand() * 4));
    metrics.requests.inc({ model: 'steel-surface', version: '1', endpoint: 'mqtt', status: '200' });
    const { image: _i, outputs: _o, feedback: _f, ...ev } = p;
    publish({ type: 'inspection', ...ev });
  }, opts.partEveryMs ?? 250);
  const slow = setInterval(() => {
    for (const [mi, m] of machineIds.entries()) {
      const r = { ts: Date.now(), probability: Math.min(1, 0.03 + mi * 0.1 + rand() * 0.05), values: machineValues(rand, mi) };
      readings.get(m)!.push(r);
      metrics.observeTimings('machine-failure', 1, { preprocess_ms: 0.05, inference_ms: 0.2 + rand() * 0.1, postprocess_ms: 0.02, total_ms: 0.3 + rand() * 0.1 });
      metrics.requests.inc({ model: 'machine-failure', version: '1', endpoint: 'mqtt', status: '200' });
      publish({ type: 'machine', ts: r.ts, line: 'line-1', machine: m, values: r.values, model: 'machine-failure', probability: r.probability, decision: r.probability >= 0.5 ? 'ALERT' : 'PASS' });
    }
    publish(stats());
  }, 1000);

  const address = await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  return {
    url: address,
    app,
    parts,
    async dispose() {
      clearInterval(tick);
      clearInterval(slow);
      await app.close();
    },
  };
}

function machineValues(rand: () => number, i: number): Record<string, number> {
  return {
    air_temperature_k: 298 + rand() * 2,
    process_temperature_k: 308.5 + rand() * 1.5,
    rotational_speed_rpm: 1400 + rand() * 200 - i * 60,
    torque_nm: 38 + rand() * 8 + i * 6,
    tool_wear_min: 40 + i * 80 + rand() * 5,
  };
}
