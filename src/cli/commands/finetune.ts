/**
 * `linesight finetune`: adapt an inspection model to new classes or a new product variant from a
 * few labelled images: backbone embeddings + a new softmax head trained by gradient descent,
 * written as a new model version (backbone + head) with its own config.yaml.
 */
import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { action, DEFAULT_REPO, openModel, pct } from '../context.ts';
import { addAuditFileOption, openCliAudit } from '../cli-audit.ts';
import { createProgress } from '../progress.ts';
import { parseWith } from '../../core/validate.ts';
import { LsError } from '../../core/errors.ts';
import { readImageFolder } from '../../data/readers/image-folder.ts';
import { extractEmbeddings } from '../../training/embeddings.ts';
import { FINETUNE_DEFAULTS, graftHead, trainHead } from '../../training/finetune.ts';
import { writeModelVersion } from '../../training/write-model.ts';
import { verifyLoads } from '../../training/verify.ts';
import { OPTIMIZERS } from '../../training/optimizers.ts';
import { ModelRepository, parseModelRef } from '../../repository/repository.ts';
import { getBackend } from '../../runtime/index.ts';
import { LoadedModel } from '../../pipeline/model.ts';
import { evaluateImageFolder, formatImageEval } from './eval.ts';

const optionsSchema = z.object({
  base: z.string().min(1),
  data: z.string().min(1),
  name: z.string().min(1).optional(),
  repo: z.string().default(DEFAULT_REPO),
  auditFile: z.string().min(1),
  embedding: z.string().default('embedding'),
  optimizer: z.enum(OPTIMIZERS).default('adam'),
  lr: z.coerce.number().positive().default(FINETUNE_DEFAULTS.lr),
  epochs: z.coerce.number().int().min(1).max(100000).default(FINETUNE_DEFAULTS.epochs),
  l2: z.coerce.number().min(0).default(FINETUNE_DEFAULTS.l2),
  seed: z.coerce.number().int().default(FINETUNE_DEFAULTS.seed),
  valFraction: z.coerce.number().min(0).max(0.5).default(0.2),
  reject: z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)).optional(),
  eval: z.string().optional(),
  json: z.boolean().default(false),
});

