/**
 * Training on a table end to end: choose feature columns, encode the target, split into
 * train / validation / test, learn the preprocessing, train, pick the decision threshold on
 * validation and measure on the held-out test rows.
 */
import { createHash } from 'node:crypto';
import { LsError } from '../core/errors.ts';
import type { CsvTable } from '../data/readers/csv.ts';
import { binaryMetrics, bestF1Threshold, type BinaryMetrics } from '../eval/binary.ts';
import { regressionMetrics, type RegressionMetrics } from '../eval/regression.ts';
import { classificationReport, type ClassificationReport } from '../eval/classification.ts';
import { sigmoid, softmax, argmax } from '../pipeline/post/classify.ts';
import { fitPreprocessor, foldTargetScale, numericColumn, looksNumeric, targetScale, transform, type DerivedSpec, type Preprocessor, type Column } from './preprocessing.ts';
import { predictScores, train, type EpochStats, type Matrix, type TrainOptions, type TrainTask } from './trainer.ts';
import { splitRows } from './split.ts';
import type { Network } from './models/network.ts';

/** Training options plus what to learn from the table and how to split it. */
export interface TabularOptions extends TrainOptions {
  readonly target: string;
  readonly task: 'classification' | 'regression';
  /** Use only these columns as features (default: all but the target and `drop`). */
  readonly features?: readonly string[];
  readonly drop?: readonly string[];
  readonly derived?: readonly DerivedSpec[];
  readonly categorical?: readonly string[];
  readonly testFraction: number;
  readonly valFraction: number;
}

/** Test-split metrics: binary, multi-class or regression. */
export type TabularMetrics =
  | ({ kind: 'binary' } & BinaryMetrics)
  | ({ kind: 'multiclass' } & ClassificationReport)
  | ({ kind: 'regression' } & RegressionMetrics);

/** A model trained on a table, with what is needed to export and describe it. */
export interface TabularModel {
  readonly pre: Preprocessor;
  readonly network: Network;
  readonly task: 'classification' | 'regression';
  readonly target: string;
  /** Class names in output order (classification). */
  readonly labels?: readonly string[];
  /** Binary: probability threshold chosen on validation (best F1). */
  readonly threshold?: number;
  readonly metrics: TabularMetrics;
  readonly history: readonly EpochStats[];
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  readonly rows: { readonly train: number; readonly val: number; readonly test: number };
}

/** sha256 of the training table as parsed (columns and cells), independent of line endings and BOM. */
export function tableHash(table: CsvTable): string {
  const h = createHash('sha256');
  h.update(table.columns.join('\u001f'));
  for (const r of table.rows) h.update(`\u001e${r.join('\u001f')}`);
  return h.digest('hex');
}

/** The feature columns to train on. */
export function featureColumnNames(table: CsvTable, opts: Pick<TabularOptions, 'target' | 'features' | 'drop'>): string[] {
  const has = (c: string): void => {
    if (!table.columns.includes(c)) throw new LsError('LS_ERR_CSV', `no column "${c}" (columns: ${table.columns.join(', ')})`);
  };
  has(opts.target);
  if (opts.features?.length) {
    opts.features.forEach(has);
    if (opts.features.includes(opts.target)) throw new LsError('LS_ERR_VALIDATION', `the target "${opts.target}" cannot also be a feature`);
    return [...opts.features];
  }
  (opts.drop ?? []).forEach(has);
  const names = table.columns.filter((c) => c !== opts.target && !(opts.drop ?? []).includes(c));
  if (!names.length) throw new LsError('LS_ERR_TRAINING', 'no feature columns are left after removing the target and the dropped columns');
  return names;
}

/** Class names of a target column: numeric labels sorted by value, others alphabetically. */
export function classLabels(values: readonly string[]): string[] {
  const set = [...new Set(values.map((v) => v.trim()))];
  return looksNumeric(set) && set.every((v) => Number.isFinite(Number(v))) ? set.sort((a, b) => Number(a) - Number(b)) : set.sort();
}

function subset(values: readonly string[], idx: readonly number[]): string[] {
  return idx.map((i) => values[i]!);
}

function targetFor(table: CsvTable, opts: TabularOptions): { y: Float64Array; labels?: string[]; task: TrainTask } {
  const ti = table.columns.indexOf(opts.target);
  const values = table.rows.map((r) => r[ti]!);
  const empty = values.findIndex((v) => v.trim() === '');
  if (empty >= 0) throw new LsError('LS_ERR_CSV', `the target column "${opts.target}" is empty at row ${empty + 1}`);
  if (opts.task === 'regression') {
    if (!looksNumeric(values)) throw new LsError('LS_ERR_TRAINING', `regression needs a numeric target; "${opts.target}" is not numeric (use --task classification?)`);
    return { y: numericColumn({ name: opts.target, values }), task: { kind: 'regression' } };
  }
  // A numeric-looking label column with a NaN/Inf/text cell is a data error, not an extra class.
  if (looksNumeric(values)) numericColumn({ name: opts.target, values });
  const labels = classLabels(values);
  if (labels.length < 2) throw new LsError('LS_ERR_TRAINING', `the target "${opts.target}" has a single class (${labels[0]}); classification needs at least two`);
  if (labels.length > 200) throw new LsError('LS_ERR_TRAINING', `the target "${opts.target}" has ${labels.length} classes; is it a regression target? (--task regression)`);
  const index = new Map(labels.map((l, i) => [l, i]));
  const y = Float64Array.from(values, (v) => index.get(v.trim())!);
  return { y, labels, task: labels.length === 2 ? { kind: 'binary' } : { kind: 'multiclass', classes: labels.length } };
}

