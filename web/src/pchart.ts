/**
 * The quality control chart: defect proportion per interval as a p-chart (GET /v1/spc/p-chart)
 * with the centre line, the 3-sigma limits (which step with each interval's sample size) and the
 * points that break a Western Electric rule ringed and listed. The server does the SPC maths
 * (src/line/spc.ts); the page only draws it. It refetches while parts flow, at most every few
 * seconds, and not at all when the line stands still.
 */
import uPlot from 'uplot';
import { getJson } from './api.ts';
import { axis, ResponsiveChart, THEME, timeAxis } from './chart.ts';
import { clock, h, pct, replaceChildren } from './dom.ts';
import type { PChart } from './types.ts';

/** What each Western Electric rule means, in the words a quality engineer uses. */
export const WE_RULES: Readonly<Record<number, string>> = {
  1: 'Rule 1: one point beyond 3σ',
  2: 'Rule 2: 2 of 3 beyond 2σ, same side',
  3: 'Rule 3: 4 of 5 beyond 1σ, same side',
  4: 'Rule 4: 8 in a row on one side of the centre',
};

/**
 * The intervals worth drawing: leading intervals without parts are dropped (a line that started a
 * minute ago should not be a dot at the right edge of an empty chart), keeping at least `minPoints`.
 */
export function visiblePoints<T extends { n: number }>(points: readonly T[], minPoints: number): readonly T[] {
  const first = points.findIndex((p) => p.n > 0);
  if (first < 0) return points.slice(-minPoints);
  return points.slice(Math.min(first, Math.max(0, points.length - minPoints)));
}

/** The aligned uPlot data of a p-chart: x (s), p, centre, UCL, LCL, violations. Pure. */
export function pchartData(chart: PChart, minPoints = 12): uPlot.AlignedData {
  const pts = visiblePoints(chart.points, minPoints);
  return [
    pts.map((p) => p.start / 1000),
    pts.map((p) => p.p),
    pts.map((p) => p.cl),
    pts.map((p) => p.ucl),
    pts.map((p) => p.lcl),
    pts.map((p) => (p.violations.length > 0 ? p.p : null)),
  ];
}

/** The p-chart panel. */
export class PChartPanel {
  private chart: ResponsiveChart | undefined;
  private station = '';
  private line: string | undefined;
  private intervalS = 10;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private inflight = false;
  private again = false;

  constructor(
    private readonly plotEl: HTMLElement,
    private readonly listEl: HTMLElement,
    private readonly stationSelect: HTMLSelectElement,
    private readonly intervalSelect: HTMLSelectElement,
    private readonly points = 40,
    private readonly heightPx = 210,
  ) {
    this.intervalS = Number(intervalSelect.value) || 10;
    stationSelect.addEventListener('change', () => {
      this.station = stationSelect.value;
      void this.refresh();
    });
    intervalSelect.addEventListener('change', () => {
      this.intervalS = Number(intervalSelect.value) || 10;
      void this.refresh();
    });
  }

  /** Restrict the chart to one production line (undefined: every line the token may see). */
  setLine(line: string | undefined): void {
    this.line = line;
  }

  /** Offer the stations of the line in the selector (keeps the current choice). */
  setStations(stations: readonly string[]): void {
    const current = this.stationSelect.value;
    const options = [h('option', { value: '' }, 'All stations'), ...stations.map((s) => h('option', { value: s }, s))];
    this.stationSelect.replaceChildren(...options);
    this.stationSelect.value = stations.includes(current) ? current : '';
    this.station = this.stationSelect.value;
  }

  /** Parts are flowing: refresh soon (coalesced). */
  onInspection(): void {
    if (this.pending !== undefined) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.refresh();
    }, Math.min(this.intervalS, 5) * 1000);
  }

  async refresh(): Promise<void> {
    if (this.inflight) {
      // a station/interval change during a fetch must not be lost: fetch again afterwards
      this.again = true;
      return;
    }
    this.inflight = true;
    try {
      const q = new URLSearchParams({ interval_s: String(this.intervalS), points: String(this.points) });
      if (this.station) q.set('station', this.station);
      if (this.line) q.set('line', this.line);
      const chart = await getJson<PChart>(`/v1/spc/p-chart?${q}`);
      this.draw(chart);
    } catch (e) {
      replaceChildren(this.listEl, h('p', { class: 'error' }, `Control chart unavailable: ${(e as Error).message}`));
    } finally {
      this.inflight = false;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    }
  }

  private draw(chart: PChart): void {
    const data = pchartData(chart);
    if (!this.chart) {
      const opts: Omit<uPlot.Options, 'width' | 'height'> = {
        cursor: { drag: { x: false, y: false } },
        legend: { show: true, live: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(0.05, (max ?? 0) * 1.15)] } },
        axes: [timeAxis(), axis({ values: (_u, ticks) => ticks.map((t) => pct(t, 0)), size: 52 })],
        series: [
          {},
          { label: 'defect proportion p', stroke: THEME.p, width: 2, points: { show: true, size: 6, fill: THEME.p } },
          { label: 'centre p̄', stroke: THEME.center, width: 1.5, points: { show: false } },
          { label: 'UCL (3σ)', stroke: THEME.limit, width: 1.5, dash: [6, 4], points: { show: false }, paths: uPlot.paths.stepped?.({ align: 1 }) },
          { label: 'LCL (3σ)', stroke: THEME.limit, width: 1.5, dash: [2, 4], points: { show: false }, paths: uPlot.paths.stepped?.({ align: 1 }) },
          // violations: a large hollow ring around the point, so they stand out by shape as well as colour
          { label: 'rule broken', stroke: THEME.violation, width: 0, paths: () => null, points: { show: true, size: 16, width: 3, stroke: THEME.violation, fill: 'transparent' } },
        ],
      };
      this.chart = new ResponsiveChart(this.plotEl, opts, data, this.heightPx);
    } else {
      this.chart.setData(data);
    }
    const broken = chart.points.filter((p) => p.violations.length > 0);
    this.plotEl.dataset.violations = String(broken.length);
    const last = [...chart.points].reverse().find((p) => p.p !== null);
    // the canvas says nothing to a screen reader: summarise it
    this.plotEl.setAttribute('role', 'img');
    this.plotEl.setAttribute('aria-label', `p-chart: latest defect proportion ${pct(last?.p)}, centre line ${pct(chart.cl)}, ${broken.length} interval(s) breaking a Western Electric rule`);
    this.plotEl.dataset.center = String(chart.cl);
    if (chart.points.length === 0) {
      replaceChildren(this.listEl, h('p', { class: 'empty' }, 'No inspected parts in this window yet.'));
      return;
    }
    if (broken.length === 0) {
      const withParts = chart.points.filter((p) => p.n > 0).length;
      replaceChildren(this.listEl, h('p', { class: 'ok' }, `✓ In control: no Western Electric rule broken in ${withParts} interval${withParts === 1 ? '' : 's'} with parts (p̄ ${pct(chart.cl)}).`));
      return;
    }
    replaceChildren(
      this.listEl,
      h(
        'ul',
        { class: 'violations' },
        ...broken
          .slice(-6)
          .reverse()
          .map((p) => h('li', { 'data-rules': p.violations.join(',') }, h('span', { class: 'ring', 'aria-hidden': 'true' }, '◯'), ` ${clock(p.start)} p=${pct(p.p)} (n=${p.n}) — `, p.violations.map((r) => WE_RULES[r] ?? `rule ${r}`).join('; '))),
      ),
    );
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.chart?.destroy();
  }
}
