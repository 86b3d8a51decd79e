/**
 * The optimization report: size, parameters, sparsity, compressed size, latency/throughput of the
 * original and the new version measured side by side, and accuracy on evaluation data.
 */
import type { Fp16Summary } from '../onnx/fp16.ts';
import type { PruneSummary } from '../onnx/prune.ts';
import type { QuantizeSummary } from '../onnx/quantize.ts';
import type { AccuracyComparison } from './accuracy.ts';
import type { LatencyRow } from './benchmark.ts';
import type { ModelStats } from './stats.ts';

/** Everything `linesight optimize` measured; `--json` prints exactly this. */
export interface OptimizeReport {
  readonly model: string;
  readonly source_version: number;
  readonly version: number;
  readonly path: string;
  readonly steps: readonly string[];
  readonly quantize?: QuantizeSummary;
  readonly prune?: PruneSummary;
  readonly fp16?: Fp16Summary;
  readonly size: {
    readonly baseline: Omit<ModelStats, 'ops'>;
    readonly optimized: Omit<ModelStats, 'ops'>;
    readonly file_ratio: number;
    readonly gzip_ratio: number;
  };
  /** Operators after onnxruntime's own graph optimizations (what actually runs). */
  readonly engine_kernels: { readonly baseline: Record<string, number>; readonly optimized: Record<string, number>; readonly integer_kernels: number };
  readonly latency: readonly LatencyRow[];
  readonly threads: { readonly intra_op: number | 'default'; readonly inter_op: number | 'default' };
  readonly accuracy?: AccuracyComparison;
  readonly warnings: readonly string[];
  readonly measured_at: string;
}

const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** The report as text for a terminal. */
export function formatReport(r: OptimizeReport): string {
  const L: string[] = [];
  L.push(`${r.model}:${r.source_version} -> ${r.model}:${r.version} (${r.steps.join(' + ')})`);
  L.push(`written to ${r.path}`);
  L.push('');
  const b = r.size.baseline;
  const o = r.size.optimized;
  L.push(`                 ${'original'.padStart(14)} ${'optimized'.padStart(14)}   ratio`);
  L.push(`file size        ${kb(b.file_bytes).padStart(14)} ${kb(o.file_bytes).padStart(14)}   ${r.size.file_ratio.toFixed(3)}x`);
  L.push(`gzip size        ${kb(b.gzip_bytes).padStart(14)} ${kb(o.gzip_bytes).padStart(14)}   ${r.size.gzip_ratio.toFixed(3)}x`);
  L.push(`parameters       ${String(b.params).padStart(14)} ${String(o.params).padStart(14)}`);
  L.push(`sparsity         ${pct(b.sparsity).padStart(14)} ${pct(o.sparsity).padStart(14)}`);
  L.push('');
  if (r.latency.length) {
    const th = `intra-op threads ${r.threads.intra_op}`;
    L.push(`latency (median ms, side by side, ${r.latency[0]!.iterations} runs each, ${th})`);
    L.push(`  batch   original  optimized   ratio   original/s  optimized/s`);
    for (const x of r.latency) {
      L.push(`  ${String(x.batch).padStart(5)} ${x.baseline_ms.toFixed(2).padStart(10)} ${x.optimized_ms.toFixed(2).padStart(10)} ${x.ratio.toFixed(3).padStart(7)}x ${x.baseline_per_s.toFixed(1).padStart(11)} ${x.optimized_per_s.toFixed(1).padStart(12)}`);
    }
    L.push('');
  }
  const ek = Object.entries(r.engine_kernels.optimized).map(([k, v]) => `${k.replace('com.microsoft.', '')} ${v}`).join(', ');
  L.push(`engine kernels (optimized): ${ek}`);
  if (r.accuracy) {
    const a = r.accuracy;
    L.push('');
    L.push(`accuracy on ${a.samples} samples (${a.output}): original ${pct(a.baseline_accuracy)}, optimized ${pct(a.optimized_accuracy)}, drop ${a.drop_points.toFixed(2)} points`);
    L.push(`agreement on the predicted class ${pct(a.argmax_agreement)}; |score difference| max ${a.max_abs_diff.toFixed(4)}, mean ${a.mean_abs_diff.toFixed(4)}`);
  }
  if (r.prune) {
    L.push('');
    L.push(`pruning (${r.prune.mode}, ratio ${r.prune.ratio}):`);
    for (const l of r.prune.layers) {
      L.push(l.channels_before !== undefined ? `  ${l.node}: channels ${l.channels_before} -> ${l.channels_after}` : `  ${l.node}: ${l.zeroed}/${l.total} weights zeroed`);
    }
    for (const s of r.prune.skipped) L.push(`  ${s.node}: kept (${s.reason})`);
  }
  if (r.quantize?.skipped.length) for (const s of r.quantize.skipped) L.push(`  ${s.node}: left in float (${s.reason})`);
  for (const w of r.warnings) L.push(`warning: ${w}`);
  return L.join('\n');
}
