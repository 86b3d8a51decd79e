/**
 * Suspected label errors by confident learning: every row gets an out-of-fold predicted probability
 * (a model trained on the other folds), and a row whose probability for its given label is below a
 * threshold, while another label is more likely, is listed with that label as the suggestion.
 * Tables use the trainer on their own columns; image folders use a model's embeddings.
 */
import { LsError } from '../../core/errors.ts';
import type { CsvTable } from '../readers/csv.ts';
import { kFolds } from '../../training/split.ts';
import { fitPreprocessor, transform, type DerivedSpec } from '../../training/preprocessing.ts';
import { classLabels, featureColumnNames } from '../../training/tabular.ts';
import { predictScores, train, type Matrix, type TrainOptions } from '../../training/trainer.ts';
import { columnStats, standardize, type Embeddings } from '../../training/embeddings.ts';
import { softmax, sigmoid } from '../../pipeline/post/classify.ts';

/** An item whose given label looks wrong, with the more likely label. */
export interface LabelIssue {
  /** 1-based row number, or the file. */
  readonly item: string;
  readonly given: string;
  readonly givenProbability: number;
  readonly suggested: string;
  readonly suggestedProbability: number;
}

/**
 * Items whose out-of-fold probability of the given label is below a threshold while another label is
 * more likely, most suspicious first. `threshold` is a probability, or `auto` for confident learning's
 * per-class thresholds (Northcutt et al.): t_c = mean probability of class c over the items labelled c;
 * an item is flagged when p(given) < t_given and some other class j has p_j >= t_j (the likeliest of
 * those is suggested).
 */
export function findLabelIssues(probs: Float64Array, k: number, given: readonly number[], labels: readonly string[], items: readonly string[], threshold: number | 'auto'): LabelIssue[] {
  const t = new Float64Array(k).fill(typeof threshold === 'number' ? threshold : 0);
  if (threshold === 'auto') {
    const n = new Float64Array(k);
    given.forEach((g, i) => {
      t[g]! += probs[i * k + g]!;
      n[g]!++;
    });
    for (let c = 0; c < k; c++) t[c] = n[c]! ? t[c]! / n[c]! : 1;
  }
  const out: LabelIssue[] = [];
  given.forEach((g, i) => {
    const row = probs.subarray(i * k, (i + 1) * k);
    if (row[g]! >= t[g]!) return;
    let best = -1;
    for (let c = 0; c < k; c++) {
      if (c === g) continue;
      const confident = threshold === 'auto' ? row[c]! >= t[c]! : row[c]! > row[g]!;
      if (confident && (best < 0 || row[c]! > row[best]!)) best = c;
    }
    if (best >= 0) out.push({ item: items[i]!, given: labels[g]!, givenProbability: row[g]!, suggested: labels[best]!, suggestedProbability: row[best]! });
  });
  return out.sort((a, b) => a.givenProbability - b.givenProbability);
}

/**
 * Out-of-fold class probabilities [n × k]: for each fold, fit on the others and predict it.
 * `fit` returns a predictor for a set of training rows.
 */
export function outOfFold(n: number, k: number, folds: number, y: readonly number[], seed: number, fit: (trainIdx: number[]) => (testIdx: number[]) => Float64Array): Float64Array {
  if (folds < 2) throw new LsError('LS_ERR_VALIDATION', `at least 2 folds are needed, got ${folds}`);
  const fold = kFolds(n, folds, seed, y);
  const probs = new Float64Array(n * k);
  for (let f = 0; f < folds; f++) {
    const trainIdx: number[] = [];
    const testIdx: number[] = [];
    for (let i = 0; i < n; i++) (fold[i] === f ? testIdx : trainIdx).push(i);
    if (!testIdx.length) continue;
    const p = fit(trainIdx)(testIdx);
    testIdx.forEach((r, j) => probs.set(p.subarray(j * k, (j + 1) * k), r * k));
  }
  return probs;
}

