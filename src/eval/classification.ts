/** Classification metrics against true labels: the spec's "compare the prediction with the true label". Pure. */

export interface ClassMetrics {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly support: number;
}

export interface ClassificationReport {
  readonly labels: readonly string[];
  readonly total: number;
  readonly correct: number;
  readonly accuracy: number;
  readonly macro_f1: number;
  readonly per_class: Readonly<Record<string, ClassMetrics>>;
  /** confusion[i][j] = count of true label i predicted as j, in `labels` order. */
  readonly confusion: readonly (readonly number[])[];
}

/** Build the report from pairs of (true label, predicted label). Labels outside `labels` are added at the end. */
export function classificationReport(pairs: ReadonlyArray<readonly [truth: string, predicted: string]>, labels: readonly string[]): ClassificationReport {
  const names = [...labels];
  const idx = (l: string): number => {
    let i = names.indexOf(l);
    if (i < 0) {
      names.push(l);
      i = names.length - 1;
    }
    return i;
  };
  for (const [t, p] of pairs) {
    idx(t);
    idx(p);
  }
  const k = names.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (const [t, p] of pairs) {
    confusion[idx(t)]![idx(p)]!++;
    if (t === p) correct++;
  }
  const per_class: Record<string, ClassMetrics> = {};
  let f1Sum = 0;
  names.forEach((name, i) => {
    const tp = confusion[i]![i]!;
    const support = confusion[i]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[i]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    per_class[name] = { precision, recall, f1, support };
    f1Sum += f1;
  });
  const total = pairs.length;
  return { labels: names, total, correct, accuracy: total ? correct / total : 0, macro_f1: k ? f1Sum / k : 0, per_class, confusion };
}
