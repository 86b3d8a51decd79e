/** `linesight predict -m MODEL files...`: label, top-3 probabilities and decision per image. */
import type { Command } from 'commander';
import { action, DEFAULT_REPO, openModel, pct } from '../context.ts';
import { readBatchItem } from '../files.ts';
import type { Prediction } from '../../pipeline/post/predict.ts';
import type { ItemResult } from '../../pipeline/model.ts';

const CHUNK = 64;

export function formatPrediction(file: string, p: Prediction): string {
  if (p.task === 'classification') {
    const top = (p.top ?? []).map((t) => `${t.label} ${pct(t.probability)}`).join(', ');
    return `${file}  ${p.label} ${pct(p.probability)}  ${p.decision}  [${top}]`;
  }
  return `${file}  score=${p.score?.toFixed(4)}  ${p.decision}`;
}

export function register(program: Command): void {
  program
    .command('predict')
    .description('run a model on images and print label, top-3 probabilities and decision')
    .requiredOption('-m, --model <name[:version]>', 'model name, optionally with a version')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--json', 'print one JSON object per input')
    .argument('<files...>', 'image files (JPEG, PNG, BMP, TIFF)')
    .action(action(async (files: string[], opts: { model: string; repo: string; json?: boolean }) => {
      const model = await openModel(opts);
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
