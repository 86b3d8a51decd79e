/**
 * Live accuracy against QA feedback (GET /v1/accuracy): per model version the share of labelled
 * parts the model got right and the confusion matrix (rows: true label, columns: predicted). The
 * 1 s `stats` events update the headline numbers; a `feedback` event refetches the matrix.
 * Machine models are measured against the outcomes machines report: ROC-AUC, and precision and
 * recall of failures at the model's threshold (from the same endpoint, then from `stats` events).
 */
import { getJson, listOf } from './api.ts';
import { h, pct, replaceChildren } from './dom.ts';
import type { Accuracy, MachineModelMetrics, StatsEvent } from './types.ts';

/** The accuracy + confusion matrix panel. */
export class AccuracyPanel {
  private rows: Accuracy[] = [];
  private machines: MachineModelMetrics[] = [];
  private pending: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly root: HTMLElement) {}

  async refresh(): Promise<void> {
    try {
      const body = await getJson<unknown>('/v1/accuracy');
      this.rows = listOf<Accuracy>(body, 'models');
      this.machines = listOf<MachineModelMetrics>(body, 'machines');
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
    const machines = e.machine_accuracy !== undefined && machinesChanged(this.machines, e.machine_accuracy);
    if (machines) this.machines = [...e.machine_accuracy!];
    let labels = false;
    for (const a of e.accuracy) {
      const i = this.rows.findIndex((r) => r.model === a.model && r.version === a.version);
      const cur = this.rows[i];
      if (cur && cur.labelled !== a.labelled) {
        // the matrix is stale: take the new headline now and refetch the matrix
        this.rows[i] = { ...cur, labelled: a.labelled, correct: a.correct, accuracy: a.accuracy };
        labels = true;
      } else if (!cur && a.labelled > 0) {
        labels = true;
      }
    }
    if (machines || labels) this.render();
    if (labels) this.onFeedback();
  }

  private render(): void {
    const rows = this.rows.filter((r) => r.labelled > 0);
    const total = rows.reduce((s, r) => s + r.labelled, 0);
    this.root.dataset.labelled = String(total);
    this.root.dataset.correct = String(rows.reduce((s, r) => s + r.correct, 0));
    const machines = this.machines.filter((m) => m.labelled > 0).map(machineSection);
    if (rows.length === 0) {
      replaceChildren(this.root, h('p', { class: 'empty' }, 'No QA feedback yet. Label parts in the QA panel to measure live accuracy.'), ...machines);
      return;
    }
    replaceChildren(
      this.root,
      ...machines,
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

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function machinesChanged(a: readonly MachineModelMetrics[], b: readonly MachineModelMetrics[]): boolean {
  return a.length !== b.length || a.some((m, i) => m.labelled !== b[i]?.labelled || m.failures !== b[i]?.failures || m.model !== b[i]?.model || m.version !== b[i]?.version);
}

/** A machine model: ROC-AUC (once both outcomes were reported), and failures caught / false alarms at its threshold. */
function machineSection(m: MachineModelMetrics): HTMLElement {
  const auc = m.roc_auc === null ? '–' : m.roc_auc.toFixed(3);
  return h(
    'section',
    { class: 'accuracy machine-accuracy', 'data-machine-model': m.model, 'data-version': m.version, 'data-labelled': m.labelled, 'data-failures': m.failures, 'data-roc-auc': m.roc_auc ?? '' },
    h(
      'div',
      { class: 'accuracy-head' },
      h('span', { class: 'big', title: 'ROC-AUC against the outcomes machines reported' }, auc),
      h(
        'span',
        {},
        h('b', {}, `${m.model} v${m.version}`),
        h('br'),
        h('span', { class: 'muted' }, `ROC-AUC on ${m.labelled} runs with a reported outcome (${plural(m.failures, 'failure')})`),
        h('br'),
        h(
          'span',
          { class: 'muted' },
          m.failures
            ? `at threshold ${m.threshold.toFixed(2)}: ${m.tp} of ${m.failures} caught (recall ${pct(m.recall)}), ${plural(m.fp, 'false alarm')}${m.tp + m.fp ? ` (precision ${pct(m.precision)})` : ''}`
            : `no failure reported yet; ${plural(m.fp, 'alarm')} on healthy runs`,
        ),
      ),
    ),
  );
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
