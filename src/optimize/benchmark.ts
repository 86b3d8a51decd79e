/**
 * Latency and throughput of two sessions measured side by side in one run: the runs alternate
 * (A, B, A, B...) so load from other processes on a shared machine hits both alike.
 */
import type { InferenceSession } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';

/** One batch size's comparison; times are medians in milliseconds. */
export interface LatencyRow {
  readonly batch: number;
  readonly baseline_ms: number;
  readonly optimized_ms: number;
  /** optimized / baseline (below 1 = faster). */
  readonly ratio: number;
  readonly baseline_per_s: number;
  readonly optimized_per_s: number;
  readonly iterations: number;
}

/** Batch sizes, run counts and clock of a side-by-side measurement. */
export interface BenchmarkOptions {
  readonly batches: readonly number[];
  readonly iterations: number;
  readonly warmup: number;
  /** Monotonic milliseconds (injected for tests). */
  readonly now?: () => number;
}

/** The median of a list of numbers. */
export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Measure both sessions on the same feeds for each batch size. */
export async function compareLatency(
  baseline: InferenceSession,
  optimized: InferenceSession,
  feedsFor: (batch: number) => Record<string, Tensor>,
  opts: BenchmarkOptions,
): Promise<LatencyRow[]> {
  const now = opts.now ?? (() => performance.now());
  const rows: LatencyRow[] = [];
  for (const batch of opts.batches) {
    const feeds = feedsFor(batch);
    for (let i = 0; i < opts.warmup; i++) {
      await baseline.run(feeds);
      await optimized.run(feeds);
    }
    const ta: number[] = [];
    const tb: number[] = [];
    for (let i = 0; i < opts.iterations; i++) {
      // Alternate which one goes first so neither always runs on a warmer cache.
      const order = i % 2 ? [optimized, baseline] : [baseline, optimized];
      for (const s of order) {
        const t0 = now();
        await s.run(feeds);
        (s === baseline ? ta : tb).push(now() - t0);
      }
    }
    const a = median(ta);
    const b = median(tb);
    rows.push({
      batch,
      baseline_ms: a,
      optimized_ms: b,
      ratio: b / a,
      baseline_per_s: (batch * 1000) / a,
      optimized_per_s: (batch * 1000) / b,
      iterations: opts.iterations,
    });
  }
  return rows;
}
