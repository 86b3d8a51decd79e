/**
 * Line overview: one card per camera station with parts/s, defect rate, parts inspected and the
 * latest decision. Fed by the line summary snapshot and then by the 1 s `stats` events; the latest
 * decision also follows each `inspection` event so it changes the moment a part is judged.
 */
import { decisionBadge, h, num, pct, replaceChildren } from './dom.ts';
import type { DecisionKind, InspectionEvent, StatsEvent, StationSummary } from './types.ts';

interface StationView {
  line: string;
  station: string;
  parts_per_s: number;
  defect_rate: number;
  total: number;
  last_decision?: DecisionKind | undefined;
  last_label?: string | undefined;
}

/** The station cards panel. */
export class OverviewPanel {
  private readonly stations = new Map<string, StationView>();
  private openAlerts = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly totals: HTMLElement,
  ) {}

  private key(line: string, station: string): string {
    return `${line}/${station}`;
  }

  /** Replace the station list with a snapshot. */
  setSnapshot(stations: readonly StationSummary[], openAlerts: number): void {
    this.stations.clear();
    for (const s of stations) {
      this.stations.set(this.key(s.line, s.station), { ...s, last_decision: s.last_decision ?? undefined });
    }
    this.openAlerts = openAlerts;
    this.render();
  }

  /** The 1 s line summary event. */
  onStats(e: StatsEvent): void {
    for (const s of e.stations) {
      const k = this.key(s.line, s.station);
      const prev = this.stations.get(k);
      this.stations.set(k, { ...prev, ...s, last_decision: s.last_decision ?? prev?.last_decision, last_label: prev?.last_label });
    }
    this.render();
  }

  onInspection(e: InspectionEvent): void {
    const k = this.key(e.line, e.station);
    const prev = this.stations.get(k) ?? { line: e.line, station: e.station, parts_per_s: 0, defect_rate: 0, total: 0 };
    this.stations.set(k, { ...prev, last_decision: e.decision, last_label: e.label });
    this.render();
  }

  setOpenAlerts(n: number): void {
    this.openAlerts = n;
    this.render();
  }

  private render(): void {
    const list = [...this.stations.values()].sort((a, b) => (a.line + a.station).localeCompare(b.line + b.station));
    const rate = list.reduce((s, x) => s + x.parts_per_s, 0);
    const total = list.reduce((s, x) => s + x.total, 0);
    this.totals.dataset.partsPerS = String(rate);
    this.totals.dataset.total = String(total);
    replaceChildren(
      this.totals,
      h('span', { class: 'kpi' }, h('b', { 'data-testid': 'line-rate' }, num(rate, 1)), ' parts/s'),
      h('span', { class: 'kpi' }, h('b', { 'data-testid': 'line-total' }, String(total)), ' inspected'),
      h('span', { class: `kpi${this.openAlerts > 0 ? ' kpi-alert' : ''}` }, h('b', { 'data-testid': 'open-alerts' }, String(this.openAlerts)), ' open alerts'),
    );
    if (list.length === 0) {
      replaceChildren(this.root, h('p', { class: 'empty' }, 'No camera station has reported yet.'));
      return;
    }
    replaceChildren(
      this.root,
      ...list.map((s) =>
        h(
          'article',
          { class: 'station', 'data-station': s.station, 'data-total': s.total, 'data-parts-per-s': s.parts_per_s },
          h('header', {}, h('span', { class: 'station-name' }, s.station), h('span', { class: 'station-line' }, s.line)),
          h(
            'dl',
            { class: 'station-kpis' },
            h('div', {}, h('dt', {}, 'parts/s'), h('dd', { class: 'big' }, num(s.parts_per_s, 1))),
            h('div', {}, h('dt', {}, 'defect rate'), h('dd', { class: 'big' }, pct(s.defect_rate))),
            h('div', {}, h('dt', {}, 'inspected'), h('dd', {}, String(s.total))),
            h('div', {}, h('dt', {}, 'latest'), h('dd', {}, decisionBadge(s.last_decision), s.last_label ? h('span', { class: 'muted' }, ` ${s.last_label}`) : null)),
          ),
        ),
      ),
    );
  }
}
