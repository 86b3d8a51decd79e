/**
 * Live predictive-maintenance metrics: for each machine model version, its failure probabilities
 * against the outcomes machines reported (`linesight/{line}/{machine}/truth`). The counterpart of live
 * accuracy for camera models. Pure.
 */
import { binaryMetrics } from '../eval/binary.ts';
import type { MachineOutcome } from '../store/store.ts';

/** How many of the most recent labelled readings the live figures cover. */
export const PDM_WINDOW = 20_000;

export interface MachineModelMetrics {
  readonly model: string;
  readonly version: number;
  /** Scored readings with a reported outcome (within the window). */
  readonly labelled: number;
  readonly failures: number;
  /** The model's own decision threshold (config.yaml `decision.threshold`). */
  readonly threshold: number;
  /** null while only one outcome (failure or not) has been reported. */
  readonly roc_auc: number | null;
  readonly pr_auc: number | null;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Group outcomes by model version and measure each at its threshold. */
export function machineModelMetrics(outcomes: readonly MachineOutcome[], thresholdOf: (model: string, version: number) => number): MachineModelMetrics[] {
  const groups = new Map<string, MachineOutcome[]>();
  for (const o of outcomes) {
    const k = `${o.model}\u0000${o.version}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(o);
  }
  const out: MachineModelMetrics[] = [];
  for (const g of groups.values()) {
    const { model, version } = g[0]!;
    const threshold = thresholdOf(model, version);
    const m = binaryMetrics(g.map((o) => o.probability), g.map((o) => (o.failure ? 1 : 0)), threshold);
    out.push({
      model, version, labelled: m.n, failures: m.positives, threshold,
      roc_auc: finite(m.roc_auc), pr_auc: finite(m.pr_auc),
      precision: m.precision, recall: m.recall, f1: m.f1, tp: m.tp, fp: m.fp, tn: m.tn, fn: m.fn,
    });
  }
  return out.sort((a, b) => a.model.localeCompare(b.model) || a.version - b.version);
}
