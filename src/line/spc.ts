/**
 * Statistical process control for the defect rate of a station: a p-chart with 3-sigma limits that
 * vary with each subgroup's size n, and the four Western Electric rules. Pure.
 */

/** One subgroup: `n` parts inspected in an interval, `defects` of them not PASS. */
export interface Subgroup {
  readonly start: number;
  readonly n: number;
  readonly defects: number;
}

/** Western Electric rule numbers violated at a point. */
export type WeRule = 1 | 2 | 3 | 4;

export interface PChartPoint {
  readonly start: number;
  readonly n: number;
  readonly defects: number;
  /** Defect proportion; null when no part was inspected in the interval. */
  readonly p: number | null;
  readonly cl: number;
  readonly ucl: number | null;
  readonly lcl: number | null;
  /** Distance from the centre line in sigmas of this subgroup (null when n = 0 or sigma = 0). */
  readonly z: number | null;
  readonly violations: readonly WeRule[];
}

export interface PChart {
  readonly cl: number;
  readonly total_n: number;
  readonly total_defects: number;
  readonly points: readonly PChartPoint[];
}

/** Build the p-chart: centre line p̄ = Σd/Σn; limits p̄ ± 3·sqrt(p̄(1-p̄)/n_i), clamped to [0,1]. */
export function pChart(groups: readonly Subgroup[]): PChart {
  const totalN = groups.reduce((a, g) => a + g.n, 0);
  const totalD = groups.reduce((a, g) => a + g.defects, 0);
  const cl = totalN > 0 ? totalD / totalN : 0;
  const base = groups.map((g) => {
    if (g.n <= 0) return { start: g.start, n: 0, defects: 0, p: null, cl, ucl: null, lcl: null, z: null };
    const sigma = Math.sqrt((cl * (1 - cl)) / g.n);
    const p = g.defects / g.n;
    return {
      start: g.start,
      n: g.n,
      defects: g.defects,
      p,
      cl,
      ucl: Math.min(1, cl + 3 * sigma),
      lcl: Math.max(0, cl - 3 * sigma),
      z: sigma > 0 ? (p - cl) / sigma : null,
    };
  });
  const zs = base.map((b) => b.z);
  const violations = westernElectric(zs);
  return { cl, total_n: totalN, total_defects: totalD, points: base.map((b, i) => ({ ...b, violations: violations[i]! })) };
}

/**
 * The Western Electric rules on a series of z-scores (empty subgroups are skipped, they neither
 * break nor extend a run). A violation is reported at the point that completes the pattern:
 * 1: one point beyond 3σ; 2: two of three successive points beyond 2σ on the same side;
 * 3: four of five successive points beyond 1σ on the same side; 4: eight successive points on one side.
 */
export function westernElectric(zs: ReadonlyArray<number | null>): WeRule[][] {
  const out: WeRule[][] = zs.map(() => []);
  const idx: number[] = [];
  zs.forEach((z, i) => {
    if (z !== null) idx.push(i);
  });
  const val = (k: number): number => zs[idx[k]!]!;
  const countSide = (from: number, to: number, limit: number, side: 1 | -1): number => {
    let c = 0;
    for (let k = from; k <= to; k++) if (side * val(k) > limit) c++;
    return c;
  };
  for (let k = 0; k < idx.length; k++) {
    const z = val(k);
    const rules: WeRule[] = [];
    if (Math.abs(z) > 3) rules.push(1);
    const side: 1 | -1 = z >= 0 ? 1 : -1;
    if (k >= 2 && side * z > 2 && countSide(k - 2, k, 2, side) >= 2) rules.push(2);
    if (k >= 4 && side * z > 1 && countSide(k - 4, k, 1, side) >= 4) rules.push(3);
    if (k >= 7 && z !== 0 && countSide(k - 7, k, 0, side) === 8) rules.push(4);
    out[idx[k]!] = rules;
  }
  return out;
}

/** Bucket inspection outcomes into `points` intervals of `intervalS` seconds ending at `endMs`. */
export function subgroupsFrom(outcomes: ReadonlyArray<{ ts: number; defect: boolean }>, endMs: number, intervalS: number, points: number): Subgroup[] {
  const width = intervalS * 1000;
  const start = endMs - points * width;
  const groups = Array.from({ length: points }, (_, i) => ({ start: start + i * width, n: 0, defects: 0 }));
  for (const o of outcomes) {
    const i = Math.floor((o.ts - start) / width);
    const g = groups[i];
    if (!g) continue;
    g.n++;
    if (o.defect) g.defects++;
  }
  return groups;
}
