/**
 * Machine health: the predictive-maintenance model's failure probability over time, one series
 * per machine (uPlot), and a table of each machine's latest sensor values; clicking a sensor row
 * charts that sensor instead (P(failure) row: back). The history comes from
 * GET /v1/machines/:id/history once, then every `machine` event appends; the chart redraws at most
 * once a second however fast readings arrive.
 */
import uPlot from 'uplot';
import { getJson } from './api.ts';
import { axis, ResponsiveChart, THEME, timeAxis } from './chart.ts';
import { clock, decisionBadge, h, num, pct, replaceChildren, sensorName } from './dom.ts';
import type { DecisionKind, MachineEvent, MachineHistory, MachineSummary } from './types.ts';

interface Series {
  ts: number[];
  p: Array<number | null>;
  values: Array<Readonly<Record<string, number>>>;
}

/** What the chart shows: the failure probability or one sensor value. */
const PROBABILITY = 'probability';

interface Latest {
  line?: string | undefined;
  ts?: number | undefined;
  values: Readonly<Record<string, number>>;
  probability?: number | undefined;
  decision?: DecisionKind | undefined;
}

/** Align per-machine time series on one x axis (seconds) for uPlot; gaps are null. Pure. */
export function alignSeries(series: ReadonlyArray<{ ts: readonly number[]; p: ReadonlyArray<number | null> }>): uPlot.AlignedData {
  const xs = new Set<number>();
  for (const s of series) for (const t of s.ts) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i] as const));
  const ys = series.map((s) => {
    const y: Array<number | null> = new Array<number | null>(x.length).fill(null);
    s.ts.forEach((t, i) => {
      const at = index.get(t);
      if (at !== undefined) y[at] = s.p[i] ?? null;
    });
    return y;
  });
  return [x.map((t) => t / 1000), ...ys];
}

