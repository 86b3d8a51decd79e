/**
 * Accuracy of the original and the optimized model on the same labelled inputs, plus how often
 * they agree on the predicted class and how far their scores drift (accuracy near 100% hides drift).
 */
import { LsError } from '../core/errors.ts';
import { argmax, sigmoid } from '../pipeline/post/classify.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { InferenceSession } from '../runtime/backend.ts';
import type { Tensor } from '../runtime/tensor.ts';

/** The accuracy part of the report. */
export interface AccuracyComparison {
  readonly samples: number;
  readonly output: string;
  readonly baseline_accuracy: number;
  readonly optimized_accuracy: number;
  /** Baseline minus optimized accuracy, in percentage points. */
  readonly drop_points: number;
  /** Share of samples where both models predict the same class. */
  readonly argmax_agreement: number;
  readonly max_abs_diff: number;
  readonly mean_abs_diff: number;
}

/** Something to predict with its true class (an index into the model's labels). */
export interface LabelledInput<T> {
  readonly item: T;
  readonly truth: number;
}

/**
 * The predicted class of one output row: argmax for several scores; for one score (a binary
 * model) the positive class when the score, after the configured activation, reaches the threshold.
 */
export function classifier(manifest: Manifest): (row: Float32Array) => number {
  const activation = manifest.postprocess?.activation ?? 'none';
  const threshold = manifest.decision.threshold ?? 0.5;
  const labels = manifest.labels ?? [];
  const positive = Math.max(0, labels.indexOf(manifest.decision.positive_label ?? labels[1] ?? '1'));
  return (row) => {
    if (row.length > 1) return argmax(row);
    const score = activation === 'sigmoid' ? sigmoid(row[0]!) : row[0]!;
    return score >= threshold ? positive : 1 - positive;
  };
}

/** The index of each item's true label; every label must be one of the model's. */
export function labelIndices<T>(items: readonly T[], labelOf: (item: T) => string | undefined, labels: readonly string[]): Array<LabelledInput<T>> {
  const unknown = [...new Set(items.map(labelOf))].filter((l) => l === undefined || !labels.includes(l));
  if (unknown.length) {
    throw new LsError('LS_ERR_DATASET', `evaluation labels must be the model's labels (${labels.join(', ')}); found: ${unknown.slice(0, 5).map(String).join(', ')}`);
  }
  return items.map((item) => ({ item, truth: labels.indexOf(labelOf(item)!) }));
}

/** Run both sessions over the inputs (in batches) and compare their predictions and scores. */
export async function compareAccuracy<T>(
  baseline: InferenceSession,
  optimized: InferenceSession,
  inputs: ReadonlyArray<LabelledInput<T>>,
  feedsOf: (batch: readonly T[]) => Record<string, Tensor>,
  output: string,
  classify: (row: Float32Array) => number,
  batch = 16,
): Promise<AccuracyComparison> {
  let okA = 0;
  let okB = 0;
  let agree = 0;
  let maxDiff = 0;
  let sumDiff = 0;
  let values = 0;
  for (let i = 0; i < inputs.length; i += batch) {
    const chunk = inputs.slice(i, i + batch);
    const feeds = feedsOf(chunk.map((c) => c.item));
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
      const pa = classify(ra);
      const pb = classify(rb);
      if (pa === s.truth) okA++;
      if (pb === s.truth) okB++;
      if (pa === pb) agree++;
      for (let k = 0; k < width; k++) {
        const d = Math.abs(ra[k]! - rb[k]!);
        if (d > maxDiff) maxDiff = d;
        sumDiff += d;
      }
      values += width;
    });
  }
  const n = Math.max(1, inputs.length);
  return {
    samples: inputs.length,
    output,
    baseline_accuracy: okA / n,
    optimized_accuracy: okB / n,
    drop_points: ((okA - okB) / n) * 100,
    argmax_agreement: agree / n,
    max_abs_diff: maxDiff,
    mean_abs_diff: values ? sumDiff / values : 0,
  };
}
