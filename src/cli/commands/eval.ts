/** `linesight eval -m MODEL DIR`: accuracy, per-class precision/recall/F1, confusion matrix, latency. */
import type { Command } from 'commander';
import { action, DEFAULT_REPO, openModel, pct } from '../context.ts';
import { readBatchItem } from '../files.ts';
import { readImageFolder } from '../../data/readers/image-folder.ts';
import { classificationReport, type ClassificationReport } from '../../eval/classification.ts';
import { createProgress } from '../progress.ts';
import { LsError } from '../../core/errors.ts';
import type { LoadedModel } from '../../pipeline/model.ts';

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

/** Evaluate an image classifier on a folder-per-class data set. */
export async function evaluateImageFolder(model: LoadedModel, dir: string, onProgress?: () => void): Promise<ImageEvalResult> {
  const files = await readImageFolder(dir);
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

export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model against true labels (images: DIR/<class>/<image>)')
    .requiredOption('-m, --model <name[:version]>', 'model name, optionally with a version')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--json', 'print one JSON object')
    .argument('<data>', 'folder of images in the folder-per-class layout')
    .action(action(async (data: string, opts: { model: string; repo: string; json?: boolean }) => {
      const model = await openModel(opts);
      try {
        const total = (await readImageFolder(data)).length;
        const bar = opts.json ? undefined : createProgress(total, 'evaluating');
        const r = await evaluateImageFolder(model, data, () => bar?.tick());
        bar?.done();
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${formatImageEval(r)}\n`);
        if (r.failed.length) process.exitCode = 1;
      } finally {
        await model.dispose();
      }
    }));
}
