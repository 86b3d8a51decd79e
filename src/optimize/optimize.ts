/**
 * `linesight optimize`: make a new, smaller/faster version of a model in the repository (int8,
 * pruning, fp16), check that onnxruntime loads it with the same inputs/outputs, and measure it
 * side by side with the original. The original version is only read.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { LsError, toLsError } from '../core/errors.ts';
import { parseWith } from '../core/validate.ts';
import { checkIo } from '../pipeline/model.ts';
import { ModelRepository, parseModelRef, type ResolvedModel } from '../repository/repository.ts';
import type { InferenceBackend, InferenceSession } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { assertSupported } from '../onnx/check.ts';
import { convertToFp16, convertWeightsToFp16, type Fp16Summary } from '../onnx/fp16.ts';
import { decodeModel, encodeModel } from '../onnx/proto.ts';
import { pruneStructured, pruneUnstructured, structuredPruneInputs, type PruneSummary } from '../onnx/prune.ts';
import { channelMeans } from '../onnx/calibrate.ts';
import { foldBatchNorm } from '../onnx/fold-bn.ts';
import { graphOf } from '../onnx/graph.ts';
import { MIN_INT8_CONV_DEPTH, quantizeStatic, type QuantizeSummary } from '../onnx/quantize.ts';
import { quantizeDynamic } from '../onnx/quantize-dynamic.ts';
import { classifier, compareAccuracy, labelIndices, type AccuracyComparison } from './accuracy.ts';
import { readCsv, toRecords } from '../data/readers/csv.ts';
import { tabularFeeds, type RawRow } from '../pipeline/pre/tabular.ts';
import { compareLatency, type LatencyRow } from './benchmark.ts';
import type { OptimizeReport } from './report.ts';
import { batchesOf, evenlySpaced, imageSpecOf, listImageFiles, loadSamples, stackSamples, syntheticFeeds, syntheticRows, type ImageFile, type Sample } from './samples.ts';
import { engineKernels, integerKernelCount, modelStats } from './stats.ts';

/** The options of one optimization run (validated once, then frozen). */
export const optimizeOptionsSchema = z
  .strictObject({
    repo: z.string().min(1),
    model: z.string().min(1),
    int8: z.boolean().default(false),
    /** Weight-only int8 with activations quantized at run time (MatMul-heavy models; no calibration). */
    dynamic: z.boolean().default(false),
    calib: z.string().min(1).optional(),
    /** Calibration files given directly (benchmarks use the data set's training split). */
    calibFiles: z.array(z.strictObject({ path: z.string(), label: z.string().optional() })).min(1).optional(),
    calibMethod: z.enum(['minmax', 'percentile']).default('minmax'),
    percentile: z.number().gt(90).max(100).default(99.99),
    /** Static int8: Conv filters reading fewer values per output stay float (0: quantize every Conv). */
    minConvDepth: z.number().int().min(0).default(MIN_INT8_CONV_DEPTH),
    calibCount: z.number().int().positive().max(10_000).default(100),
    prune: z.number().gt(0).lt(1).optional(),
    structured: z.boolean().default(false),
    /** With --structured: replace removed channels by their mean activation on the calibration images. */
    biasCorrection: z.boolean().default(false),
    fp16: z.boolean().default(false),
    /** With fp16: convert the whole graph (GPU providers), not only the stored weights. */
    fp16Compute: z.boolean().default(false),
    /** Labelled evaluation data: DIR/<class>/<image> for image models, a CSV file for tabular models. */
    eval: z.string().min(1).optional(),
    /** For a tabular --eval CSV: the column with the true label (default: the model's metadata.target). */
    target: z.string().min(1).optional(),
    /** Labelled evaluation files given directly (benchmarks use the data set's test split). */
    evalFiles: z.array(z.strictObject({ path: z.string(), label: z.string().optional() })).optional(),
    batches: z.array(z.number().int().positive().max(1024)).default([1, 16]),
    iterations: z.number().int().min(1).max(10_000).default(30),
    warmup: z.number().int().min(0).max(1000).default(3),
    bench: z.boolean().default(true),
    /** Intra-op threads for calibration and measurement (0 = the model's config, else onnxruntime's default). */
    threads: z.number().int().min(0).max(256).default(0),
  })
  .refine((o) => o.int8 || o.prune !== undefined || o.fp16, { message: 'choose at least one of --int8, --prune RATIO, --fp16' })
  .refine((o) => !(o.int8 && o.fp16), { message: '--int8 and --fp16 cannot be combined (int8 already stores weights in 8 bits)' })
  .refine((o) => !o.structured || o.prune !== undefined, { message: '--structured needs --prune RATIO' })
  .refine((o) => !o.int8 || o.dynamic || o.calib || o.calibFiles, { message: 'static --int8 needs --calib DIR (calibration images); use --dynamic for weight-only quantization' })
  .refine((o) => !o.dynamic || o.int8, { message: '--dynamic goes with --int8' })
  .refine((o) => !o.fp16Compute || o.fp16, { message: '--fp16-compute goes with --fp16' })
  .refine((o) => !o.biasCorrection || (o.structured && (o.calib || o.calibFiles)), { message: '--bias-correction needs --structured and --calib DIR' });
