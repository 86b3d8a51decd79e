/**
 * Accuracy of the original and the optimized model on the same labelled samples, plus how often
 * they agree on the top class and how far their scores drift (accuracy near 100% hides drift).
 */
import { LsError } from '../core/errors.ts';
import { argmax } from '../pipeline/post/classify.ts';
import type { InferenceSession } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Sample } from './samples.ts';

/** The accuracy part of the report. */
export interface AccuracyComparison {
  readonly samples: number;
  readonly output: string;
  readonly baseline_accuracy: number;
  readonly optimized_accuracy: number;
  /** Baseline minus optimized accuracy, in percentage points. */
  readonly drop_points: number;
  /** Share of samples where both models pick the same class. */
  readonly argmax_agreement: number;
  readonly max_abs_diff: number;
  readonly mean_abs_diff: number;
}

/** Run both sessions over the samples (in batches) and compare their outputs and accuracy. */
export async function compareAccuracy(
  baseline: InferenceSession,
  optimized: InferenceSession,
  samples: readonly Sample[],
  feedsOf: (batch: readonly Sample[]) => Record<string, Tensor>,
  output: string,
  labels: readonly string[],
  batch = 16,
): Promise<AccuracyComparison> {
  const unknown = [...new Set(samples.map((s) => s.label))].filter((l) => l === undefined || !labels.includes(l));
  if (unknown.length) {
    throw new LsError('LS_ERR_DATASET', `evaluation images need class folders named after the labels (${labels.join(', ')}); found: ${unknown.map(String).join(', ')}`);
  }
  let okA = 0;
  let okB = 0;
  let agree = 0;
  let maxDiff = 0;
  let sumDiff = 0;
  let values = 0;
  for (let i = 0; i < samples.length; i += batch) {
    const chunk = samples.slice(i, i + batch);
    const feeds = feedsOf(chunk);
    const a = (await baseline.run(feeds, [output]))[output];
    const b = (await optimized.run(feeds, [output]))[output];
    if (!(a?.data instanceof Float32Array) || !(b?.data instanceof Float32Array)) {
      throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `output ${output} is not float32`);
    }
    const da = a.data;
    const db = b.data;
    const width = da.length / chunk.length;
    chunk.forEach((s, r) => {
      const ra = da.subarray(r * width, (r + 1) * width);
      const rb = db.subarray(r * width, (r + 1) * width);
      const pa = argmax(ra);
      const pb = argmax(rb);
      const truth = labels.indexOf(s.label!);
      if (pa === truth) okA++;
      if (pb === truth) okB++;
      if (pa === pb) agree++;
      for (let k = 0; k < width; k++) {
        const d = Math.abs(ra[k]! - rb[k]!);
        if (d > maxDiff) maxDiff = d;
        sumDiff += d;
      }
      values += width;
    });
  }
  const n = Math.max(1, samples.length);
  return {
    samples: samples.length,
    output,
    baseline_accuracy: okA / n,
    optimized_accuracy: okB / n,
    drop_points: ((okA - okB) / n) * 100,
    argmax_agreement: agree / n,
    max_abs_diff: maxDiff,
    mean_abs_diff: values ? sumDiff / values : 0,
  };
}
