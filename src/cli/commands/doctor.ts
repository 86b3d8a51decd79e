/** `linesight doctor`: versions, execution providers, CPU features, cores and the thread settings in force. */
import type { Command } from 'commander';
import os from 'node:os';
import { z } from 'zod';
import { parseWith } from '../../core/validate.ts';
import { isLsError } from '../../core/errors.ts';
import { ModelRepository } from '../../repository/repository.ts';
import { getBackend } from '../../runtime/index.ts';
import { cpuFeatures, INFERENCE_FLAGS, type CpuFeatures } from '../../runtime/cpu-features.ts';
import { describeProviders, planProviders, threadSettings, type ProviderPlan, type ThreadSettings } from '../../runtime/providers.ts';
import { withServingThreads } from '../../serving/model-manager.ts';
import { action, DEFAULT_REPO } from '../context.ts';

/** Everything doctor reports; `--json` prints exactly this. */
export interface DoctorReport {
  readonly node: string;
  readonly platform: string;
  readonly backend: { readonly name: string; readonly version: string };
  readonly providers: ReadonlyArray<{ name: string; status: string; note?: string }>;
  readonly cpu: CpuFeatures;
  readonly memory_gib: number;
  readonly environment: Record<string, string | null>;
  readonly models: ReadonlyArray<{ model: string; providers: ProviderPlan; threads: ThreadSettings; serving_intra_op?: number } | { model: string; error: string }>;
  readonly advice: readonly string[];
}

const THREAD_ENV = ['OMP_NUM_THREADS', 'OMP_WAIT_POLICY', 'UV_THREADPOOL_SIZE', 'VIPS_CONCURRENCY'];

/** Collect the doctor report (the repository is optional: a missing one just lists no models). */
export async function doctorReport(repoDir: string): Promise<DoctorReport> {
  const backend = await getBackend();
  const providers = describeProviders(backend);
  const cpu = cpuFeatures();
  const cores = cpu.physical_cores ?? cpu.logical_cpus;
  const models: Array<DoctorReport['models'][number]> = [];
  const advice: string[] = [];
  try {
    const repo = await ModelRepository.open(repoDir);
    for (const name of await repo.listModels()) {
      try {
        const { manifest } = await repo.readManifest(name);
        const plan = planProviders(manifest.execution.providers, providers);
        const threads = threadSettings(manifest.execution, cores);
        // The server turns "auto" intra-op threads into cores - 1 split over the instances.
        const versions = await repo.listVersions(name);
        const served = versions.length ? withServingThreads(await repo.resolve({ name })).manifest.execution.intra_op_threads : undefined;
        models.push({ model: name, providers: plan, threads, ...(served !== undefined ? { serving_intra_op: served } : {}) });
        for (const f of plan.fallbacks) advice.push(`${name}: provider "${f.provider}" will not be used (${f.reason}); it runs on ${plan.effective}`);
        if (threads.max_busy_threads > cpu.logical_cpus) {
          advice.push(`${name}: ${threads.instances} instance(s) × ${threads.intra_op} intra-op threads can keep ${threads.max_busy_threads} threads busy on ${cpu.logical_cpus} CPUs; set execution.intra_op_threads to ${Math.max(1, Math.floor(cpu.logical_cpus / threads.instances))}`);
        }
      } catch (e) {
        models.push({ model: name, error: isLsError(e) ? e.toLine() : String(e) });
      }
    }
  } catch (e) {
    if (!isLsError(e) || e.code !== 'LS_ERR_REPO_NOT_FOUND') throw e;
  }
  if (!cpu.int8_dot_product) advice.push('this CPU has no int8 dot-product instructions (VNNI): int8 models may gain little speed; measure with `linesight optimize`');
  else advice.push('int8 dot products (VNNI) are available: static int8 (`linesight optimize --int8 --calib DIR`) should run faster than fp32');
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    backend: { name: backend.name, version: backend.version },
    providers: providers.map((p) => ({ name: p.name, status: p.status, ...(p.note ? { note: p.note } : {}) })),
    cpu,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    environment: Object.fromEntries(THREAD_ENV.map((k) => [k, process.env[k] ?? null])),
    models,
    advice,
  };
}

/** The report as text. */
export function formatDoctor(r: DoctorReport): string {
  const L: string[] = [];
  L.push(`node ${r.node} on ${r.platform}`);
  L.push(`${r.backend.name} ${r.backend.version}`);
  L.push('execution providers:');
  for (const p of r.providers) L.push(`  ${p.name.padEnd(10)} ${p.status}${p.note ? ` (${p.note})` : ''}`);
  L.push(`cpu: ${r.cpu.model} (${r.cpu.arch}), ${r.cpu.logical_cpus} logical CPUs${r.cpu.physical_cores ? `, ${r.cpu.physical_cores} physical cores` : ''}, ${r.memory_gib} GiB RAM`);
  L.push(`cpu features: ${r.cpu.flags.length ? r.cpu.flags.map((f) => `${f} (${INFERENCE_FLAGS[f]})`).join(', ') : 'none of the inference-relevant flags found'}`);
  L.push(`environment: ${Object.entries(r.environment).map(([k, v]) => `${k}=${v ?? '(unset)'}`).join(' ')}`);
  if (r.models.length) {
    L.push('models (threads in force):');
    for (const m of r.models) {
      if ('error' in m) {
        L.push(`  ${m.model}: ${m.error}`);
        continue;
      }
      const t = m.threads;
      const served = m.serving_intra_op !== undefined ? ` (in the server: ${m.serving_intra_op})` : '';
      L.push(`  ${m.model}: providers [${m.providers.requested.join(', ')}] -> ${m.providers.effective}; intra-op ${t.intra_op}${served}, inter-op ${t.inter_op}, instances ${t.instances}`);
    }
  }
  for (const a of r.advice) L.push(`note: ${a}`);
  return L.join('\n');
}

const optsSchema = z.strictObject({ repo: z.string().min(1), json: z.boolean().optional() });

/** Add `doctor` to the CLI. */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('show versions, execution providers, CPU features (AVX2/AVX-512/VNNI), cores and thread settings')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--json', 'print one JSON object')
    .action(action(async (raw: unknown) => {
      const opts = parseWith(optsSchema, raw, 'LS_ERR_VALIDATION', 'doctor options');
      const r = await doctorReport(opts.repo);
      process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${formatDoctor(r)}\n`);
    }));
}
