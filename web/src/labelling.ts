/**
 * QA labelling: a queue of recent unlabelled parts; the selected part is shown large with the
 * model's label. The inspector confirms it (Enter or the Confirm button) or corrects it (keys 1-9
 * or the label buttons); either POSTs /v1/feedback and moves to the next part. ↑/↓ move through the
 * queue. The queue fills from live inspections only while it has room, so it does not jump while
 * someone works through it.
 */
import { ApiError, getJson, postJson, releasePartImage, showPartImage } from './api.ts';
import { clock, decisionBadge, h, pct, replaceChildren } from './dom.ts';
import type { DecisionKind, InspectionEvent, Part } from './types.ts';

interface QueueItem {
  part_id: string;
  ts: number;
  station: string;
  model: string;
  version: number;
  label: string;
  probability: number;
  decision: DecisionKind;
  has_image: boolean;
}

type PartWithOutputs = Part & { outputs?: Readonly<Record<string, number>> };

/** The QA labelling panel. */
export class LabellingPanel {
  private queue: QueueItem[] = [];
  private selected: string | undefined;
  private readonly labelsByModel = new Map<string, string[]>();
  private readonly cache = new Map<string, PartWithOutputs>();
  private readonly done: Array<{ item: QueueItem; truth: string }> = [];
  private onlyDefects = false;
  private busy = false;

  constructor(
    private readonly queueEl: HTMLElement,
    private readonly detailEl: HTMLElement,
    private readonly filterEl: HTMLInputElement,
    private readonly who: () => string | undefined,
    private readonly onError: (message: string) => void,
    private readonly capacity = 14,
  ) {
    filterEl.addEventListener('change', () => {
      this.onlyDefects = filterEl.checked;
      this.queue = this.queue.filter((q) => this.wanted(q));
      this.ensureSelection();
      this.render();
    });
  }

  private wanted(p: { decision: DecisionKind }): boolean {
    return !this.onlyDefects || p.decision !== 'PASS';
  }

  private learnLabels(p: PartWithOutputs): void {
    if (p.outputs && Object.keys(p.outputs).length > 0 && !this.labelsByModel.has(p.model)) this.labelsByModel.set(p.model, Object.keys(p.outputs));
  }

  /** The stored part (class probabilities, feedback so far); cached while it is in the queue. */
  private async details(item: QueueItem): Promise<PartWithOutputs> {
    const hit = this.cache.get(item.part_id);
    if (hit) return hit;
    const part = await getJson<PartWithOutputs>(`/v1/parts/${encodeURIComponent(item.part_id)}`);
    this.learnLabels(part);
    for (const k of this.cache.keys()) if (!this.queue.some((q) => q.part_id === k)) this.cache.delete(k);
    this.cache.set(item.part_id, part);
    return part;
  }

  setSnapshot(parts: readonly PartWithOutputs[]): void {
    for (const p of parts) this.learnLabels(p);
    this.queue = parts
      .filter((p) => !p.feedback && this.wanted(p))
      .slice(0, this.capacity)
      .map((p) => ({ part_id: p.part_id, ts: p.ts, station: p.station, model: p.model, version: p.version, label: p.label, probability: p.probability, decision: p.decision, has_image: p.has_image !== false }));
    this.ensureSelection();
    this.render();
  }

  onInspection(e: InspectionEvent): void {
    if (this.queue.length >= this.capacity || !this.wanted(e) || this.queue.some((q) => q.part_id === e.part_id)) return;
    this.queue.push({ part_id: e.part_id, ts: e.ts, station: e.station, model: e.model, version: e.version, label: e.label, probability: e.probability, decision: e.decision, has_image: e.has_image });
    const hadSelection = this.selected !== undefined;
    this.ensureSelection();
    if (hadSelection) this.renderQueue();
    else this.render();
  }

  private ensureSelection(): void {
    if (!this.selected || !this.queue.some((q) => q.part_id === this.selected)) this.selected = this.queue[0]?.part_id;
  }

