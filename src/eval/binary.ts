/** Metrics of a binary classifier from scores: ROC-AUC, PR-AUC and precision/recall/F1 at a threshold. Pure. */

export interface BinaryMetrics {
  readonly n: number;
  readonly positives: number;
  readonly roc_auc: number;
  /** Average precision (area under the precision-recall curve, step-wise). */
  readonly pr_auc: number;
  readonly threshold: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly accuracy: number;
  /** Counts at the threshold: true/false positives/negatives. */
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

/** ROC-AUC as the Mann-Whitney statistic with ties counted half; NaN when one class is absent. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]!]! >= 0.5) {
        pos++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (!pos || !neg) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Average precision: Σ (R_k − R_{k−1}) P_k over thresholds at each distinct score, highest first. */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let total = 0;
  for (let i = 0; i < n; i++) if (labels[i]! >= 0.5) total++;
  if (!total) return NaN;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  let lastRecall = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    for (let k = i; k <= j; k++) (labels[idx[k]!]! >= 0.5 ? tp++ : fp++);
    const recall = tp / total;
    ap += (recall - lastRecall) * (tp / (tp + fp));
    lastRecall = recall;
    i = j + 1;
  }
  return ap;
}

/** Precision, recall, F1 and counts when `score >= threshold` predicts positive. */
export function atThreshold(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Omit<BinaryMetrics, 'roc_auc' | 'pr_auc'> {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = scores[i]! >= threshold;
    const y = labels[i]! >= 0.5;
    if (p && y) tp++;
    else if (p) fp++;
    else if (y) fn++;
    else tn++;
  }
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { n: scores.length, positives: tp + fn, threshold, precision, recall, f1, accuracy: scores.length ? (tp + tn) / scores.length : 0, tp, fp, tn, fn };
}

/** All binary metrics. */
export function binaryMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): BinaryMetrics {
  return { ...atThreshold(scores, labels, threshold), roc_auc: rocAuc(scores, labels), pr_auc: averagePrecision(scores, labels) };
}

/** The threshold (one of the scores) with the best F1; 0.5 when there is no positive. */
export function bestF1Threshold(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let total = 0;
  for (let i = 0; i < n; i++) if (labels[i]! >= 0.5) total++;
  if (!total) return 0.5;
  let tp = 0, fp = 0, best = -1, bestT = 0.5;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    for (let k = i; k <= j; k++) (labels[idx[k]!]! >= 0.5 ? tp++ : fp++);
    const f1 = (2 * tp) / (tp + fp + total);
    if (f1 > best) {
      best = f1;
      bestT = scores[idx[i]!]!;
    }
    i = j + 1;
  }
  return bestT;
}
