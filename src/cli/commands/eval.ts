/**
 * `linesight eval -m MODEL DIR`: accuracy, per-class precision/recall/F1, confusion matrix, latency.
 * For a tabular model, `eval -m MODEL data.csv --target COL`: RMSE/MAE/R² (regression) or
 * ROC-AUC/PR-AUC/precision/recall/F1 at the model's threshold (binary) or accuracy (multi-class).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { action, DEFAULT_REPO, openModel, pct } from '../context.ts';
import { readBatchItem } from '../files.ts';
import { readImageFolder } from '../../data/readers/image-folder.ts';
import { classificationReport, type ClassificationReport } from '../../eval/classification.ts';
import { createProgress } from '../progress.ts';
import { LsError } from '../../core/errors.ts';
import type { LoadedModel } from '../../pipeline/model.ts';
import type { Prediction } from '../../pipeline/post/predict.ts';
import { readCsv, toRecords } from '../../data/readers/csv.ts';
import { requireColumns, rowProblem } from '../../data/rows.ts';
import { binaryMetrics, type BinaryMetrics } from '../../eval/binary.ts';
import { regressionMetrics, type RegressionMetrics } from '../../eval/regression.ts';

const CHUNK = 64;

export interface ImageEvalResult extends ClassificationReport {
  readonly model: string;
  readonly version: number;
  readonly failed: ReadonlyArray<{ file: string; code: string; error: string }>;
  /** Mean per-image time of each stage, ms (inference is the batch time shared across its images). */
  readonly latency_ms: { preprocess: number; inference: number; postprocess: number; total: number };
  readonly images_per_second: number;
  readonly wall_seconds: number;
}

/** The images of a folder-per-class data set, optionally only those listed (paths `<class>/<file>`). */
export async function selectImages(dir: string, only?: ReadonlySet<string>): Promise<Array<{ path: string; label: string }>> {
  const all = await readImageFolder(dir);
  if (!only) return all;
  const picked = all.filter((f) => only.has(`${f.label}/${path.basename(f.path)}`));
  if (!picked.length) throw new LsError('LS_ERR_DATASET', `none of the ${only.size} listed images is in ${dir}`, { subject: dir });
  return picked;
}

/** Read a split file ({ "<subset>": ["<class>/<file>", ...] }, as tools/train/split.json) and return one subset. */
export async function readSplit(file: string, subset: string): Promise<Set<string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new LsError('LS_ERR_DATASET', `cannot read the split file: ${(e as Error).message}`, { subject: file });
  }
  const list = (parsed as Record<string, unknown>)[subset];
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
    throw new LsError('LS_ERR_DATASET', `the split file has no list "${subset}"`, { subject: file });
  }
  return new Set(list as string[]);
}

/** Evaluate an image classifier on a folder-per-class data set. */
export async function evaluateImageFolder(model: LoadedModel, dir: string, onProgress?: () => void, only?: ReadonlySet<string>): Promise<ImageEvalResult> {
  const files = await selectImages(dir, only);
  const labels = model.manifest.labels ?? [];
  const unknown = [...new Set(files.map((f) => f.label))].filter((l) => !labels.includes(l));
  if (labels.length && unknown.length === new Set(files.map((f) => f.label)).size) {
    throw new LsError('LS_ERR_DATASET', `none of the class folders (${unknown.join(', ')}) is a label of ${model.name} (${labels.join(', ')})`, { subject: dir });
  }
  const pairs: Array<[string, string]> = [];
  const failed: Array<{ file: string; code: string; error: string }> = [];
  const sum = { preprocess: 0, inference: 0, postprocess: 0 };
  const t0 = performance.now();
  for (let start = 0; start < files.length; start += CHUNK) {
    const chunk = files.slice(start, start + CHUNK);
    const items = await Promise.all(chunk.map((f) => readBatchItem(f.path)));
    await model.predictImages(items, {
      onItem: (i, r) => {
        onProgress?.();
        const f = chunk[i]!;
        if (!r.ok) {
          failed.push({ file: f.path, code: r.error.code, error: r.error.message });
          return;
        }
        pairs.push([f.label, r.value.label ?? '']);
        sum.preprocess += r.timings.preprocess_ms;
        sum.inference += r.timings.inference_ms;
        sum.postprocess += r.timings.postprocess_ms;
      },
    });
  }
  const wall = (performance.now() - t0) / 1000;
  const n = Math.max(1, pairs.length);
  const report = classificationReport(pairs, labels);
  return {
    model: model.name,
    version: model.version,
    ...report,
    failed,
    latency_ms: {
      preprocess: sum.preprocess / n,
      inference: sum.inference / n,
      postprocess: sum.postprocess / n,
      total: (sum.preprocess + sum.inference + sum.postprocess) / n,
    },
    images_per_second: pairs.length / wall,
    wall_seconds: wall,
  };
}