/** The machine health panel. */
export class MachinesPanel {
  private readonly series = new Map<string, Series>();
  private readonly latest = new Map<string, Latest>();
  private chart: ResponsiveChart | undefined;
  private chartKey = '';
  private metric = PROBABILITY;
  private redraw: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly plotEl: HTMLElement,
    private readonly tableEl: HTMLElement,
    private readonly captionEl: HTMLElement,
    private readonly windowMinutes = 10,
    private readonly heightPx = 190,
  ) {}

  /** Chart the failure probability (`probability`) or one sensor value key. */
  setMetric(metric: string): void {
    this.metric = metric;
    replaceChildren(this.captionEl, `${metric === PROBABILITY ? 'failure probability' : sensorName(metric)}, last ${this.windowMinutes} min`);
    this.plotEl.dataset.metric = metric;
    this.renderTable();
    this.draw();
  }

  /** Load the snapshot: latest values from the summary, history per machine (configured ones too). */
  async setSnapshot(machines: readonly MachineSummary[], configured: readonly string[] = []): Promise<void> {
    this.latest.clear();
    for (const m of machines) {
      this.latest.set(m.machine, { line: m.line, ts: m.ts ?? undefined, values: m.values, probability: m.probability ?? undefined, decision: m.decision ?? undefined });
    }
    const ids = [...new Set([...machines.map((m) => m.machine), ...configured])];
    const histories = await Promise.all(
      ids.map((id) => getJson<MachineHistory>(`/v1/machines/${encodeURIComponent(id)}/history?minutes=${this.windowMinutes}`).catch((): MachineHistory => ({ machine: id, points: [] }))),
    );
    this.series.clear();
    for (const hist of histories) {
      const pts = hist.points;
      this.series.set(hist.machine, { ts: pts.map((p) => p.ts), p: pts.map((p) => p.probability ?? null), values: pts.map((p) => p.values) });
      const last = hist.points[hist.points.length - 1];
      if (last && !this.latest.has(hist.machine)) this.latest.set(hist.machine, { ts: last.ts, values: last.values, probability: last.probability ?? undefined });
    }
    this.renderTable();
    this.draw();
  }

  onMachine(e: MachineEvent): void {
    this.latest.set(e.machine, { line: e.line, ts: e.ts, values: e.values, probability: e.probability, decision: e.decision });
    let s = this.series.get(e.machine);
    if (!s) {
      s = { ts: [], p: [], values: [] };
      this.series.set(e.machine, s);
    }
    s.ts.push(e.ts);
    s.p.push(e.probability ?? null);
    s.values.push(e.values);
    // keep the time window bounded so an always-on wall screen does not grow without limit
    const cutoff = e.ts - this.windowMinutes * 60_000;
    let drop = 0;
    while (drop < s.ts.length && (s.ts[drop] ?? 0) < cutoff) drop++;
    if (drop > 0) {
      s.ts.splice(0, drop);
      s.p.splice(0, drop);
      s.values.splice(0, drop);
    }
    if (this.redraw === undefined) {
      this.redraw = setTimeout(() => {
        this.redraw = undefined;
        this.renderTable();
        this.draw();
      }, 1000);
    }
  }

  private draw(): void {
    const names = [...this.series.keys()].sort();
    const metric = this.metric;
    const probability = metric === PROBABILITY;
    const data = alignSeries(
      names.map((n) => {
        const s = this.series.get(n) ?? { ts: [], p: [], values: [] };
        return { ts: s.ts, p: probability ? s.p : s.values.map((v) => v[metric] ?? null) };
      }),
    );
    this.plotEl.dataset.machines = String(names.length);
    this.plotEl.setAttribute('role', 'img');
    this.plotEl.setAttribute('aria-label', `${probability ? 'failure probability' : sensorName(metric)} over the last ${this.windowMinutes} minutes for ${names.join(', ') || 'no machine'}; latest values in the table below`);
    const key = `${metric}|${names.join(',')}`;
    if (this.chart && key === this.chartKey) {
      this.chart.setData(data);
      return;
    }
    this.chart?.destroy();
    this.chartKey = key;
    this.chart = new ResponsiveChart(
      this.plotEl,
      {
        cursor: { drag: { x: false, y: false } },
        legend: { show: true, live: false },
        scales: { x: { time: true }, y: probability ? { range: [0, 1] } : { auto: true } },
        axes: [timeAxis(), probability ? axis({ values: (_u, ticks) => ticks.map((t) => pct(t, 0)), size: 48 }) : axis({ size: 56 })],
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: THEME.series[i % THEME.series.length], width: 2, spanGaps: true, points: { show: false } }))],
      },
      data,
      this.heightPx,
    );
  }

  /** A row header that switches the chart to this row's metric. */
  private metricButton(metric: string, text: string): HTMLElement {
    const active = this.metric === metric;
    const b = h('button', { type: 'button', class: `row-metric${active ? ' active' : ''}`, 'aria-pressed': active ? 'true' : 'false', 'data-metric': metric, title: `chart ${text}` }, active ? '◉ ' : '○ ', text);
    b.addEventListener('click', () => this.setMetric(metric));
    return b;
  }

  private renderTable(): void {
    const names = [...this.latest.keys()].sort();
    if (names.length === 0) {
      replaceChildren(this.tableEl, h('p', { class: 'empty' }, 'No machine readings yet.'));
      return;
    }
    const keys = [...new Set(names.flatMap((n) => Object.keys(this.latest.get(n)?.values ?? {})))].sort();
    const latest = names.map((n) => this.latest.get(n) ?? { values: {} });
    // machines as columns: a narrow side panel fits several machines, sensors read down the rows
    replaceChildren(
      this.tableEl,
      h(
        'table',
        { class: 'grid-table machines' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Machine'), ...names.map((n) => h('th', { class: 'num', 'data-machine': n }, n)))),
        h(
          'tbody',
          {},
          h(
            'tr',
            { class: 'row-prob' },
            h('th', { scope: 'row' }, this.metricButton(PROBABILITY, 'P(failure)')),
            ...latest.map((m) => {
              const risky = (m.probability ?? 0) >= 0.5;
              return h('td', { class: `num${risky ? ' risk' : ''}`, 'data-probability': m.probability ?? '' }, risky ? '▲ ' : '', pct(m.probability));
            }),
          ),
          h('tr', {}, h('th', { scope: 'row' }, 'Decision'), ...latest.map((m) => h('td', { class: 'num' }, decisionBadge(m.decision)))),
          ...keys.map((k) => h('tr', {}, h('th', { scope: 'row' }, this.metricButton(k, sensorName(k))), ...latest.map((m) => h('td', { class: 'num' }, num(m.values[k], 1))))),
          h('tr', {}, h('th', { scope: 'row', class: 'muted' }, 'Updated'), ...latest.map((m) => h('td', { class: 'num muted' }, clock(m.ts)))),
        ),
      ),
    );
  }

  dispose(): void {
    clearTimeout(this.redraw);
    this.chart?.destroy();
  }
}
