/** Decision rules from config.yaml: turn a prediction into PASS / REJECT / REVIEW / ALERT. Pure. */
import type { DecisionConfig } from '../repository/manifest.ts';
import type { Classification } from './post/classify.ts';

export type DecisionKind = 'PASS' | 'REJECT' | 'REVIEW' | 'ALERT';

export interface Decision {
  readonly decision: DecisionKind;
  /** Why, in words an operator reads on the dashboard. */
  readonly reason: string;
}

function pct(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

/** Decide on a classification. Rules are checked in this order: threshold, review, reject classes. */
export function decideClassification(c: Classification, rule: DecisionConfig, labels?: readonly string[]): Decision {
  if (rule.threshold !== undefined) {
    const pos = rule.positive_label && labels ? labels.indexOf(rule.positive_label) : c.probabilities.length - 1;
    const p = c.probabilities[pos < 0 ? c.probabilities.length - 1 : pos] ?? 0;
    const name = rule.positive_label ?? labels?.[pos] ?? 'positive';
    return p >= rule.threshold
      ? { decision: rule.on_threshold, reason: `P(${name}) ${pct(p)} >= ${pct(rule.threshold)}` }
      : { decision: 'PASS', reason: `P(${name}) ${pct(p)} < ${pct(rule.threshold)}` };
  }
  if (rule.review_below !== undefined && c.probability < rule.review_below) {
    return { decision: 'REVIEW', reason: `uncertain: top class ${c.label} at ${pct(c.probability)} < ${pct(rule.review_below)}` };
  }
  if (rule.reject_classes.includes(c.label) && c.probability >= rule.min_probability) {
    return { decision: 'REJECT', reason: `${c.label} at ${pct(c.probability)}` };
  }
  return { decision: 'PASS', reason: rule.reject_classes.includes(c.label) ? `${c.label} below ${pct(rule.min_probability)}` : `${c.label} is acceptable` };
}

/** Decide on a score (regression value or anomaly score). */
export function decideScore(score: number, rule: DecisionConfig): Decision {
  if (rule.threshold === undefined) return { decision: 'PASS', reason: 'no threshold configured' };
  return score >= rule.threshold
    ? { decision: rule.on_threshold, reason: `score ${score.toFixed(4)} >= ${rule.threshold}` }
    : { decision: 'PASS', reason: `score ${score.toFixed(4)} < ${rule.threshold}` };
}
