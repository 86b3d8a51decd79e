/** Post-processing of one batch row into a Prediction, for every task. Pure. */
import { LsError } from '../../core/errors.ts';
import type { Manifest } from '../../repository/manifest.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { decideClassification, decideScore, type DecisionKind } from '../decide.ts';
import { classify, type LabelProbability } from './classify.ts';

/** What LineSight answers for one input: the prediction and the decision. */
export interface Prediction {
  readonly model: string;
  readonly version: number;
  readonly task: Manifest['task'];
  /** Classification: the top class and its probability. */
  readonly label?: string;
  readonly probability?: number;
  readonly top?: readonly LabelProbability[];
  readonly probabilities?: Readonly<Record<string, number>>;
  /** Regression / anomaly: the score (first value) and all values. */
  readonly score?: number;
  readonly values?: readonly number[];
  readonly decision: DecisionKind;
  readonly reason: string;
}

/** The values of row `i` of a batched output tensor. */
export function rowOf(t: Tensor, i: number): number[] {
  const n = t.shape[0] ?? 1;
  const per = t.data.length / Math.max(1, n);
  const out: number[] = [];
  for (let k = 0; k < per; k++) out.push(Number((t.data as ArrayLike<number | bigint>)[i * per + k]));
  return out;
}

/** The output that carries the scores: postprocess.output, or the first output. */
export function scoreOutputName(m: Manifest): string {
  return m.postprocess?.output ?? m.outputs[0]!.name;
}

export function predictionFromRow(m: Manifest, model: { name: string; version: number }, outputs: Readonly<Record<string, Tensor>>, i: number): Prediction {
  const outName = scoreOutputName(m);
  const t = outputs[outName];
  if (!t) throw new LsError('LS_ERR_MODEL_MISMATCH', `the model did not produce output "${outName}"`, { subject: model.name });
  const row = rowOf(t, i);
  const base = { model: model.name, version: model.version, task: m.task };
  if (m.task === 'classification') {
    const c = classify(row, m.labels, m.postprocess?.activation ?? 'softmax', m.postprocess?.top_k ?? 3);
    const d = decideClassification(c, m.decision, m.labels);
    const names = m.labels && m.labels.length === c.probabilities.length ? m.labels : c.probabilities.map((_, k) => String(k));
    const probabilities: Record<string, number> = {};
    names.forEach((n, k) => (probabilities[n] = c.probabilities[k]!));
    return { ...base, label: c.label, probability: c.probability, top: c.top, probabilities, decision: d.decision, reason: d.reason };
  }
  const score = row[0] ?? NaN;
  const d = decideScore(score, m.decision);
  return { ...base, score, values: row, decision: d.decision, reason: d.reason };
}