function toProbs(scores: Float64Array, rows: number, k: number): Float64Array {
  const out = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) {
    if (k === 2 && scores.length === rows) {
      const p = sigmoid(scores[i]!);
      out[2 * i] = 1 - p;
      out[2 * i + 1] = p;
    } else out.set(softmax(scores.subarray(i * k, (i + 1) * k)), i * k);
  }
  return out;
}

/** What to check in a table and how to train the per-fold models. */
export interface TableLabelOptions {
  readonly target: string;
  readonly features?: readonly string[];
  readonly drop?: readonly string[];
  readonly derived?: readonly DerivedSpec[];
  readonly folds: number;
  readonly threshold: number | 'auto';
  readonly train: TrainOptions;
}

/** Label issues of a table's target column, using the trainer k-fold on the table itself. */
export function tableLabelIssues(table: CsvTable, opts: TableLabelOptions): { labels: string[]; issues: LabelIssue[] } {
  const names = featureColumnNames(table, opts);
  const ti = table.columns.indexOf(opts.target);
  const values = table.rows.map((r) => r[ti]!.trim());
  const labels = classLabels(values);
  if (labels.length < 2) throw new LsError('LS_ERR_TRAINING', `the target "${opts.target}" has a single class; nothing to compare labels against`);
  const y = values.map((v) => labels.indexOf(v));
  const k = labels.length;
  const cols = (idx: readonly number[]): Map<string, string[]> =>
    new Map(names.map((n) => {
      const c = table.columns.indexOf(n);
      return [n, idx.map((i) => table.rows[i]![c]!)] as const;
    }));
  const task = k === 2 ? ({ kind: 'binary' } as const) : ({ kind: 'multiclass', classes: k } as const);
  const probs = outOfFold(table.rows.length, k, opts.folds, y, opts.train.seed, (trainIdx) => {
    const c = cols(trainIdx);
    const pre = fitPreprocessor(names.map((n) => ({ name: n, values: c.get(n)! })), opts.derived ?? []);
    const x = transform(pre, c);
    const net = train(task, x, Float64Array.from(trainIdx, (i) => y[i]!), undefined, undefined, { ...opts.train, patience: 0 }).network;
    return (testIdx) => toProbs(predictScores(net, transform(pre, cols(testIdx))), testIdx.length, k);
  });
  return { labels, issues: findLabelIssues(probs, k, y, labels, y.map((_, i) => String(i + 1)), opts.threshold) };
}

/** Label issues of labelled images from their embeddings (softmax regression, k-fold). */
export function embeddingLabelIssues(emb: Embeddings, y: readonly number[], labels: readonly string[], items: readonly string[], folds: number, threshold: number | 'auto', train0: TrainOptions): LabelIssue[] {
  const k = labels.length;
  if (k < 2) throw new LsError('LS_ERR_DATASET', 'label checks need at least two classes');
  const mat = (idx: readonly number[], s: { mean: Float64Array; std: Float64Array }): Matrix => {
    const raw = new Float64Array(idx.length * emb.dim);
    idx.forEach((r, j) => raw.set(emb.data.subarray(r * emb.dim, (r + 1) * emb.dim), j * emb.dim));
    return { data: standardize(raw, idx.length, emb.dim, s), rows: idx.length, cols: emb.dim };
  };
  const probs = outOfFold(emb.rows, k, folds, y, train0.seed, (trainIdx) => {
    const raw = new Float64Array(trainIdx.length * emb.dim);
    trainIdx.forEach((r, j) => raw.set(emb.data.subarray(r * emb.dim, (r + 1) * emb.dim), j * emb.dim));
    const s = columnStats(raw, trainIdx.length, emb.dim);
    const net = train({ kind: 'multiclass', classes: k }, mat(trainIdx, s), Float64Array.from(trainIdx, (i) => y[i]!), undefined, undefined, { ...train0, model: 'softmax', patience: 0 }).network;
    return (testIdx) => toProbs(predictScores(net, mat(testIdx, s)), testIdx.length, k);
  });
  return findLabelIssues(probs, k, y, labels, items, threshold);
}
