/** Classification post-processing: scores -> probabilities -> top-k labels. Pure. */

export interface LabelProbability {
  readonly label: string;
  readonly probability: number;
}

export interface Classification {
  readonly label: string;
  readonly index: number;
  readonly probability: number;
  readonly top: readonly LabelProbability[];
  readonly probabilities: readonly number[];
}

/** Numerically stable softmax. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const n = logits.length;
  const out = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    out[i] = Math.exp(logits[i]! - max);
    sum += out[i]!;
  }
  for (let i = 0; i < n; i++) out[i]! /= sum;
  return out;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Index of the largest value (first one on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Turn one row of model scores into a classification.
 * `sigmoid` with a single score means a binary model: [P(negative), P(positive)].
 */
export function classify(
  scores: ArrayLike<number>,
  labels: readonly string[] | undefined,
  activation: 'softmax' | 'sigmoid' | 'none',
  topK: number,
): Classification {
  let probs: number[];
  if (activation === 'softmax') probs = Array.from(softmax(scores));
  else if (activation === 'sigmoid') {
    probs = scores.length === 1 ? [1 - sigmoid(scores[0]!), sigmoid(scores[0]!)] : Array.from(scores, (s) => sigmoid(s));
  } else probs = Array.from(scores, Number);
  const names = labels && labels.length === probs.length ? labels : probs.map((_, i) => String(i));
  const order = probs.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const index = order[0]![1];
  return {
    label: names[index]!,
    index,
    probability: probs[index]!,
    top: order.slice(0, topK).map(([p, i]) => ({ label: names[i]!, probability: p })),
    probabilities: probs,
  };
}
