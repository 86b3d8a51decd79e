/**
 * Models: every served model version with its state, requests/s, p50/p99 latency per pipeline
 * stage and batch sizes. States come from GET /v1/models; rates, latencies and batch sizes
 * are computed in the browser from the Prometheus metrics (GET /metrics, parsed by prom.ts) over
 * the last ~30 s of scrapes, so the figures are current rather than averages since start-up.
 * Metrics have no push channel, so this panel scrapes every few seconds — one small text answer,
 * not the line state.
 */
import { ApiError, getJson, getText } from './api.ts';
import { h, ms, num, replaceChildren } from './dom.ts';
import { counterRate, histogramDelta, histogramQuantile, histograms, labelKey, parsePrometheus } from './prom.ts';
import type { Histogram, Sample } from './prom.ts';
import type { ModelRow } from './types.ts';

/** Pipeline stages with a latency histogram `linesight_<stage>_duration_seconds`. */
export const STAGES = ['queue', 'preprocess', 'inference', 'postprocess', 'total'] as const;

/** Figures of one model version over a window of scrapes. */
export interface ModelFigures {
  readonly model: string;
  readonly version: string;
  readonly requestsPerS: number;
  /** p50 and p99 in ms per stage. */
  readonly stages: Readonly<Record<(typeof STAGES)[number], { p50: number; p99: number }>>;
  readonly batchMean: number;
  readonly batchP99: number;
  readonly queueDepth: number;
}

interface Scrape {
  readonly at: number;
  readonly samples: readonly Sample[];
}

function byKey(hs: readonly Histogram[]): Map<string, Histogram> {
  return new Map(hs.map((x) => [labelKey(x.labels), x] as const));
}

/** Requests per model version, summed over endpoints and statuses. */
function requestsBy(samples: readonly Sample[]): Map<string, { model: string; version: string; value: number }> {
  const out = new Map<string, { model: string; version: string; value: number }>();
  for (const s of samples) {
    if (s.name !== 'linesight_inference_requests_total') continue;
    const model = s.labels.model ?? '';
    const version = s.labels.version ?? '';
    const k = labelKey({ model, version });
    const prev = out.get(k);
    out.set(k, { model, version, value: (prev?.value ?? 0) + s.value });
  }
  return out;
}

/**
 * Requests per second of one model version over a window. The total-latency histogram counts every
 * request the service ran whatever its source (HTTP, MQTT, the line); without it, the samples run
 * through the batcher; last, the HTTP request counter.
 */
function requestRate(seconds: number, total: Histogram | undefined, batch: Histogram | undefined, counterNow: number | undefined, counterBefore: number | undefined): number {
  if (!(seconds > 0)) return NaN;
  if (total && total.count > 0) return total.count / seconds;
  if (batch && batch.count > 0) return batch.sum / seconds;
  if (counterNow !== undefined) return counterRate(counterNow, counterBefore ?? 0, seconds);
  return total || batch ? 0 : NaN;
}

/**
 * Model figures from two scrapes (older may be undefined: then since start-up). Pure.
 * Requests/s counts every endpoint and status; latencies and batch sizes are the window's quantiles.
 */
export function modelFigures(now: Scrape, before: Scrape | undefined): ModelFigures[] {
  const seconds = before ? (now.at - before.at) / 1000 : NaN;
  const keys = new Map<string, { model: string; version: string }>();
  const stageNow = STAGES.map((s) => byKey(histograms(now.samples, `linesight_${s}_duration_seconds`)));
  const stageBefore = STAGES.map((s) => (before ? byKey(histograms(before.samples, `linesight_${s}_duration_seconds`)) : new Map<string, Histogram>()));
  const batchNow = byKey(histograms(now.samples, 'linesight_batch_size'));
  const batchBefore = before ? byKey(histograms(before.samples, 'linesight_batch_size')) : new Map<string, Histogram>();
  const reqNow = requestsBy(now.samples);
  const reqBefore = before ? requestsBy(before.samples) : new Map<string, { model: string; version: string; value: number }>();
  const depth = new Map<string, number>();
  for (const s of now.samples) if (s.name === 'linesight_queue_depth') depth.set(labelKey({ model: s.labels.model ?? '', version: s.labels.version ?? '' }), s.value);
  for (const m of [...stageNow, batchNow]) for (const x of m.values()) keys.set(labelKey(x.labels), { model: x.labels.model ?? '', version: x.labels.version ?? '' });
  for (const [k, r] of reqNow) if (!keys.has(k)) keys.set(k, { model: r.model, version: r.version });
  const out: ModelFigures[] = [];
  for (const [k, id] of keys) {
    if (!id.model) continue;
    const stages = {} as Record<(typeof STAGES)[number], { p50: number; p99: number }>;
    STAGES.forEach((s, i) => {
      const cur = stageNow[i]?.get(k);
      const d = cur ? histogramDelta(cur, stageBefore[i]?.get(k)) : undefined;
      stages[s] = d ? { p50: histogramQuantile(0.5, d.buckets) * 1000, p99: histogramQuantile(0.99, d.buckets) * 1000 } : { p50: NaN, p99: NaN };
    });
    const b = batchNow.get(k);
    const bd = b ? histogramDelta(b, batchBefore.get(k)) : undefined;
    const total = stageNow[STAGES.indexOf('total')]?.get(k);
    const totalDelta = total ? histogramDelta(total, stageBefore[STAGES.indexOf('total')]?.get(k)) : undefined;
    const requestsPerS = requestRate(seconds, totalDelta, bd, reqNow.get(k)?.value, reqBefore.get(k)?.value);
    out.push({
      model: id.model,
      version: id.version,
      requestsPerS,
      stages,
      batchMean: bd && bd.count > 0 ? bd.sum / bd.count : NaN,
      batchP99: bd ? histogramQuantile(0.99, bd.buckets) : NaN,
      queueDepth: depth.get(k) ?? NaN,
    });
  }
  return out.sort((a, b) => a.model.localeCompare(b.model) || Number(a.version) - Number(b.version));
}