export function formatImageEval(r: ImageEvalResult): string {
  const lines: string[] = [];
  lines.push(`model ${r.model}:${r.version}  images ${r.total}  accuracy ${pct(r.accuracy)} (${r.correct}/${r.total})  macro-F1 ${r.macro_f1.toFixed(4)}`);
  lines.push('');
  const w = Math.max(8, ...r.labels.map((l) => l.length));
  lines.push(`${'class'.padEnd(w)}  precision  recall     f1  support`);
  for (const l of r.labels) {
    const m = r.per_class[l]!;
    lines.push(`${l.padEnd(w)}  ${m.precision.toFixed(4).padStart(9)}  ${m.recall.toFixed(4).padStart(6)}  ${m.f1.toFixed(4).padStart(5)}  ${String(m.support).padStart(7)}`);
  }
  lines.push('');
  lines.push(`confusion matrix (rows: true, columns: predicted)`);
  const abbrev = r.labels.map((l) => l.slice(0, 6));
  lines.push(`${''.padEnd(w)}  ${abbrev.map((a) => a.padStart(6)).join(' ')}`);
  r.labels.forEach((l, i) => lines.push(`${l.padEnd(w)}  ${r.confusion[i]!.map((c) => String(c).padStart(6)).join(' ')}`));
  lines.push('');
  const L = r.latency_ms;
  lines.push(`mean latency per image: ${L.total.toFixed(2)} ms (preprocess ${L.preprocess.toFixed(2)}, inference ${L.inference.toFixed(2)}, postprocess ${L.postprocess.toFixed(3)}); ${r.images_per_second.toFixed(1)} images/s`);
  if (r.failed.length) lines.push(`${r.failed.length} file(s) could not be evaluated:`, ...r.failed.map((f) => `  ${f.code}: ${f.error} (${f.file})`));
  return lines.join('\n');
}

/** The result of evaluating a tabular model on a labelled CSV. */
export type TableEvalResult = {
  readonly model: string;
  readonly version: number;
  readonly rows: number;
  readonly failed: ReadonlyArray<{ row: number; error: string }>;
} & (
  | { readonly kind: 'regression'; readonly metrics: RegressionMetrics }
  | { readonly kind: 'binary'; readonly positive_label: string; readonly metrics: BinaryMetrics }
  | { readonly kind: 'multiclass'; readonly metrics: ClassificationReport }
);

/** Index of a true label among the model's labels ("1.0" matches "1"), or -1. */
function labelIndex(labels: readonly string[], value: string): number {
  const v = value.trim();
  const i = labels.indexOf(v);
  if (i >= 0 || v === '' || !Number.isFinite(Number(v))) return i;
  return labels.findIndex((l) => l.trim() !== '' && Number(l) === Number(v));
}

/** Evaluate a tabular model on a CSV with a target column. Bad rows are listed, not fatal. */
export async function evaluateTable(model: LoadedModel, file: string, target: string): Promise<TableEvalResult> {
  const m = model.manifest;
  if (m.preprocess.kind !== 'tabular') throw new LsError('LS_ERR_BAD_REQUEST', `model ${model.name} is not a tabular model`);
  const table = await readCsv(file);
  if (!table.columns.includes(target)) throw new LsError('LS_ERR_CSV', `no target column "${target}" (columns: ${table.columns.join(', ')})`, { subject: file });
  requireColumns(table, m.preprocess.features, file);
  const labels = m.labels ?? [];
  const failed: Array<{ row: number; error: string }> = [];
  const good: Array<{ record: Record<string, string>; truth: string }> = [];
  toRecords(table).forEach((r, i) => {
    const problem = rowProblem(r, m.preprocess.kind === 'tabular' ? m.preprocess.features : []);
    const truth = r[target] ?? '';
    if (problem) failed.push({ row: i + 1, error: problem });
    else if (m.task === 'regression' && !Number.isFinite(Number(truth.trim() || 'x'))) failed.push({ row: i + 1, error: `target "${target}" is not a number: ${JSON.stringify(truth)}` });
    else if (m.task === 'classification' && labelIndex(labels, truth) < 0) failed.push({ row: i + 1, error: `target "${target}" value ${JSON.stringify(truth)} is not a label of the model (${labels.join(', ')})` });
    else good.push({ record: r, truth });
  });
  if (!good.length) throw new LsError('LS_ERR_DATASET', `no row of ${file} can be evaluated (${failed[0]?.error ?? 'empty'})`, { subject: file });
  const preds: Prediction[] = [];
  for (let s = 0; s < good.length; s += 1024) preds.push(...(await model.predictRows(good.slice(s, s + 1024).map((g) => g.record))));
  const base = { model: model.name, version: model.version, rows: table.rows.length, failed };
  if (m.task === 'regression') {
    return { ...base, kind: 'regression', metrics: regressionMetrics(preds.map((p) => p.score ?? NaN), good.map((g) => Number(g.truth))) };
  }
  if (labels.length === 2) {
    const positive = m.decision.positive_label ?? labels[1]!;
    const pi = labels.indexOf(positive);
    const scores = preds.map((p) => p.probabilities?.[positive] ?? NaN);
    const truth = good.map((g) => (labelIndex(labels, g.truth) === pi ? 1 : 0));
    return { ...base, kind: 'binary', positive_label: positive, metrics: binaryMetrics(scores, truth, m.decision.threshold ?? 0.5) };
  }
  const pairs = good.map((g, i) => [labels[labelIndex(labels, g.truth)]!, preds[i]!.label ?? ''] as [string, string]);
  return { ...base, kind: 'multiclass', metrics: classificationReport(pairs, labels) };
}

