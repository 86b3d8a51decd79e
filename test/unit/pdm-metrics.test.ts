/** Live predictive-maintenance metrics from scored readings and the outcomes machines reported. */
import { describe, expect, it } from 'vitest';
import { machineModelMetrics } from '../../src/line/pdm-metrics.ts';

const o = (model: string, version: number, probability: number, failure: boolean) => ({ model, version, probability, failure });

describe('machineModelMetrics', () => {
  it('measures each model version at its own threshold', () => {
    const rows = [
      o('mf', 1, 0.9, true), o('mf', 1, 0.6, false), o('mf', 1, 0.2, true), o('mf', 1, 0.1, false),
      o('mf', 2, 0.9, true), o('mf', 2, 0.6, false), o('mf', 2, 0.2, true), o('mf', 2, 0.1, false),
    ];
    const m = machineModelMetrics(rows, (_, v) => (v === 1 ? 0.5 : 0.15));
    expect(m.map((x) => [x.version, x.threshold, x.tp, x.fp, x.tn, x.fn])).toEqual([
      [1, 0.5, 1, 1, 1, 1],
      [2, 0.15, 2, 1, 1, 0],
    ]);
    // failures at 0.9 and 0.2, none at 0.6 and 0.1: 3 of the 4 (failure, no failure) pairs are ordered right
    expect(m[0]!.roc_auc).toBeCloseTo(0.75, 9);
    expect(m[0]).toMatchObject({ model: 'mf', labelled: 4, failures: 2, precision: 0.5, recall: 0.5 });
    expect(m[1]!.recall).toBe(1);
  });

  it('gives no ROC-AUC while only one outcome has been reported, and nothing for no outcomes', () => {
    const m = machineModelMetrics([o('mf', 1, 0.7, false), o('mf', 1, 0.2, false)], () => 0.5);
    expect(m[0]).toMatchObject({ labelled: 2, failures: 0, roc_auc: null, pr_auc: null, fp: 1, tn: 1 });
    expect(machineModelMetrics([], () => 0.5)).toEqual([]);
  });
});