/** The models table (states + live serving figures). */
export class ModelsPanel {
  private readonly scrapes: Scrape[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private states: ModelRow[] = [];
  private stopped = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly everyMs = 5000,
    private readonly windowMs = 30_000,
  ) {}

  /** Start scraping; the first figures appear after the second scrape. */
  start(): void {
    void this.refreshStates();
    // a second scrape soon after the first gives rates within a second of opening the page
    void this.scrape().then(() => setTimeout(() => void this.scrape(), 1000));
    let ticks = 0;
    this.timer = setInterval(() => {
      void this.scrape();
      // states change rarely (load/unload): every 6th scrape is enough
      if (++ticks % 6 === 0) void this.refreshStates();
    }, this.everyMs);
  }

  /** Model states from GET /v1/models (the serving layer's lifecycle states). */
  async refreshStates(): Promise<void> {
    try {
      const res = await getJson<{ models: Array<{ name: string; version: number; state: string; reason?: string }> }>('/v1/models');
      this.states = res.models.map((r) => ({ name: r.name, version: r.version, state: r.state, ...(r.reason ? { reason: r.reason } : {}) }));
    } catch {
      // without states the table still shows what the metrics know
      this.states = [];
    }
    this.renderLast();
  }

  private async scrape(): Promise<void> {
    if (this.stopped) return;
    try {
      const text = await getText('/metrics');
      const at = Date.now();
      this.scrapes.push({ at, samples: parsePrometheus(text) });
      while (this.scrapes.length > 2 && at - (this.scrapes[1]?.at ?? at) >= this.windowMs) this.scrapes.shift();
      this.renderLast();
    } catch (e) {
      this.root.dataset.error = (e as Error).message;
      // without a valid token every scrape would be one more failed login in the security log
      if (e instanceof ApiError && e.status === 401) this.dispose();
    }
  }

  private renderLast(): void {
    const now = this.scrapes[this.scrapes.length - 1];
    const figures = now ? modelFigures(now, this.scrapes.length > 1 ? this.scrapes[0] : undefined) : [];
    this.render(figures);
  }

  private render(figures: readonly ModelFigures[]): void {
    const rows = new Map<string, { name: string; version: string; state: string; reason?: string | undefined; f?: ModelFigures | undefined }>();
    for (const s of this.states) rows.set(`${s.name}:${s.version}`, { name: s.name, version: String(s.version), state: s.state, reason: s.reason });
    for (const f of figures) {
      const k = `${f.model}:${f.version}`;
      rows.set(k, { name: f.model, version: f.version, state: rows.get(k)?.state ?? 'SERVING', reason: rows.get(k)?.reason, f });
    }
    this.root.dataset.models = String(rows.size);
    if (rows.size === 0) {
      replaceChildren(this.root, h('p', { class: 'empty' }, 'No model has served a request yet.'));
      return;
    }
    replaceChildren(
      this.root,
      ...[...rows.values()]
        .sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version))
        .map((r) =>
          h(
            'section',
            { class: 'model', 'data-model': r.name, 'data-version': r.version, 'data-state': r.state, 'data-rps': r.f ? String(r.f.requestsPerS) : '' },
            h(
              'div',
              { class: 'model-head' },
              h('b', {}, r.name),
              h('span', { class: 'muted' }, ` v${r.version}`),
              h('span', { class: `state state-${r.state.toLowerCase()}`, title: r.reason ?? '' }, r.state),
              h('span', { class: 'model-kpi' }, h('b', {}, num(r.f?.requestsPerS, 1)), ' req/s'),
              h('span', { class: 'model-kpi', title: 'samples per batch: mean / p99' }, 'batch ', h('b', {}, num(r.f?.batchMean, 1)), ` / ${num(r.f?.batchP99, 0)}`),
            ),
            r.f && STAGES.some((st) => Number.isFinite(r.f?.stages[st].p50))
              ? h(
                  'table',
                  { class: 'grid-table stages' },
                  h('thead', {}, h('tr', {}, h('th', {}, 'latency'), ...STAGES.map((s) => h('th', { class: 'num' }, s)))),
                  h(
                    'tbody',
                    {},
                    h('tr', {}, h('th', { scope: 'row' }, 'p50'), ...STAGES.map((s) => h('td', { class: 'num' }, ms(r.f?.stages[s].p50)))),
                    h('tr', {}, h('th', { scope: 'row' }, 'p99'), ...STAGES.map((s) => h('td', { class: 'num' }, ms(r.f?.stages[s].p99)))),
                  ),
                )
              : h('p', { class: 'muted small' }, r.reason ?? (r.f ? 'no per-stage latency recorded for this model' : 'no requests yet')),
          ),
        ),
      h('p', { class: 'muted small' }, 'Requests/s, latency per pipeline stage and batch size over the last 30 s (from /metrics).'),
    );
  }

  dispose(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