/** Plain-text report of a tabular evaluation. */
export function formatTableEval(r: TableEvalResult): string {
  const lines = [`model ${r.model}:${r.version}  rows ${r.rows}${r.failed.length ? ` (${r.failed.length} not evaluated)` : ''}`];
  if (r.kind === 'regression') lines.push(`RMSE ${r.metrics.rmse.toPrecision(5)}  MAE ${r.metrics.mae.toPrecision(5)}  R² ${r.metrics.r2.toFixed(4)}`);
  else if (r.kind === 'binary') {
    const x = r.metrics;
    lines.push(`ROC-AUC ${x.roc_auc.toFixed(4)}  PR-AUC ${x.pr_auc.toFixed(4)}  (positive "${r.positive_label}": ${x.positives} of ${x.n})`);
    lines.push(`at threshold ${x.threshold}: precision ${pct(x.precision)}  recall ${pct(x.recall)}  F1 ${x.f1.toFixed(4)}  accuracy ${pct(x.accuracy)}`);
    lines.push(`confusion: tp ${x.tp}  fp ${x.fp}  fn ${x.fn}  tn ${x.tn}`);
  } else lines.push(`accuracy ${pct(r.metrics.accuracy)} (${r.metrics.correct}/${r.metrics.total})  macro-F1 ${r.metrics.macro_f1.toFixed(4)}`);
  if (r.failed.length) lines.push(`${r.failed.length} row(s) not evaluated:`, ...r.failed.slice(0, 20).map((f) => `  row ${f.row}: ${f.error}`));
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model against true labels (images: DIR/<class>/<image>; tables: data.csv --target COL)')
    .requiredOption('-m, --model <name[:version]>', 'model name, optionally with a version')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--json', 'print one JSON object')
    .option('--target <column>', 'tabular models: the column holding the true value')
    .option('--split <file>', 'images: evaluate only the files a split file lists (e.g. tools/train/split.json)')
    .option('--subset <name>', 'images: which list of the split file', 'test')
    .argument('<data>', 'folder of images in the folder-per-class layout, or a CSV for a tabular model')
    .action(action(async (data: string, opts: { model: string; repo: string; json?: boolean; target?: string; split?: string; subset?: string }) => {
      const model = await openModel(opts);
      if (model.manifest.preprocess.kind === 'tabular') {
        try {
          if (!opts.target) throw new LsError('LS_ERR_VALIDATION', '--target <column> is required to evaluate a tabular model');
          const r = await evaluateTable(model, data, opts.target);
          process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${formatTableEval(r)}\n`);
          if (r.failed.length) process.exitCode = 1;
        } finally {
          await model.dispose();
        }
        return;
      }
      try {
        const only = opts.split ? await readSplit(opts.split, opts.subset ?? 'test') : undefined;
        const total = (await selectImages(data, only)).length;
        const bar = opts.json ? undefined : createProgress(total, 'evaluating');
        const r = await evaluateImageFolder(model, data, () => bar?.tick(), only);
        bar?.done();
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${formatImageEval(r)}\n`);
        if (r.failed.length) process.exitCode = 1;
      } finally {
        await model.dispose();
      }
    }));
}
