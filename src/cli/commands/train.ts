/** `linesight train`: fit a model on a CSV table and write it into the model repository as ONNX. */
import type { Command } from 'commander';
import { z } from 'zod';
import { action, DEFAULT_REPO, pct } from '../context.ts';
import { addAuditFileOption, openCliAudit } from '../cli-audit.ts';
import { createProgress } from '../progress.ts';
import { parseWith } from '../../core/validate.ts';
import { readCsv } from '../../data/readers/csv.ts';
import { MODEL_KINDS } from '../../training/models/network.ts';
import { OPTIMIZERS } from '../../training/optimizers.ts';
import { SCHEDULES } from '../../training/schedule.ts';
import { parseDerived } from '../../training/preprocessing.ts';
import { tableHash, trainTabular, type TabularModel } from '../../training/tabular.ts';
import { exportTabularOnnx } from '../../training/export-onnx.ts';
import { tabularManifest } from '../../training/tabular-manifest.ts';
import { writeModelVersion } from '../../training/write-model.ts';
import { verifyLoads } from '../../training/verify.ts';
import { DEFAULT_TRAIN_OPTIONS } from '../../training/trainer.ts';

const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const num = z.coerce.number().refine(Number.isFinite, 'must be a number');

const optionsSchema = z.object({
  data: z.string().min(1),
  target: z.string().min(1),
  task: z.enum(['regression', 'classification']),
  name: z.string().min(1),
  repo: z.string().default(DEFAULT_REPO),
  auditFile: z.string().min(1),
  model: z.enum(MODEL_KINDS).optional(),
  hidden: list.transform((a) => a.map(Number)).pipe(z.array(z.number().int().min(1).max(4096)).min(1).max(3)).optional(),
  features: list.optional(),
  drop: list.optional(),
  categorical: list.optional(),
  derive: z.array(z.string()).default([]),
  optimizer: z.enum(OPTIMIZERS).default('adam'),
  lr: num.pipe(z.number().positive()).optional(),
  schedule: z.enum(SCHEDULES).default(DEFAULT_TRAIN_OPTIONS.schedule),
  epochs: z.coerce.number().int().min(1).max(100000).default(DEFAULT_TRAIN_OPTIONS.epochs),
  batchSize: z.coerce.number().int().min(1).default(DEFAULT_TRAIN_OPTIONS.batchSize),
  l2: num.pipe(z.number().min(0)).default(DEFAULT_TRAIN_OPTIONS.l2),
  patience: z.coerce.number().int().min(0).default(DEFAULT_TRAIN_OPTIONS.patience),
  balanced: z.boolean().default(false),
  seed: z.coerce.number().int().default(DEFAULT_TRAIN_OPTIONS.seed),
  testFraction: num.pipe(z.number().min(0).max(0.9)).default(0.2),
  valFraction: num.pipe(z.number().min(0).max(0.9)).default(0.2),
  onThreshold: z.enum(['REJECT', 'ALERT']).default('REJECT'),
  description: z.string().optional(),
  version: z.coerce.number().int().positive().optional(),
  json: z.boolean().default(false),
});

/** The command line as typed, quoted where needed, for the config.yaml header. */
function commandLine(): string {
  return process.argv.slice(2).map((a) => (/^[\w.,:=/+-]+$/.test(a) ? a : `"${a.replaceAll('"', '\\"')}"`)).join(' ');
}

/** A plain-text summary of a training run. */
export function formatTrainSummary(m: TabularModel, where: string): string {
  const lines = [`trained ${m.network.kind} on ${m.rows.train} rows (validation ${m.rows.val}, test ${m.rows.test}); best epoch ${m.bestEpoch} of ${m.history.length}${m.stoppedEarly ? ' (stopped early)' : ''}`];
  const x = m.metrics;
  if (x.kind === 'binary') {
    lines.push(`test: ROC-AUC ${x.roc_auc.toFixed(4)}  PR-AUC ${x.pr_auc.toFixed(4)}  at threshold ${x.threshold.toFixed(4)}: precision ${pct(x.precision)} recall ${pct(x.recall)} F1 ${x.f1.toFixed(4)} (tp ${x.tp} fp ${x.fp} fn ${x.fn} tn ${x.tn})`);
  } else if (x.kind === 'multiclass') {
    lines.push(`test: accuracy ${pct(x.accuracy)} (${x.correct}/${x.total})  macro-F1 ${x.macro_f1.toFixed(4)}`);
  } else {
    lines.push(`test: RMSE ${x.rmse.toPrecision(5)}  MAE ${x.mae.toPrecision(5)}  R² ${x.r2.toFixed(4)}`);
  }
  lines.push(`wrote ${where}`);
  return lines.join('\n');
}