  /** Select a part (from the strip or the queue); parts outside the queue are fetched and put first. */
  async select(partId: string): Promise<void> {
    if (!this.queue.some((q) => q.part_id === partId)) {
      try {
        const p = await getJson<PartWithOutputs>(`/v1/parts/${encodeURIComponent(partId)}`);
        this.learnLabels(p);
        this.cache.set(p.part_id, p);
        this.queue.unshift({ part_id: p.part_id, ts: p.ts, station: p.station, model: p.model, version: p.version, label: p.label, probability: p.probability, decision: p.decision, has_image: p.has_image !== false });
        if (this.queue.length > this.capacity) this.queue.pop();
      } catch (e) {
        this.onError(`Cannot open part ${partId}: ${(e as Error).message}`);
        return;
      }
    }
    this.selected = partId;
    this.render();
  }

  /** Keyboard: Enter confirms, 1-9 correct, ↑/↓ move. Ignored while typing in a text field. */
  onKey(ev: KeyboardEvent): void {
    const t = ev.target as HTMLElement | null;
    const tag = t?.tagName;
    // typing in a field is not labelling; a checkbox or a clicked button keeps focus but types nothing
    const typing = tag === 'TEXTAREA' || tag === 'SELECT' || (tag === 'INPUT' && !['checkbox', 'radio', 'button', 'submit'].includes((t as HTMLInputElement).type));
    if (typing) return;
    // Enter/space on a focused button, and space on a checkbox, are that control's own action
    if (tag === 'BUTTON' && (ev.key === 'Enter' || ev.key === ' ')) return;
    if (tag === 'INPUT' && ev.key === ' ') return;
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const item = this.current();
    if (!item) return;
    if (ev.key === 'Enter') {
      ev.preventDefault();
      void this.submit(item, item.label);
    } else if (/^[1-9]$/.test(ev.key)) {
      const labels = this.labelsByModel.get(item.model);
      const truth = labels?.[Number(ev.key) - 1];
      if (truth) {
        ev.preventDefault();
        void this.submit(item, truth);
      }
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const i = this.queue.findIndex((q) => q.part_id === item.part_id);
      const next = this.queue[Math.min(this.queue.length - 1, Math.max(0, i + (ev.key === 'ArrowDown' ? 1 : -1)))];
      if (next) {
        this.selected = next.part_id;
        this.render();
      }
    }
  }

  private current(): QueueItem | undefined {
    return this.queue.find((q) => q.part_id === this.selected);
  }

