/**
 * `linesight predict -m MODEL files...`: label, top-3 probabilities and decision per image;
 * for a tabular model, `predict -m MODEL data.csv` writes the rows with their predictions.
 */
import type { Command } from 'commander';
import { action, DEFAULT_REPO, openModel, pct } from '../context.ts';
import { readBatchItem } from '../files.ts';
import type { Prediction } from '../../pipeline/post/predict.ts';
import type { ItemResult, LoadedModel } from '../../pipeline/model.ts';
import { LsError } from '../../core/errors.ts';
import { formatCsv, readCsv, toRecords } from '../../data/readers/csv.ts';
import { requireColumns, rowProblem } from '../../data/rows.ts';

const CHUNK = 64;

export function formatPrediction(file: string, p: Prediction): string {
  if (p.task === 'classification') {
    const top = (p.top ?? []).map((t) => `${t.label} ${pct(t.probability)}`).join(', ');
    return `${file}  ${p.label} ${pct(p.probability)}  ${p.decision}  [${top}]`;
  }
  return `${file}  score=${p.score?.toFixed(4)}  ${p.decision}`;
}

const ROW_CHUNK = 1024;

/** The prediction columns appended to each row of a table. */
function predictionColumns(model: LoadedModel): string[] {
  const m = model.manifest;
  if (m.task !== 'classification') return ['prediction', 'decision'];
  const positive = m.decision.positive_label ?? m.labels?.[m.labels.length - 1];
  return m.labels?.length === 2 ? ['prediction', 'probability', `p_${positive}`, 'decision'] : ['prediction', 'probability', 'decision'];
}

function predictionValues(model: LoadedModel, p: Prediction): Array<string | number> {
  if (p.task !== 'classification') return [p.score ?? '', p.decision];
  const m = model.manifest;
  const positive = m.decision.positive_label ?? m.labels?.[m.labels.length - 1] ?? '1';
  const base: Array<string | number> = [p.label ?? '', p.probability ?? ''];
  if (m.labels?.length === 2) base.push(p.probabilities?.[positive] ?? '');
  return [...base, p.decision];
}

/**
 * Predict every row of a CSV with a tabular model: CSV (original columns + predictions) or JSON lines.
 * A row with a bad value gets an error (stderr, and an `error` field/column) and the rest are still predicted.
 */
export async function predictTable(model: LoadedModel, file: string, json: boolean, out: (s: string) => void): Promise<{ rows: number; failed: number }> {
  const m = model.manifest;
  if (m.preprocess.kind !== 'tabular') throw new LsError('LS_ERR_BAD_REQUEST', `model ${model.name} is not a tabular model`);
  const table = await readCsv(file);
  const features = m.preprocess.features;
  requireColumns(table, features, file);
  const records = toRecords(table);
  const cols = predictionColumns(model);
  let failed = 0;
  if (!json) out(formatCsv([...table.columns, ...cols, 'error'], []));
  for (let start = 0; start < records.length; start += ROW_CHUNK) {
    const chunk = records.slice(start, start + ROW_CHUNK);
    const problems = chunk.map((r) => rowProblem(r, features));
    const good = chunk.filter((_, i) => !problems[i]);
    const preds = good.length ? await model.predictRows(good) : [];
    let g = 0;
    chunk.forEach((r, i) => {
      const line = start + i + 2; // the header is line 1
      const problem = problems[i];
      if (problem) {
        failed++;
        const err = new LsError('LS_ERR_VALIDATION', `line ${line}: ${problem}`, { subject: file });
        process.stderr.write(`${err.toLine()}\n`);
        if (json) out(`${JSON.stringify({ row: line - 1, ...r, code: err.code, error: err.message })}\n`);
        else out(formatCsv([], [[...table.columns.map((c) => r[c] ?? ''), ...cols.map(() => ''), err.message]]).slice(1));
        return;
      }
      const p = preds[g++]!;
      if (json) out(`${JSON.stringify({ row: line - 1, ...r, ...p })}\n`);
      else out(formatCsv([], [[...table.columns.map((c) => r[c] ?? ''), ...predictionValues(model, p), '']]).slice(1));
    });
  }
  return { rows: records.length, failed };
}

export function register(program: Command): void {
  program
    .command('predict')
    .description('run a model on images (label, top-3, decision) or, for a tabular model, on the rows of a CSV')
    .requiredOption('-m, --model <name[:version]>', 'model name, optionally with a version')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--json', 'print one JSON object per input')
    .argument('<files...>', 'image files (JPEG, PNG, BMP, TIFF), or one CSV file for a tabular model')
    .action(action(async (files: string[], opts: { model: string; repo: string; json?: boolean }) => {
      const model = await openModel(opts);
      if (model.manifest.preprocess.kind === 'tabular') {
        try {
          if (files.length !== 1) throw new LsError('LS_ERR_VALIDATION', `a tabular model takes one CSV file, got ${files.length} files`);
          const r = await predictTable(model, files[0]!, Boolean(opts.json), (s) => process.stdout.write(s));
          if (r.failed) {
            process.stderr.write(`${r.failed} of ${r.rows} row(s) could not be predicted\n`);
            process.exitCode = 1;
          }
        } finally {
          await model.dispose();
        }
        return;
      }
      let failed = 0;
      try {
        for (let start = 0; start < files.length; start += CHUNK) {
          const names = files.slice(start, start + CHUNK);
          const items = await Promise.all(names.map(readBatchItem));
          await model.predictImages(items, {
            onItem: (i, r: ItemResult<Prediction>) => {
              const file = names[i]!;
              if (!r.ok) {
                failed++;
                if (opts.json) process.stdout.write(`${JSON.stringify({ file, ...r.error.toJSON() })}\n`);
                process.stderr.write(`${r.error.toLine()}\n`);
                return;
              }
              if (opts.json) process.stdout.write(`${JSON.stringify({ file, ...r.value, timings: r.timings })}\n`);
              else process.stdout.write(`${formatPrediction(file, r.value)}\n`);
            },
          });
        }
      } finally {
        await model.dispose();
      }
      if (failed) {
        process.stderr.write(`${failed} of ${files.length} input(s) failed\n`);
        process.exitCode = 1;
      }
    }));
}