/** Register `linesight train`. */
export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a model on a CSV table (gradient descent) and write it to the model repository as ONNX')
    .requiredOption('--data <file.csv>', 'training table (UTF-8, comma/semicolon/tab)')
    .requiredOption('--target <column>', 'the column to predict')
    .requiredOption('--task <task>', 'regression | classification')
    .requiredOption('--name <name>', 'model name in the repository')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--model <kind>', 'linear | logistic | softmax | mlp (default: mlp)')
    .option('--hidden <sizes>', 'MLP hidden layer sizes, 1-3 comma-separated', '32,16')
    .option('--features <cols>', 'comma-separated feature columns (default: all but target and --drop)')
    .option('--drop <cols>', 'comma-separated columns to ignore (IDs, leakage)')
    .option('--categorical <cols>', 'comma-separated columns to treat as categories even if numeric')
    .option('--derive <expr>', 'derived feature NAME=COL*COL (or - + /), baked into the graph; repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--optimizer <name>', 'gd | momentum | adam', 'adam')
    .option('--lr <rate>', 'learning rate (default 0.01; 0.1 for gd/momentum)')
    .option('--schedule <name>', 'constant | step | cosine | exponential', 'cosine')
    .option('--epochs <n>', 'maximum epochs', String(DEFAULT_TRAIN_OPTIONS.epochs))
    .option('--batch-size <n>', 'mini-batch size', String(DEFAULT_TRAIN_OPTIONS.batchSize))
    .option('--l2 <lambda>', 'L2 penalty on weights', String(DEFAULT_TRAIN_OPTIONS.l2))
    .option('--patience <n>', 'early stopping: epochs without validation improvement (0 = off)', String(DEFAULT_TRAIN_OPTIONS.patience))
    .option('--balanced', 'weight classes inversely to their frequency (rare failures)')
    .option('--seed <n>', 'random seed (same seed, same model)', String(DEFAULT_TRAIN_OPTIONS.seed))
    .option('--test-fraction <f>', 'share of rows held out for the test metrics', '0.2')
    .option('--val-fraction <f>', 'share of the remaining rows for early stopping and the threshold', '0.2')
    .option('--on-threshold <kind>', 'binary models: REJECT (part) or ALERT (machine) at the threshold', 'REJECT')
    .option('--description <text>', 'description for config.yaml')
    .option('--version <n>', 'version number to write (default: next free)')
    .option('--json', 'print a JSON summary instead of text');
  addAuditFileOption(cmd)
    .action(action(async (raw: Record<string, unknown>) => {
      const o = parseWith(optionsSchema, raw, 'LS_ERR_VALIDATION', 'train options');
      const audit = await openCliAudit(o.auditFile);
      try {
        const model = o.model ?? 'mlp';
        const table = await readCsv(o.data);
        const bar = o.json ? undefined : createProgress(o.epochs, 'training');
        const options = {
          ...DEFAULT_TRAIN_OPTIONS,
          model,
          hidden: o.hidden ?? DEFAULT_TRAIN_OPTIONS.hidden,
          optimizer: o.optimizer,
          lr: o.lr ?? (o.optimizer === 'adam' ? 0.01 : 0.1),
          schedule: o.schedule,
          epochs: o.epochs,
          batchSize: o.batchSize,
          l2: o.l2,
          patience: o.patience,
          balanced: o.balanced,
          seed: o.seed,
          onEpoch: (e: { epoch: number; trainLoss: number; valLoss: number | undefined }) =>
            bar?.tick(`loss ${e.trainLoss.toFixed(4)}${e.valLoss !== undefined ? ` val ${e.valLoss.toFixed(4)}` : ''}`),
        };
        const trained = trainTabular(table, {
          ...options,
          target: o.target,
          task: o.task,
          ...(o.features ? { features: o.features } : {}),
          ...(o.drop ? { drop: o.drop } : {}),
          ...(o.categorical ? { categorical: o.categorical } : {}),
          derived: o.derive.map(parseDerived),
          testFraction: o.testFraction,
          valFraction: o.valFraction,
        });
        bar?.done();
        const dataSha256 = tableHash(table);
        const exported = exportTabularOnnx(trained.pre, trained.network, o.task, o.name);
        const manifest = tabularManifest(trained, exported, {
          ...(o.description ? { description: o.description } : {}),
          onThreshold: o.onThreshold,
          dataFile: o.data,
          dataSha256,
          dataRows: table.rows.length,
          trainedAt: new Date().toISOString(),
          options,
        });
        await verifyLoads(exported.onnx, o.name);
        const written = await writeModelVersion(o.repo, o.name, exported.onnx, manifest, `Trained by: linesight ${commandLine()}`, o.version ? { version: o.version } : {});
        await audit.record({ action: 'model.train', target: `model:${written.name}:${written.version}`, details: { task: o.task, model, data: o.data, data_sha256: dataSha256, rows: table.rows.length } });
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ model: written.name, version: written.version, model_path: written.modelPath, config_path: written.configPath, rows: trained.rows, best_epoch: trained.bestEpoch, epochs_run: trained.history.length, stopped_early: trained.stoppedEarly, threshold: trained.threshold, labels: trained.labels, metrics: trained.metrics, history: trained.history })}\n`);
        } else {
          process.stdout.write(`${formatTrainSummary(trained, `${written.name}:${written.version} -> ${written.modelPath} (config ${written.configPath})`)}\n`);
        }
      } finally {
        await audit.dispose();
      }
    }));
}
