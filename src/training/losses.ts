/**
 * Loss functions on a batch of model outputs, each returning the loss and its gradient with
 * respect to the outputs (the scores before any activation). Sums over the batch, as the spec writes
 * L = ½ Σ (y − y_true)²; the trainer divides by the batch size.
 */

/** Loss value and ∂L/∂outputs for one batch. */
export interface LossResult {
  readonly loss: number;
  readonly grad: Float64Array;
}

/** A loss over `n` rows of `k` outputs each, with targets (values, 0/1 labels or class indices). */
export type Loss = (outputs: Float64Array, targets: Float64Array, n: number, k: number) => LossResult;

/** Mean squared error in the spec's form: L = ½ Σ (y − y_true)², ∂L/∂y = y − y_true. */
export const mse: Loss = (y, t, n, k) => {
  const grad = new Float64Array(n * k);
  let loss = 0;
  for (let i = 0; i < n * k; i++) {
    const d = y[i]! - t[i]!;
    grad[i] = d;
    loss += 0.5 * d * d;
  }
  return { loss, grad };
};

function logSigmoid(z: number): number {
  // log σ(z) without overflow for large |z|.
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

/**
 * Binary cross-entropy on one logit per row: L = −Σ w_t [t log σ(z) + (1−t) log(1−σ(z))],
 * ∂L/∂z = w_t (σ(z) − t). `weights` = [w_negative, w_positive] (class weights for rare failures).
 */
export function binaryCrossEntropy(weights: readonly [number, number] = [1, 1]): Loss {
  return (z, t, n) => {
    const grad = new Float64Array(n);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const zi = z[i]!;
      const ti = t[i]!;
      const w = ti >= 0.5 ? weights[1] : weights[0];
      loss -= w * (ti * logSigmoid(zi) + (1 - ti) * logSigmoid(-zi));
      const s = zi >= 0 ? 1 / (1 + Math.exp(-zi)) : Math.exp(zi) / (1 + Math.exp(zi));
      grad[i] = w * (s - ti);
    }
    return { loss, grad };
  };
}

/**
 * Softmax cross-entropy on k logits per row with the class index as target:
 * L = −Σ w_c log softmax(z)_c, ∂L/∂z = w_c (softmax(z) − onehot(c)). `weights` per class, or all 1.
 */
export function softmaxCrossEntropy(weights?: ArrayLike<number>): Loss {
  return (z, t, n, k) => {
    const grad = new Float64Array(n * k);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const o = i * k;
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, z[o + j]!);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(z[o + j]! - max);
      const c = t[i]!;
      const w = weights ? weights[c]! : 1;
      loss -= w * (z[o + c]! - max - Math.log(sum));
      for (let j = 0; j < k; j++) grad[o + j] = w * (Math.exp(z[o + j]! - max) / sum - (j === c ? 1 : 0));
    }
    return { loss, grad };
  };
}

/** Class weights n / (k · count_c), so rare classes count as much as common ones in the loss. */
export function balancedClassWeights(labels: ArrayLike<number>, k: number): Float64Array {
  const counts = new Float64Array(k);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  const w = new Float64Array(k);
  for (let c = 0; c < k; c++) w[c] = counts[c]! > 0 ? labels.length / (k * counts[c]!) : 0;
  return w;
}