/** Options as a caller writes them (defaults filled in by the schema). */
export type OptimizeOptions = z.input<typeof optimizeOptionsSchema>;

/** Progress messages for a terminal (stderr); silent when not given. */
export type OptimizeProgress = (message: string) => void;

/** Optimize a model version into a new version and measure it. */
export async function optimizeModel(input: OptimizeOptions, backend: InferenceBackend, progress: OptimizeProgress = () => {}): Promise<OptimizeReport> {
  const o = Object.freeze(parseWith(optimizeOptionsSchema, input, 'LS_ERR_VALIDATION', 'optimize options'));
  const repo = await ModelRepository.open(o.repo);
  const src = await repo.resolve(parseModelRef(o.model));
  const manifest = src.manifest;
  const threads = o.threads || manifest.execution.intra_op_threads || undefined;
  const interOp = manifest.execution.inter_op_threads || undefined;
  const warnings: string[] = [];
  const sessionOpts = {
    providers: manifest.execution.providers,
    intraOpThreads: threads,
    interOpThreads: interOp,
    // Both sessions report the same fallback: one warning per provider.
    onProviderFallback: (p: string, why: string) => {
      const w = `execution provider "${p}" unavailable (${why}); measured on the next one`;
      if (!warnings.includes(w)) warnings.push(w);
    },
  };

  let srcBytes: Uint8Array;
  try {
    srcBytes = await fs.readFile(src.modelPath);
  } catch {
    throw new LsError('LS_ERR_FILE_READ', undefined, { subject: src.modelPath });
  }
  // A truncated file can still decode as protobuf: the engine loading it is the real check, done first.
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'linesight-optimize-'));
  const sessions: InferenceSession[] = [];
  try {
    return await rewriteAndMeasure();
  } finally {
    for (const s of sessions) await s.dispose();
    await fs.rm(scratch, { recursive: true, force: true });
  }

  async function rewriteAndMeasure(): Promise<OptimizeReport> {
    let baseline: InferenceSession;
    try {
      baseline = await backend.load(srcBytes, { ...sessionOpts, optimizedModelPath: path.join(scratch, 'baseline.onnx') });
    } catch (e) {
      throw toLsError(e, 'LS_ERR_MODEL_CORRUPT', src.modelPath);
    }
    sessions.push(baseline);
    const model = decodeModel(srcBytes, src.modelPath);
    assertSupported(model, src.modelPath);

    // Calibration images serve static int8 and, for structured pruning, the mean activation of removed channels.
    const useCalib = Boolean(o.int8 && !o.dynamic) || o.biasCorrection;
    const tabular = manifest.preprocess.kind === 'tabular';
    const needImages = useCalib || (!tabular && Boolean(o.eval || o.evalFiles));
    const spec = needImages ? imageSpecOf(manifest) : undefined;
    const inputName = manifest.inputs[0]!.name;
    let calib: Sample[] = [];
    if (useCalib) {
      const files = o.calibFiles ? evenlySpaced(o.calibFiles, o.calibCount) : await listImageFiles(o.calib!, o.calibCount);
      progress(`calibrating on ${files.length} images (${o.calibMethod}${o.calibMethod === 'percentile' ? ` ${o.percentile}` : ''})`);
      calib = await loadSamples(files, spec!);
    }
    let evalSamples: Sample[] = [];
    let evalRows: RawRow[] = [];
    if (tabular && o.eval) {
      evalRows = toRecords(await readCsv(o.eval));
      progress(`read ${evalRows.length} evaluation rows`);
    } else if (o.eval || o.evalFiles) {
      const files: ImageFile[] = o.evalFiles ?? (await listImageFiles(o.eval!));
      progress(`reading ${files.length} evaluation images`);
      evalSamples = await loadSamples(files, spec!);
    }

    // --- rewrite -------------------------------------------------------------------------------
    const steps: string[] = [];
    let prune: PruneSummary | undefined;
    let quantize: QuantizeSummary | undefined;
    let fp16: Fp16Summary | undefined;
    if (o.prune !== undefined) {
      progress(`pruning (${o.structured ? 'structured' : 'unstructured'}, ratio ${o.prune})`);
      if (o.structured) {
        let means: Map<string, Float64Array> | undefined;
        if (o.biasCorrection) {
          const folded = decodeModel(encodeModel(model));
          foldBatchNorm(graphOf(folded));
          means = await channelMeans(folded, structuredPruneInputs(folded), batchesOf(calib, spec!, inputName, 16), backend, threads);
        }
        prune = pruneStructured(model, o.prune, means ? { means } : {});
      } else {
        prune = pruneUnstructured(model, o.prune);
      }
      steps.push(`prune-${prune.mode}-${o.prune}`);
    }
    if (o.int8 && o.dynamic) {
      progress('quantizing weights to int8 (dynamic)');
      quantize = quantizeDynamic(model);
      steps.push('int8-dynamic');
    } else if (o.int8) {
      progress('quantizing to int8 (static QDQ)');
      const batches = batchesOf(calib, spec!, inputName, 16);
      quantize = await quantizeStatic(model, { calibration: batches, method: o.calibMethod, percentile: o.percentile, backend, intraOpThreads: threads, minConvDepth: o.minConvDepth });
      steps.push(`int8-static-${o.calibMethod}`);
    }
    if (o.fp16) {
      progress(o.fp16Compute ? 'converting the graph to fp16' : 'converting weights to fp16');
      fp16 = o.fp16Compute ? convertToFp16(model) : convertWeightsToFp16(model);
      steps.push(o.fp16Compute ? 'fp16-graph' : 'fp16-weights');
    }
    if (quantize && Object.keys(quantize.quantized_nodes).length === 0) {
      throw new LsError('LS_ERR_MODEL_UNSUPPORTED', 'no Conv, Gemm or MatMul with constant weights to quantize; nothing was written', { subject: src.modelPath });
    }
    const newBytes = encodeModel(model);

    // --- validate, measure, then publish the version --------------------------------------------
    const modelDir = await repo.safePath(src.name);
    const tmp = path.join(modelDir, `.optimize-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await fs.mkdir(tmp);
      const tmpModel = path.join(tmp, 'model.onnx');
      await fs.writeFile(tmpModel, newBytes);
      progress('validating the new model in onnxruntime');
      let optimized: InferenceSession;
      try {
        optimized = await backend.load(tmpModel, { ...sessionOpts, optimizedModelPath: path.join(scratch, 'optimized.onnx') });
      } catch (e) {
        throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `the rewritten model does not load in onnxruntime (${toLsError(e).message}); nothing was written`, { subject: src.modelPath });
      }
      sessions.push(optimized);
      checkIo({ ...src, modelPath: tmpModel, versionDir: tmp } satisfies ResolvedModel, optimized);
      const kernels = {
        baseline: engineKernels(await fs.readFile(path.join(scratch, 'baseline.onnx'))),
        optimized: engineKernels(await fs.readFile(path.join(scratch, 'optimized.onnx'))),
      };
      const integer = integerKernelCount(kernels.optimized);
      if (quantize && integer === 0) {
        warnings.push('onnxruntime did not fuse the quantized graph into integer kernels: int8 will run slower than fp32 on this machine');
      }

      let latency: LatencyRow[] = [];
      if (o.bench) {
        const pool = evalSamples.length ? evalSamples : calib;
        const feedsFor = (batch: number): Record<string, Tensor> =>
          spec && pool.length
            ? stackSamples(Array.from({ length: batch }, (_, i) => pool[i % pool.length]!), spec, inputName)
            : evalRows.length ? tabularFeeds(manifest, Array.from({ length: batch }, (_, i) => evalRows[i % evalRows.length]!))
            : tabular ? syntheticRows(manifest, batch) : syntheticFeeds(baseline.inputs, batch);
        progress(`measuring latency side by side (batches ${o.batches.join(', ')}, ${o.iterations} runs each)`);
        latency = await compareLatency(baseline, optimized, feedsFor, { batches: o.batches, iterations: o.iterations, warmup: o.warmup });
      }
      let accuracy: AccuracyComparison | undefined;
      const output = manifest.postprocess?.output ?? manifest.outputs[0]!.name;
      const labels = manifest.labels ?? [];
      if (evalSamples.length) {
        progress(`comparing accuracy on ${evalSamples.length} images`);
        const inputs = labelIndices(evalSamples, (s) => s.label, labels);
        accuracy = await compareAccuracy(baseline, optimized, inputs, (b) => stackSamples(b, spec!, inputName), output, classifier(manifest));
      } else if (evalRows.length) {
        const target = o.target ?? (typeof manifest.metadata.target === 'string' ? manifest.metadata.target : undefined);
        if (!target) throw new LsError('LS_ERR_VALIDATION', 'name the label column of the --eval CSV with --target COLUMN', { subject: o.eval });
        progress(`comparing accuracy on ${evalRows.length} rows (label column "${target}")`);
        const inputs = labelIndices(evalRows, (r) => (r[target] === undefined || r[target] === null ? undefined : String(r[target]).trim()), labels);
        accuracy = await compareAccuracy(baseline, optimized, inputs, (b) => tabularFeeds(manifest, b), output, classifier(manifest), 256);
      }

      const base = modelStats(srcBytes);
      const next = modelStats(newBytes);
      const { ops: _bo, ...baseSize } = base;
      const { ops: _no, ...nextSize } = next;
      const measuredAt = new Date().toISOString();
      const version = await publish(repo, src, tmp, {
        made_by: 'linesight optimize',
        from_version: src.version,
        steps,
        date: measuredAt,
        ...(quantize ? { quantize: { mode: quantize.mode, calibration: quantize.calibration ?? null, quantized_nodes: quantize.quantized_nodes } } : {}),
        ...(prune ? { prune: { mode: prune.mode, ratio: prune.ratio, ...(prune.compensated ? { compensated_with_channel_means: true } : {}) } } : {}),
        ...(fp16 ? { fp16: { weights: 'float16', compute: fp16.compute } } : {}),
        file_ratio: next.file_bytes / base.file_bytes,
        ...(accuracy ? { accuracy: { samples: accuracy.samples, baseline: accuracy.baseline_accuracy, optimized: accuracy.optimized_accuracy, argmax_agreement: accuracy.argmax_agreement } } : {}),
      });
      return {
        model: src.name,
        source_version: src.version,
        version,
        path: path.join(modelDir, String(version), 'model.onnx'),
        steps,
        ...(quantize ? { quantize } : {}),
        ...(prune ? { prune } : {}),
        ...(fp16 ? { fp16 } : {}),
        size: { baseline: baseSize, optimized: nextSize, file_ratio: next.file_bytes / base.file_bytes, gzip_ratio: next.gzip_bytes / base.gzip_bytes },
        engine_kernels: { ...kernels, integer_kernels: integer },
        latency,
        threads: { intra_op: threads ?? 'default', inter_op: interOp ?? 'default' },
        ...(accuracy ? { accuracy } : {}),
        warnings,
        measured_at: measuredAt,
      };
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }
}

/**
 * Write the version-level config.yaml (the source's config plus how this version was made) and move
 * the folder into place under the next free version number; a version folder appears complete or not at all.
 */
async function publish(repo: ModelRepository, src: ResolvedModel, tmp: string, made: Record<string, unknown>): Promise<number> {
  const manifest = { ...src.manifest, metadata: { ...src.manifest.metadata, optimization: made } };
  const header = `# ${src.name} version made by \`linesight optimize\` from version ${src.version} (${String((made.steps as string[]).join(' + '))}).\n`;
  await fs.writeFile(path.join(tmp, 'config.yaml'), header + YAML.stringify(manifest));
  for (let attempt = 0; attempt < 5; attempt++) {
    const version = await repo.nextVersion(src.name);
    const dest = await repo.safePath(src.name, String(version));
    try {
      await fs.rename(tmp, dest);
      return version;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
    }
  }
  throw new LsError('LS_ERR_INTERNAL', 'could not find a free version number', { subject: src.name });
}
