import { describe, expect, it } from 'vitest';
import { classificationReport } from '../../src/eval/classification.ts';

describe('classification report', () => {
  it('computes accuracy, per-class precision/recall/F1 and the confusion matrix', () => {
    const pairs: Array<[string, string]> = [
      ['a', 'a'], ['a', 'a'], ['a', 'b'],
      ['b', 'b'], ['b', 'a'],
      ['c', 'c'],
    ];
    const r = classificationReport(pairs, ['a', 'b', 'c']);
    expect(r.total).toBe(6);
    expect(r.correct).toBe(4);
    expect(r.accuracy).toBeCloseTo(4 / 6, 12);
    expect(r.confusion).toEqual([[2, 1, 0], [1, 1, 0], [0, 0, 1]]);
    expect(r.per_class.a).toMatchObject({ precision: 2 / 3, recall: 2 / 3, support: 3 });
    expect(r.per_class.b!.precision).toBeCloseTo(0.5, 12);
    expect(r.per_class.b!.recall).toBeCloseTo(0.5, 12);
    expect(r.per_class.c).toMatchObject({ precision: 1, recall: 1, f1: 1, support: 1 });
    expect(r.macro_f1).toBeCloseTo((2 / 3 + 0.5 + 1) / 3, 12);
  });

  it('adds labels it has not been told about instead of dropping them', () => {
    const r = classificationReport([['a', 'z']], ['a']);
    expect(r.labels).toEqual(['a', 'z']);
    expect(r.per_class.a!.recall).toBe(0);
  });

  it('an empty evaluation has zero accuracy, not NaN', () => {
    expect(classificationReport([], ['a']).accuracy).toBe(0);
  });
});