/** Register `linesight finetune`. */
export function register(program: Command): void {
  const cmd = program
    .command('finetune')
    .description('train a new classification head on a few labelled images (DIR/<class>/<image>) over a model\'s embedding, and write backbone + head as a new version')
    .requiredOption('--base <name[:version]>', 'the inspection model whose embedding output is the backbone')
    .requiredOption('--data <dir>', 'labelled images in the folder-per-class layout; the folders are the new labels')
    .option('--name <name>', 'model to write the new version into (default: the base model)')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--embedding <output>', 'name of the backbone\'s embedding output', 'embedding')
    .option('--optimizer <name>', 'gd | momentum | adam', 'adam')
    .option('--lr <rate>', 'learning rate', String(FINETUNE_DEFAULTS.lr))
    .option('--epochs <n>', 'maximum epochs', String(FINETUNE_DEFAULTS.epochs))
    .option('--l2 <lambda>', 'L2 penalty on the head weights', String(FINETUNE_DEFAULTS.l2))
    .option('--seed <n>', 'random seed', String(FINETUNE_DEFAULTS.seed))
    .option('--val-fraction <f>', 'share of the images held out for early stopping', '0.2')
    .option('--reject <classes>', 'comma-separated classes to REJECT (default: the base model\'s reject classes that still exist)')
    .option('--eval <dir>', 'after writing, evaluate the new version on this labelled folder')
    .option('--json', 'print a JSON summary');
  addAuditFileOption(cmd)
    .action(action(async (raw: Record<string, unknown>) => {
      const o = parseWith(optionsSchema, raw, 'LS_ERR_VALIDATION', 'finetune options');
      const files = await readImageFolder(o.data);
      const labels = [...new Set(files.map((f) => f.label))].sort();
      const audit = await openCliAudit(o.auditFile);
      const base = await openModel({ repo: o.repo, model: o.base }).catch(async (e: unknown) => {
        await audit.dispose();
        throw e;
      });
      let head;
      let failed;
      try {
        const bar = o.json ? undefined : createProgress(files.length, 'embedding');
        let last = 0;
        const emb = await extractEmbeddings(base, files.map((f) => f.path), o.embedding, (done) => {
          while (last < done) {
            bar?.tick();
            last++;
          }
        });
        bar?.done();
        failed = emb.failed;
        for (const f of emb.failed) process.stderr.write(`${f.code}: ${f.error} (${f.file})\n`);
        if (!emb.rows) throw new LsError('LS_ERR_DATASET', 'none of the images could be read', { subject: o.data });
        const y = emb.index.map((i) => labels.indexOf(files[i]!.label));
        const trainBar = o.json ? undefined : createProgress(o.epochs, 'training head');
        head = trainHead(emb, y, labels, {
          ...FINETUNE_DEFAULTS,
          optimizer: o.optimizer,
          lr: o.lr,
          epochs: o.epochs,
          l2: o.l2,
          seed: o.seed,
          onEpoch: (e) => trainBar?.tick(`loss ${e.trainLoss.toFixed(4)}${e.valLoss !== undefined ? ` val ${e.valLoss.toFixed(4)}` : ''}`),
        }, o.valFraction);
        trainBar?.done();
        const bytes = graftHead(await fs.readFile(base.resolved.modelPath), head, o.embedding, base.manifest.postprocess?.output ?? 'logits');
        const m = base.manifest;
        const scoreOut = m.postprocess?.output ?? 'logits';
        const rejects = o.reject ?? m.decision.reject_classes.filter((c) => labels.includes(c));
        const manifest = {
          ...structuredClone({ ...m }),
          description: `${m.description} — fine-tuned head for ${labels.join(', ')}`,
          outputs: m.outputs.map((out) => (out.name === scoreOut ? { ...out, shape: [labels.length] } : out)),
          labels,
          postprocess: { output: scoreOut, activation: 'softmax', top_k: Math.min(3, labels.length) },
          decision: { ...m.decision, reject_classes: rejects },
          metadata: {
            ...m.metadata,
            finetuned_by: 'linesight finetune',
            finetuned_at: new Date().toISOString(),
            base_model: `${base.name}:${base.version}`,
            finetune_data: { folder: o.data, images: emb.rows, per_class: Object.fromEntries(labels.map((l, c) => [l, y.filter((v) => v === c).length])) },
            head: { optimizer: o.optimizer, lr: o.lr, l2: o.l2, seed: o.seed, epochs_run: head.result.history.length, best_epoch: head.result.bestEpoch, validation_accuracy: head.valAccuracy },
          },
        };
        delete (manifest as { name?: string }).name;
        const name = o.name ?? base.name;
        await verifyLoads(bytes, name);
        const written = await writeModelVersion(o.repo, name, bytes, manifest, `Fine-tuned by: linesight finetune --base ${o.base} --data ${o.data}`);
        await audit.record({ action: 'model.finetune', target: `model:${written.name}:${written.version}`, details: { base: `${base.name}:${base.version}`, data: o.data, labels, images: emb.rows } });
        let evalResult;
        if (o.eval) {
          const repo = await ModelRepository.open(o.repo);
          const tuned = await LoadedModel.load(await repo.resolve(parseModelRef(`${written.name}:${written.version}`)), await getBackend());
          try {
            evalResult = await evaluateImageFolder(tuned, o.eval);
          } finally {
            await tuned.dispose();
          }
        }
        const summary = { model: written.name, version: written.version, model_path: written.modelPath, config_path: written.configPath, labels, images: emb.rows, train_images: head.rows.train, validation_images: head.rows.val, validation_accuracy: head.valAccuracy, epochs_run: head.result.history.length, best_epoch: head.result.bestEpoch, failed, ...(evalResult ? { eval: evalResult } : {}) };
        if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else {
          process.stdout.write(`trained a ${labels.length}-class head (${labels.join(', ')}) on ${head.rows.train} images, validation accuracy ${pct(head.valAccuracy)} on ${head.rows.val}; best epoch ${head.result.bestEpoch} of ${head.result.history.length}\n`);
          process.stdout.write(`wrote ${written.name}:${written.version} -> ${written.modelPath} (config ${written.configPath})\n`);
          if (evalResult) process.stdout.write(`\nevaluation on ${o.eval}:\n${formatImageEval(evalResult)}\n`);
        }
      } finally {
        await base.dispose();
        await audit.dispose();
      }
      if (failed?.length) process.exitCode = 1;
    }));
}
