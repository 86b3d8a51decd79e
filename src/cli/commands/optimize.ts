/** `linesight optimize -m NAME [--int8] [--calib DIR] [--prune RATIO] [--structured] [--fp16] [--eval DIR] [--json]`. */
import type { Command } from 'commander';
import { LsError } from '../../core/errors.ts';
import { getBackend } from '../../runtime/index.ts';
import { optimizeModel, type OptimizeOptions } from '../../optimize/optimize.ts';
import { formatReport } from '../../optimize/report.ts';
import { action, DEFAULT_REPO } from '../context.ts';
import { addAuditFileOption, withAuditFile } from '../cli-audit.ts';

interface RawOptions {
  model: string;
  repo: string;
  int8?: boolean;
  dynamic?: boolean;
  calib?: string;
  calibMethod: string;
  percentile: string;
  calibCount: string;
  prune?: string;
  structured?: boolean;
  biasCorrection?: boolean;
  fp16?: boolean;
  fp16Compute?: boolean;
  eval?: string;
  target?: string;
  batches: string;
  iterations: string;
  bench: boolean;
  threads: string;
  json?: boolean;
  auditFile: string;
}

/** A number from a command-line flag, or LS_ERR_VALIDATION naming the flag. */
function num(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new LsError('LS_ERR_VALIDATION', `${flag} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** Map the command line onto the validated options of optimizeModel (which checks ranges and combinations). */
export function toOptimizeOptions(r: RawOptions): OptimizeOptions {
  return {
    repo: r.repo,
    model: r.model,
    int8: Boolean(r.int8),
    dynamic: Boolean(r.dynamic),
    ...(r.calib ? { calib: r.calib } : {}),
    calibMethod: r.calibMethod as 'minmax' | 'percentile',
    percentile: num('--percentile', r.percentile),
    calibCount: num('--calib-count', r.calibCount),
    ...(r.prune !== undefined ? { prune: num('--prune', r.prune) } : {}),
    structured: Boolean(r.structured),
    biasCorrection: Boolean(r.biasCorrection),
    fp16: Boolean(r.fp16),
    fp16Compute: Boolean(r.fp16Compute),
    ...(r.eval ? { eval: r.eval } : {}),
    ...(r.target ? { target: r.target } : {}),
    batches: r.batches.split(',').map((b) => num('--batches', b)),
    iterations: num('--iterations', r.iterations),
    bench: r.bench,
    threads: num('--threads', r.threads),
  };
}

/** Add `optimize` to the CLI. */
export function register(program: Command): void {
  const cmd = program
    .command('optimize')
    .description('write a smaller/faster new version of a model (int8, pruning, fp16) and measure it against the original')
    .requiredOption('-m, --model <name[:version]>', 'model name, optionally with a version (default: newest)')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--int8', 'int8 quantization (static QDQ with --calib; weight-only with --dynamic)')
    .option('--dynamic', 'with --int8: dynamic quantization (int8 weights, activations quantized at run time; no calibration)')
    .option('--calib <dir>', 'calibration images (DIR or DIR/<class>/) for static int8')
    .option('--calib-method <method>', 'activation ranges: minmax or percentile', 'minmax')
    .option('--percentile <p>', 'with --calib-method percentile: share of values kept', '99.99')
    .option('--calib-count <n>', 'calibration images to use (evenly spread over the folder)', '100')
    .option('--prune <ratio>', 'magnitude pruning: share of weights (or, with --structured, of conv channels) to remove, 0..1')
    .option('--structured', 'with --prune: remove whole conv channels (smallest L1 norm) instead of single weights')
    .option('--bias-correction', 'with --structured and --calib: fold the mean activation of removed channels into the next layer\'s bias')
    .option('--fp16', 'store weights as float16 (half the file; computes in float32)')
    .option('--fp16-compute', 'with --fp16: the whole graph computes in float16 (for GPU providers; float32 inputs/outputs kept)')
    .option('--eval <path>', 'labelled data (images DIR/<class>/<image>, or a CSV for tabular models): accuracy of original vs new and agreement')
    .option('--target <column>', 'with a CSV --eval: the label column (default: the model\'s metadata.target)')
    .option('--batches <list>', 'batch sizes to time', '1,16')
    .option('--iterations <n>', 'timed runs per batch size and model', '30')
    .option('--no-bench', 'skip the latency measurement')
    .option('--threads <n>', 'intra-op threads for measuring (0 = the model config / onnxruntime default)', '0')
    .option('--json', 'print the report as one JSON object');
  addAuditFileOption(cmd)
    .action(action(async (raw: RawOptions) => {
      const options = toOptimizeOptions(raw);
      const backend = await getBackend();
      const progress = raw.json ? undefined : (m: string) => process.stderr.write(`${m}\n`);
      const report = await withAuditFile(raw.auditFile, async () => {
        const r = await optimizeModel(options, backend, progress);
        return { result: r, entry: { action: 'model.optimize', target: `model:${r.model}:${r.version}`, details: { source_version: r.source_version, steps: r.steps, ...(r.accuracy ? { accuracy: r.accuracy } : {}) } } };
      });
      process.stdout.write(raw.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
    }));
}
