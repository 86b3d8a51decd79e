/**
 * Live accuracy against QA feedback (GET /v1/accuracy): per model version the share of labelled
 * parts the model got right and the confusion matrix (rows: true label, columns: predicted). The
 * 1 s `stats` events update the headline numbers; a `feedback` event refetches the matrix.
 */
import { getJson, listOf } from './api.ts';
import { h, pct, replaceChildren } from './dom.ts';
import type { Accuracy, StatsEvent } from './types.ts';

/** The accuracy + confusion matrix panel. */
export class AccuracyPanel {
  private rows: Accuracy[] = [];
  private pending: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly root: HTMLElement) {}

  async refresh(): Promise<void> {
    try {
      this.rows = listOf<Accuracy>(await getJson<unknown>('/v1/accuracy'), 'models');
      this.render();
    } catch (e) {
      replaceChildren(this.root, h('p', { class: 'error' }, `Accuracy unavailable: ${(e as Error).message}`));
    }
  }

  /** QA fed back a label: refetch soon (coalesces a burst of labels into one request). */
  onFeedback(): void {
    if (this.pending !== undefined) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.refresh();
    }, 250);
  }

  onStats(e: StatsEvent): void {
    let changed = false;
    for (const a of e.accuracy) {
      const i = this.rows.findIndex((r) => r.model === a.model && r.version === a.version);
      const cur = this.rows[i];
      if (cur && cur.labelled !== a.labelled) {
        // the matrix is stale: take the new headline now and refetch the matrix
        this.rows[i] = { ...cur, labelled: a.labelled, correct: a.correct, accuracy: a.accuracy };
        changed = true;
      } else if (!cur && a.labelled > 0) {
        changed = true;
      }
    }
    if (changed) {
      this.render();
      this.onFeedback();
    }
  }

  private render(): void {
    const rows = this.rows.filter((r) => r.labelled > 0);
    const total = rows.reduce((s, r) => s + r.labelled, 0);
    this.root.dataset.labelled = String(total);
    this.root.dataset.correct = String(rows.reduce((s, r) => s + r.correct, 0));
    if (rows.length === 0) {
      replaceChildren(this.root, h('p', { class: 'empty' }, 'No QA feedback yet. Label parts in the QA panel to measure live accuracy.'));
      return;
    }
    replaceChildren(
      this.root,
      ...rows.map((r) =>
        h(
          'section',
          { class: 'accuracy', 'data-model': r.model, 'data-version': r.version, 'data-accuracy': r.accuracy, 'data-labelled': r.labelled, 'data-correct': r.correct },
          h(
            'div',
            { class: 'accuracy-head' },
            h('span', { class: 'big', 'data-testid': 'accuracy-value' }, pct(r.accuracy)),
            h('span', {}, h('b', {}, `${r.model} v${r.version}`), h('br'), h('span', { class: 'muted' }, `${r.correct} of ${r.labelled} QA labels agree`)),
          ),
          confusionTable(r),
        ),
      ),
    );
  }

  dispose(): void {
    clearTimeout(this.pending);
  }
}

/** The confusion matrix as a table: diagonal cells (agreement) are marked by a frame and bold text. */
function confusionTable(r: Accuracy): HTMLElement {
  const short = (l: string): string => (l.length > 9 ? `${l.slice(0, 8)}…` : l);
  return h(
    'table',
    { class: 'confusion', 'aria-label': `confusion matrix of ${r.model} v${r.version}` },
    h('thead', {}, h('tr', {}, h('th', { class: 'corner', title: 'rows: true label (QA), columns: model prediction' }, 'true ↓ pred →'), ...r.labels.map((l) => h('th', { title: l }, short(l))))),
    h(
      'tbody',
      {},
      ...r.labels.map((truth, i) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row', title: truth }, short(truth)),
          ...r.labels.map((_, j) => {
            const n = r.confusion[i]?.[j] ?? 0;
            const cls = i === j ? 'diag' : n > 0 ? 'miss' : 'zero';
            return h('td', { class: cls }, n > 0 ? String(n) : '·');
          }),
        ),
      ),
    ),
  );
}
