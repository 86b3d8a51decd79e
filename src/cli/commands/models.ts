/** `linesight models`: list the models of a repository with versions, inputs/outputs and task; `models sign|verify|keygen` for signatures. */
import type { Command } from 'commander';
import { ModelRepository } from '../../repository/repository.ts';
import { action, DEFAULT_REPO } from '../context.ts';
import { isLsError } from '../../core/errors.ts';
import { registerModelSigning } from './model-signing.ts';

interface ModelSummary {
  name: string;
  task?: string;
  description?: string;
  versions: number[];
  inputs?: Array<{ name: string; datatype: string; shape: number[] }>;
  outputs?: Array<{ name: string; datatype: string; shape: number[] }>;
  labels?: readonly string[];
  max_batch_size?: number;
  error?: string;
}

/** Summaries of every model; a model with a broken config is listed with its error, not hidden. */
export async function listModelSummaries(repoDir: string): Promise<ModelSummary[]> {
  const repo = await ModelRepository.open(repoDir);
  const out: ModelSummary[] = [];
  for (const name of await repo.listModels()) {
    try {
      const versions = await repo.listVersions(name);
      const { manifest: m } = await repo.readManifest(name);
      const batch = (shape: readonly number[]) => (m.max_batch_size > 0 ? [-1, ...shape] : [...shape]);
      out.push({
        name, task: m.task, description: m.description, versions, max_batch_size: m.max_batch_size,
        inputs: m.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: batch(i.shape) })),
        outputs: m.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: batch(o.shape) })),
        ...(m.labels ? { labels: m.labels } : {}),
      });
    } catch (e) {
      out.push({ name, versions: [], error: isLsError(e) ? e.toLine() : String(e) });
    }
  }
  return out;
}

export function register(program: Command): void {
  const models = program
    .command('models')
    .description('list the models of a model repository')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--json', 'print JSON')
    .action(action(async (opts: { repo: string; json?: boolean }) => {
      const models = await listModelSummaries(opts.repo);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(models, null, 2)}\n`);
        return;
      }
      if (!models.length) process.stdout.write(`no models in ${opts.repo}\n`);
      const io = (t: { name: string; datatype: string; shape: number[] }) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`;
      for (const m of models) {
        if (m.error) {
          process.stdout.write(`${m.name}  (invalid) ${m.error}\n`);
          continue;
        }
        process.stdout.write(`${m.name}  task=${m.task}  versions=${m.versions.join(',') || 'none'}\n`);
        if (m.description) process.stdout.write(`  ${m.description}\n`);
        process.stdout.write(`  inputs:  ${m.inputs!.map(io).join('; ')}\n`);
        process.stdout.write(`  outputs: ${m.outputs!.map(io).join('; ')}\n`);
        if (m.labels) process.stdout.write(`  labels:  ${m.labels.join(', ')}\n`);
      }
    }));
  registerModelSigning(models);
}
