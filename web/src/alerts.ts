/**
 * Open alerts with an Acknowledge button (POST /v1/alerts/:id/ack). The server records who (the
 * authenticated principal, or the name typed in the header when authentication is off) and when;
 * the acknowledged alert stays on screen, greyed with who/when, until the next snapshot.
 */
import { ApiError, getJson, listOf, postJson } from './api.ts';
import { clock, h, num, pct, replaceChildren, sensorName } from './dom.ts';
import type { Alert, AlertEvent } from './types.ts';

const SEVERITY_GLYPH: Readonly<Record<Alert['severity'], string>> = { critical: '◆', warning: '▲', info: '●' };

/** The open-alerts panel. */
export class AlertsPanel {
  private readonly alerts = new Map<string, Alert>();

  constructor(
    private readonly root: HTMLElement,
    private readonly who: () => string | undefined,
    private readonly onCount: (open: number) => void,
    private readonly onError: (message: string) => void,
  ) {}

  private history = false;
  private filter: (a: Alert) => boolean = () => true;

  /** Which alerts belong on the page (the line selector). */
  setFilter(f: (a: Alert) => boolean): void {
    this.filter = f;
  }

  /** Load open alerts, or the latest 50 of every state when history is on. */
  async refresh(): Promise<void> {
    try {
      const body = await getJson<unknown>(this.history ? '/v1/alerts?state=all&limit=50' : '/v1/alerts?state=open');
      this.setSnapshot(listOf<Alert>(body, 'alerts').filter(this.filter));
    } catch (e) {
      this.onError(`Alerts unavailable: ${(e as Error).message}`);
    }
  }

  /** Show acknowledged alerts too (from the store), not only those acknowledged on this page. */
  setHistory(on: boolean): void {
    this.history = on;
    void this.refresh();
  }

  setSnapshot(alerts: readonly Alert[]): void {
    this.alerts.clear();
    for (const a of alerts) this.alerts.set(a.id, a);
    this.render();
  }

  onAlert(e: AlertEvent): void {
    this.alerts.set(e.id, { ...this.alerts.get(e.id), ...e });
    // an always-on screen must not collect every alert of a week: keep the newest 200
    if (this.alerts.size > 200) {
      const oldest = [...this.alerts.values()].sort((a, b) => Number(!a.acknowledged_at) - Number(!b.acknowledged_at) || a.ts - b.ts)[0];
      if (oldest) this.alerts.delete(oldest.id);
    }
    this.render();
  }

  /** Open (unacknowledged) alerts. */
  get openCount(): number {
    let n = 0;
    for (const a of this.alerts.values()) if (!a.acknowledged_at) n++;
    return n;
  }

  private async acknowledge(a: Alert, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    button.textContent = 'Acknowledging…';
    try {
      const by = this.who();
      const res = await postJson<Partial<Alert>>(`/v1/alerts/${encodeURIComponent(a.id)}/ack`, by ? { by } : {});
      this.alerts.set(a.id, { ...a, ...res, acknowledged_by: res?.acknowledged_by ?? by ?? 'you', acknowledged_at: res?.acknowledged_at ?? Date.now() });
      this.render();
    } catch (e) {
      button.disabled = false;
      button.textContent = 'Acknowledge';
      const msg = e instanceof ApiError && e.status === 403 ? 'Your token may not acknowledge alerts (needs role inspector).' : `Acknowledge failed: ${(e as Error).message}`;
      this.onError(msg);
    }
  }

  private render(): void {
    const list = [...this.alerts.values()].sort((a, b) => Number(!!a.acknowledged_at) - Number(!!b.acknowledged_at) || b.ts - a.ts).slice(0, 30);
    this.root.dataset.open = String(this.openCount);
    this.onCount(this.openCount);
    if (list.length === 0) {
      replaceChildren(this.root, h('p', { class: 'ok' }, '✓ No open alerts.'));
      return;
    }
    replaceChildren(
      this.root,
      h(
        'ul',
        { class: 'alerts' },
        ...list.map((a) => {
          const acked = !!a.acknowledged_at;
          const button = h('button', { type: 'button', class: 'btn btn-ack', 'data-alert': a.id }, 'Acknowledge');
          button.addEventListener('click', () => void this.acknowledge(a, button));
          return h(
            'li',
            { class: `alert alert-${a.severity}${acked ? ' alert-acked' : ''}`, 'data-alert': a.id, 'data-acked': acked ? 'true' : 'false' },
            h('span', { class: 'sev', title: a.severity }, SEVERITY_GLYPH[a.severity], ' ', a.severity.toUpperCase()),
            h(
              'div',
              { class: 'alert-body' },
              h('div', { class: 'alert-msg' }, h('b', {}, a.source), ' — ', a.message, a.probability !== undefined && a.probability !== null ? ` (P=${pct(a.probability)})` : ''),
              a.contributions && a.contributions.length > 0
                ? h('div', { class: 'muted small' }, 'driven by: ', a.contributions.map((c) => `${sensorName(c.feature)} ${num(c.value, 1)} (${c.contribution >= 0 ? '+' : ''}${pct(c.contribution, 0)})`).join(', '))
                : null,
              h('div', { class: 'muted small' }, `raised ${clock(a.ts)}`, acked ? ` · acknowledged by ${a.acknowledged_by ?? '?'} at ${clock(a.acknowledged_at ?? undefined)}` : ''),
            ),
            acked ? h('span', { class: 'acked' }, '✓ acknowledged') : button,
          );
        }),
      ),
    );
  }
}
