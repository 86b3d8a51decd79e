/** Regression metrics: RMSE, MAE and R². Pure. */

export interface RegressionMetrics {
  readonly n: number;
  readonly rmse: number;
  readonly mae: number;
  /** 1 − SS_res / SS_tot; NaN when the truth is constant. */
  readonly r2: number;
}

/** RMSE, MAE and R² of predictions against the truth. */
export function regressionMetrics(pred: ArrayLike<number>, truth: ArrayLike<number>): RegressionMetrics {
  const n = truth.length;
  let se = 0;
  let ae = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += truth[i]!;
  mean /= Math.max(1, n);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - truth[i]!;
    se += d * d;
    ae += Math.abs(d);
    ss += (truth[i]! - mean) ** 2;
  }
  return { n, rmse: Math.sqrt(se / Math.max(1, n)), mae: ae / Math.max(1, n), r2: ss > 0 ? 1 - se / ss : NaN };
}
