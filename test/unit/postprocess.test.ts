import { describe, expect, it } from 'vitest';
import { argmax, classify, sigmoid, softmax } from '../../src/pipeline/post/classify.ts';
import { decideClassification, decideScore } from '../../src/pipeline/decide.ts';
import type { DecisionConfig } from '../../src/repository/manifest.ts';

const labels = ['crazing', 'inclusion', 'patches'];
const rule = (r: Partial<DecisionConfig>): DecisionConfig => ({ reject_classes: [], min_probability: 0.5, on_threshold: 'REJECT', ...r });

describe('post-processing', () => {
  it('softmax is stable for large logits and sums to one', () => {
    const p = softmax([1000, 1001, 999]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(argmax(p)).toBe(1);
    expect(Number.isFinite(p[0])).toBe(true);
  });

  it('sigmoid is symmetric and stable', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(-800)).toBeGreaterThanOrEqual(0);
    expect(sigmoid(3) + sigmoid(-3)).toBeCloseTo(1, 12);
  });

  it('classify returns the top-k labels in order', () => {
    const c = classify([0.1, 2, 1], labels, 'softmax', 2);
    expect(c.label).toBe('inclusion');
    expect(c.top.map((t) => t.label)).toEqual(['inclusion', 'patches']);
    expect(c.top[0]!.probability).toBeGreaterThan(c.top[1]!.probability);
  });

  it('a single sigmoid logit becomes two class probabilities', () => {
    const c = classify([2], ['ok', 'failure'], 'sigmoid', 2);
    expect(c.label).toBe('failure');
    expect(c.probabilities[0]! + c.probabilities[1]!).toBeCloseTo(1, 12);
  });
});

describe('decision rules', () => {
  const c = (scores: number[]) => classify(scores, labels, 'none', 3);

  it('rejects a reject class above its minimum probability', () => {
    expect(decideClassification(c([0.1, 0.8, 0.1]), rule({ reject_classes: ['inclusion'] })).decision).toBe('REJECT');
    expect(decideClassification(c([0.1, 0.45, 0.44]), rule({ reject_classes: ['inclusion'] })).decision).toBe('PASS');
  });

  it('passes acceptable classes', () => {
    expect(decideClassification(c([0.9, 0.05, 0.05]), rule({ reject_classes: ['inclusion'] })).decision).toBe('PASS');
  });

  it('sends uncertain parts to review before anything else', () => {
    const d = decideClassification(c([0.3, 0.4, 0.3]), rule({ reject_classes: ['inclusion'], review_below: 0.6 }));
    expect(d.decision).toBe('REVIEW');
    expect(d.reason).toContain('40.0%');
  });

  it('thresholds the positive class probability (e.g. machine failure -> ALERT)', () => {
    const bin = classify([0.2, 0.8], ['ok', 'failure'], 'none', 2);
    expect(decideClassification(bin, rule({ threshold: 0.7, on_threshold: 'ALERT' }), ['ok', 'failure']).decision).toBe('ALERT');
    expect(decideClassification(bin, rule({ threshold: 0.9, on_threshold: 'ALERT' }), ['ok', 'failure']).decision).toBe('PASS');
  });

  it('thresholds a score', () => {
    expect(decideScore(0.7, rule({ threshold: 0.5 })).decision).toBe('REJECT');
    expect(decideScore(0.2, rule({ threshold: 0.5 })).decision).toBe('PASS');
  });
});
