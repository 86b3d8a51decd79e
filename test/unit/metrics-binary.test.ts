import { describe, expect, it } from 'vitest';
import { atThreshold, averagePrecision, bestF1Threshold, binaryMetrics, rocAuc } from '../../src/eval/binary.ts';

describe('binary metrics', () => {
  it('ROC-AUC: perfect, inverted, random ties and a hand-computed case', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // positives 0.8, 0.4; negatives 0.6, 0.2: pairs won 3 of 4
    expect(rocAuc([0.8, 0.4, 0.6, 0.2], [1, 1, 0, 0])).toBe(0.75);
    expect(rocAuc([0.1, 0.2], [0, 0])).toBeNaN();
  });
  it('PR-AUC as average precision', () => {
    expect(averagePrecision([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    // ranking: + - + -> AP = (1/2)(1/1) + (1/2)(2/3)
    expect(averagePrecision([0.9, 0.8, 0.7], [1, 0, 1])).toBeCloseTo(0.5 + 1 / 3, 12);
    expect(averagePrecision([0.9, 0.8], [0, 0])).toBeNaN();
  });
  it('precision, recall, F1 and counts at a threshold', () => {
    const m = atThreshold([0.9, 0.6, 0.4, 0.3, 0.7], [1, 0, 1, 0, 1], 0.5);
    expect(m).toMatchObject({ tp: 2, fp: 1, fn: 1, tn: 1, precision: 2 / 3, recall: 2 / 3, accuracy: 0.6 });
    expect(m.f1).toBeCloseTo(2 / 3, 12);
    expect(atThreshold([0.1], [1], 0.5)).toMatchObject({ precision: 0, recall: 0, f1: 0 });
  });
  it('chooses the threshold with the best F1', () => {
    const scores = [0.95, 0.9, 0.7, 0.6, 0.3, 0.2];
    const labels = [1, 1, 1, 0, 0, 0];
    expect(bestF1Threshold(scores, labels)).toBe(0.7);
    expect(binaryMetrics(scores, labels, 0.7)).toMatchObject({ f1: 1, roc_auc: 1, pr_auc: 1 });
  });
});