  private async submit(item: QueueItem, truth: string): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.detailEl.dataset.busy = 'true';
    try {
      const by = this.who();
      await postJson('/v1/feedback', by ? { part_id: item.part_id, true_label: truth, by } : { part_id: item.part_id, true_label: truth });
      this.done.unshift({ item, truth });
      this.done.length = Math.min(this.done.length, 6);
      // the queue may have been reloaded meanwhile (reconnect, line change): find the part again
      const i = this.queue.findIndex((q) => q.part_id === item.part_id);
      if (i >= 0) this.queue.splice(i, 1);
      this.selected = this.queue[Math.min(Math.max(i, 0), this.queue.length - 1)]?.part_id;
      this.detailEl.dataset.submitted = String(Number(this.detailEl.dataset.submitted ?? '0') + 1);
      this.render();
    } catch (e) {
      const msg = e instanceof ApiError && e.status === 403 ? 'Your token may not send QA feedback (needs role inspector).' : `Feedback failed: ${(e as Error).message}`;
      this.onError(msg);
    } finally {
      this.busy = false;
      delete this.detailEl.dataset.busy;
    }
  }

  private render(): void {
    this.renderQueue();
    void this.renderDetail();
  }

  private renderQueue(): void {
    this.queueEl.dataset.count = String(this.queue.length);
    if (this.queue.length === 0) {
      replaceChildren(this.queueEl, h('li', { class: 'empty' }, 'Nothing to label: waiting for parts.'));
      return;
    }
    replaceChildren(
      this.queueEl,
      ...this.queue.map((q) => {
        const li = h(
          'li',
          { class: `queue-item${q.part_id === this.selected ? ' selected' : ''}`, 'data-part': q.part_id, 'aria-selected': q.part_id === this.selected ? 'true' : 'false' },
          decisionBadge(q.decision),
          h('span', { class: 'q-label' }, q.label),
          h('span', { class: 'muted' }, `${pct(q.probability, 0)} · ${q.station} · ${clock(q.ts)}`),
        );
        li.addEventListener('click', () => {
          this.selected = q.part_id;
          this.render();
        });
        return li;
      }),
    );
  }

  private async renderDetail(): Promise<void> {
    const item = this.current();
    const old = this.detailEl.querySelector('img');
    if (old) releasePartImage(old);
    if (!item) {
      delete this.detailEl.dataset.part;
      replaceChildren(this.detailEl, h('p', { class: 'empty' }, 'Select a part to label.'), this.doneList());
      return;
    }
    this.detailEl.dataset.part = item.part_id;
    const img = h('img', { class: 'qa-image', alt: `part ${item.part_id}` });
    if (item.has_image) showPartImage(img, item.part_id).catch(() => img.classList.add('img-missing'));
    else img.classList.add('img-missing');
    const buttons = h('div', { class: 'label-buttons' }, h('span', { class: 'muted' }, 'loading labels…'));
    const probs = h('div', { class: 'qa-probs' });
    const previous = h('div', { class: 'muted small qa-previous' });
    const confirm = h('button', { type: 'button', class: 'btn btn-confirm', 'data-action': 'confirm' }, h('kbd', {}, 'Enter'), ` Confirm “${item.label}”`);
    confirm.addEventListener('click', () => void this.submit(item, item.label));
    replaceChildren(
      this.detailEl,
      h(
        'div',
        { class: 'qa-main' },
        img,
        h(
          'div',
          { class: 'qa-side' },
          h('div', { class: 'qa-pred' }, h('span', { class: 'muted' }, 'model says'), h('span', { class: 'qa-label' }, item.label), h('span', {}, pct(item.probability)), decisionBadge(item.decision)),
          h('div', { class: 'muted small' }, `${item.model} v${item.version} · ${item.station} · ${clock(item.ts)} · ${item.part_id}`),
          probs,
          previous,
          confirm,
          h('div', { class: 'muted small' }, 'or correct the label:'),
          buttons,
        ),
      ),
      this.doneList(),
    );
    try {
      const part = await this.details(item);
      if (this.selected !== item.part_id) return;
      const labels = this.labelsByModel.get(item.model) ?? [item.label];
      replaceChildren(
        buttons,
        ...labels.map((l, i) => {
          const b = h('button', { type: 'button', class: `btn btn-label${l === item.label ? ' is-pred' : ''}`, 'data-label': l }, i < 9 ? h('kbd', {}, String(i + 1)) : null, ` ${l}`);
          b.addEventListener('click', () => void this.submit(item, l));
          return b;
        }),
      );
      // the runner-up classes tell the inspector how sure the model really was
      const top = Object.entries(part.outputs ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3);
      replaceChildren(
        probs,
        ...top.map(([label, p]) => {
          const fill = h('span', { class: 'prob-fill' });
          fill.style.width = `${Math.round(Math.max(0, Math.min(1, p)) * 100)}%`;
          return h('div', { class: 'prob-row' }, h('span', { class: 'prob-label' }, label), h('span', { class: 'prob-bar' }, fill), h('span', { class: 'prob-value' }, pct(p)));
        }),
      );
      if (part.reason) probs.append(h('div', { class: 'muted small qa-reason' }, `${part.decision}: ${part.reason}`));
      if (part.feedback) replaceChildren(previous, `already labelled “${part.feedback.true_label}”${part.feedback.by ? ` by ${part.feedback.by}` : ''}; a new label replaces it`);
    } catch (e) {
      replaceChildren(buttons, h('span', { class: 'error' }, `labels unavailable: ${(e as Error).message}`));
    }
  }

  private doneList(): HTMLElement | null {
    if (this.done.length === 0) return null;
    return h(
      'ul',
      { class: 'qa-done' },
      ...this.done.map((d) =>
        h('li', {}, d.truth === d.item.label ? '✓ confirmed ' : '✎ corrected ', h('b', {}, d.truth), d.truth === d.item.label ? '' : ` (model: ${d.item.label})`, h('span', { class: 'muted' }, ` · ${d.item.part_id}`)),
      ),
    );
  }
}
