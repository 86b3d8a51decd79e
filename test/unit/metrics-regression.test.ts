import { describe, expect, it } from 'vitest';
import { regressionMetrics } from '../../src/eval/regression.ts';

describe('regression metrics', () => {
  it('RMSE, MAE and R² by hand', () => {
    const m = regressionMetrics([2, 4, 6], [1, 4, 8]);
    expect(m.n).toBe(3);
    expect(m.mae).toBeCloseTo(1, 12);
    expect(m.rmse).toBeCloseTo(Math.sqrt(5 / 3), 12);
    // mean 13/3; SS_tot = (10/3)² + (1/3)² + (11/3)² = 222/9; SS_res = 5
    expect(m.r2).toBeCloseTo(1 - 5 / (222 / 9), 12);
  });
  it('perfect predictions give R² 1; a constant truth gives NaN', () => {
    expect(regressionMetrics([1, 2], [1, 2]).r2).toBe(1);
    expect(regressionMetrics([1, 2], [3, 3]).r2).toBeNaN();
  });
});