/** Probabilities of the positive class (binary) from network scores. */
export function positiveProbabilities(scores: Float64Array): Float64Array {
  return Float64Array.from(scores, sigmoid);
}

function matrixFor(pre: Preprocessor, table: CsvTable, names: readonly string[], idx: readonly number[]): Matrix {
  const cols = new Map<string, string[]>();
  for (const n of names) {
    const ci = table.columns.indexOf(n);
    cols.set(n, idx.map((i) => table.rows[i]![ci]!));
  }
  return transform(pre, cols);
}

/** Train a model on a table and measure it on a held-out test split. */
export function trainTabular(table: CsvTable, opts: TabularOptions): TabularModel {
  const names = featureColumnNames(table, opts);
  const { y, labels, task } = targetFor(table, opts);
  const classes = task.kind === 'regression' ? undefined : y;
  for (const [c, n] of labelCounts(y, labels)) {
    if (n < 3) throw new LsError('LS_ERR_TRAINING', `class "${c}" has only ${n} row(s); at least 3 are needed to train, validate and test`);
  }
  const split = splitRows(table.rows.length, opts.testFraction, opts.valFraction, opts.seed, classes);
  if (split.train.length < 2) throw new LsError('LS_ERR_TRAINING', `only ${split.train.length} training row(s) after the split; more data is needed`);
  const columns: Column[] = names.map((n) => {
    const ci = table.columns.indexOf(n);
    return { name: n, values: subset(table.rows.map((r) => r[ci]!), split.train) };
  });
  // Check every row of every numeric column (not only the training rows) so bad cells are reported up front.
  const pre = fitPreprocessor(columns, opts.derived ?? [], new Set(opts.categorical ?? []));
  const all = matrixFor(pre, table, names, table.rows.map((_, i) => i));
  const rowsOf = (idx: readonly number[]): Matrix => {
    const data = new Float64Array(idx.length * all.cols);
    idx.forEach((r, j) => data.set(all.data.subarray(r * all.cols, (r + 1) * all.cols), j * all.cols));
    return { data, rows: idx.length, cols: all.cols };
  };
  const pick = (idx: readonly number[]): Float64Array => Float64Array.from(idx, (i) => y[i]!);
  let yTrain = pick(split.train);
  let yVal = pick(split.val);
  const scale = task.kind === 'regression' ? targetScale(yTrain) : undefined;
  if (scale) {
    yTrain = yTrain.map((v) => (v - scale.mean) / scale.std);
    yVal = yVal.map((v) => (v - scale.mean) / scale.std);
  }
  const valX = split.val.length ? rowsOf(split.val) : undefined;
  const result = train(task, rowsOf(split.train), yTrain, valX, valX ? yVal : undefined, opts);
  if (scale) foldTargetScale(result.network, scale);
  const testX = rowsOf(split.test.length ? split.test : split.val.length ? split.val : split.train);
  const yTest = pick(split.test.length ? split.test : split.val.length ? split.val : split.train);
  const scores = predictScores(result.network, testX);
  let metrics: TabularMetrics;
  let threshold: number | undefined;
  if (task.kind === 'binary') {
    const valScores = valX ? positiveProbabilities(predictScores(result.network, valX)) : positiveProbabilities(predictScores(result.network, rowsOf(split.train)));
    threshold = bestF1Threshold(valScores, valX ? pick(split.val) : pick(split.train));
    metrics = { kind: 'binary', ...binaryMetrics(positiveProbabilities(scores), yTest, threshold) };
  } else if (task.kind === 'multiclass') {
    const k = task.classes;
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < testX.rows; i++) pairs.push([labels![yTest[i]!]!, labels![argmax(softmax(scores.subarray(i * k, (i + 1) * k)))]!]);
    metrics = { kind: 'multiclass', ...classificationReport(pairs, labels!) };
  } else {
    metrics = { kind: 'regression', ...regressionMetrics(scores, yTest) };
  }
  return {
    pre,
    network: result.network,
    task: opts.task,
    target: opts.target,
    ...(labels ? { labels } : {}),
    ...(threshold !== undefined ? { threshold } : {}),
    metrics,
    history: result.history,
    bestEpoch: result.bestEpoch,
    stoppedEarly: result.stoppedEarly,
    rows: { train: split.train.length, val: split.val.length, test: split.test.length },
  };
}

function labelCounts(y: Float64Array, labels: readonly string[] | undefined): Array<[string, number]> {
  if (!labels) return [];
  const counts = new Array<number>(labels.length).fill(0);
  for (const v of y) counts[v]!++;
  return labels.map((l, i) => [l, counts[i]!]);
}
