/**
 * Learned preprocessing for tables: numeric columns standardised with the training mean and
 * standard deviation, categorical columns one-hot over the training categories, and optional
 * derived features (a·b, a−b, a+b, a/b of two numeric columns). The same steps are baked into
 * the exported ONNX graph, so serving takes raw columns.
 */
import { LsError } from '../core/errors.ts';
import type { Network } from './models/network.ts';
import type { Matrix } from './trainer.ts';

/** A numeric raw column with its training statistics. */
export interface NumericFeature {
  readonly name: string;
  readonly type: 'numeric';
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** A categorical raw column with the categories seen in training (unknown ones one-hot to all zeros). */
export interface CategoricalFeature {
  readonly name: string;
  readonly type: 'categorical';
  readonly categories: readonly string[];
}

/** A raw input column as the model sees it. */
export type RawFeature = NumericFeature | CategoricalFeature;

/** Operator symbols of --derive and the graph ops they map to. */
export const DERIVED_OPS = { '*': 'mul', '-': 'sub', '+': 'add', '/': 'div' } as const;
/** One derived-feature operation. */
export type DerivedOp = (typeof DERIVED_OPS)[keyof typeof DERIVED_OPS];

/** A derived feature `name = a <op> b` of two numeric raw columns. */
export interface DerivedSpec {
  readonly name: string;
  readonly op: DerivedOp;
  readonly a: string;
  readonly b: string;
}

/** A derived feature with its training mean and standard deviation. */
export interface DerivedFeature extends DerivedSpec {
  readonly mean: number;
  readonly std: number;
}

/** Everything needed to turn raw columns into the network's input. */
export interface Preprocessor {
  readonly features: readonly RawFeature[];
  readonly derived: readonly DerivedFeature[];
  /** Width of the design matrix. */
  readonly width: number;
}

/** One raw column of a table: its name and string values. */
export interface Column {
  readonly name: string;
  readonly values: readonly string[];
}

const NONFINITE = /^[+-]?(nan|inf|infinity)$/i;

/** Number of a cell, NaN when it is not a number. */
export function parseNumber(v: string): number {
  const t = v.trim();
  return t === '' ? NaN : Number(t);
}

/** Whether a column reads as numeric: most non-empty values are numbers (NaN/Inf tokens count, so they get reported). */
export function looksNumeric(values: readonly string[]): boolean {
  let numeric = 0;
  let nonEmpty = 0;
  for (const v of values) {
    const t = v.trim();
    if (t === '') continue;
    nonEmpty++;
    if (Number.isFinite(Number(t)) || NONFINITE.test(t)) numeric++;
  }
  return nonEmpty > 0 && numeric / nonEmpty >= 0.8;
}

/** Parse a numeric column; every empty, non-numeric or non-finite cell gives LS_ERR_CSV naming the row. */
export function numericColumn(col: Column, subject?: string): Float64Array {
  const out = new Float64Array(col.values.length);
  const bad: string[] = [];
  col.values.forEach((v, i) => {
    const x = parseNumber(v);
    if (!Number.isFinite(x)) bad.push(`row ${i + 1}: ${v.trim() === '' ? 'empty' : JSON.stringify(v)}`);
    out[i] = x;
  });
  if (bad.length) {
    const more = bad.length > 5 ? ` and ${bad.length - 5} more` : '';
    throw new LsError('LS_ERR_CSV', `numeric column "${col.name}" has ${bad.length} value(s) that are not finite numbers (${bad.slice(0, 5).join('; ')}${more}); fix them or run "linesight data clean --fix"`, { subject });
  }
  return out;
}

function stats(x: Float64Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of x) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  const std = Math.sqrt(ss / x.length);
  // A constant column keeps std 1 so the graph never divides by zero.
  return { mean, std: std > 1e-12 ? std : 1, min, max };
}

/** Parse `name=a*b` (also -, +, /) where a and b are column names. */
export function parseDerived(text: string): DerivedSpec {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new LsError('LS_ERR_VALIDATION', `a derived feature is written NAME=COLUMN*COLUMN (or - + /), got "${text}"`);
  const name = text.slice(0, eq).trim();
  const expr = text.slice(eq + 1);
  for (const [sym, op] of Object.entries(DERIVED_OPS)) {
    const at = expr.indexOf(sym);
    if (at > 0) return { name, op, a: expr.slice(0, at).trim(), b: expr.slice(at + 1).trim() };
  }
  throw new LsError('LS_ERR_VALIDATION', `a derived feature needs one of * - + / between two column names, got "${text}"`);
}

/** Apply a derived op elementwise. */
export function applyDerived(op: DerivedOp, a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    out[i] = op === 'mul' ? a[i]! * b[i]! : op === 'sub' ? a[i]! - b[i]! : op === 'add' ? a[i]! + b[i]! : a[i]! / b[i]!;
  }
  return out;
}

/**
 * Learn the preprocessing from training columns. `categorical` forces columns to be categorical;
 * otherwise a column is numeric when it reads as numbers.
 */
export function fitPreprocessor(columns: readonly Column[], derivedSpecs: readonly DerivedSpec[] = [], categorical: ReadonlySet<string> = new Set(), subject?: string): Preprocessor {
  if (!columns.length) throw new LsError('LS_ERR_TRAINING', 'no feature columns are left to train on');
  const features: RawFeature[] = [];
  const numeric = new Map<string, Float64Array>();
  for (const col of columns) {
    if (!categorical.has(col.name) && looksNumeric(col.values)) {
      const x = numericColumn(col, subject);
      numeric.set(col.name, x);
      features.push({ name: col.name, type: 'numeric', ...stats(x) });
    } else {
      const empty = col.values.findIndex((v) => v.trim() === '');
      if (empty >= 0) throw new LsError('LS_ERR_CSV', `categorical column "${col.name}" has an empty value at row ${empty + 1}; fill it or run "linesight data clean --fix"`, { subject });
      const categories = [...new Set(col.values.map((v) => v.trim()))].sort();
      if (categories.length > 100) {
        throw new LsError('LS_ERR_TRAINING', `column "${col.name}" has ${categories.length} distinct non-numeric values; an identifier column? drop it with --drop "${col.name}"`, { subject });
      }
      features.push({ name: col.name, type: 'categorical', categories });
    }
  }
  const derived: DerivedFeature[] = derivedSpecs.map((d) => {
    for (const c of [d.a, d.b]) {
      if (!numeric.has(c)) throw new LsError('LS_ERR_VALIDATION', `derived feature "${d.name}" uses "${c}", which is not a numeric feature column`);
    }
    const x = applyDerived(d.op, numeric.get(d.a)!, numeric.get(d.b)!);
    if (x.some((v) => !Number.isFinite(v))) throw new LsError('LS_ERR_TRAINING', `derived feature "${d.name}" is not finite for some rows (division by zero?)`);
    const s = stats(x);
    return { ...d, mean: s.mean, std: s.std };
  });
  const width = features.reduce((w, f) => w + (f.type === 'numeric' ? 1 : f.categories.length), 0) + derived.length;
  return { features, derived, width };
}

/** The design matrix for raw columns (same names as at fit time): standardised numbers, one-hot categories, derived features. */
export function transform(pre: Preprocessor, columns: ReadonlyMap<string, readonly string[]>, subject?: string): Matrix {
  const first = columns.values().next().value;
  const n = first ? first.length : 0;
  const data = new Float64Array(n * pre.width);
  const numeric = new Map<string, Float64Array>();
  let c = 0;
  const col = (name: string): readonly string[] => {
    const v = columns.get(name);
    if (!v) throw new LsError('LS_ERR_CSV', `no column "${name}", which the model needs`, { subject });
    return v;
  };
  for (const f of pre.features) {
    if (f.type === 'numeric') {
      const x = numericColumn({ name: f.name, values: col(f.name) }, subject);
      numeric.set(f.name, x);
      for (let i = 0; i < n; i++) data[i * pre.width + c] = (x[i]! - f.mean) / f.std;
      c++;
    } else {
      const values = col(f.name);
      for (let i = 0; i < n; i++) {
        const k = f.categories.indexOf(values[i]!.trim());
        if (k >= 0) data[i * pre.width + c + k] = 1;
      }
      c += f.categories.length;
    }
  }
  for (const d of pre.derived) {
    const x = applyDerived(d.op, numeric.get(d.a)!, numeric.get(d.b)!);
    for (let i = 0; i < n; i++) data[i * pre.width + c] = (x[i]! - d.mean) / d.std;
    c++;
  }
  return { data, rows: n, cols: pre.width };
}

/** Mean and standard deviation of a regression target (the network learns the standardised target). */
export function targetScale(y: Float64Array): { mean: number; std: number } {
  const s = stats(y);
  return { mean: s.mean, std: s.std };
}

/** Fold y = z·std + mean into the last layer so the network outputs the target in its own units. */
export function foldTargetScale(net: Network, scale: { mean: number; std: number }): void {
  const last = net.layers[net.layers.length - 1]!;
  for (let i = 0; i < last.W.length; i++) last.W[i]! *= scale.std;
  for (let j = 0; j < last.b.length; j++) last.b[j] = last.b[j]! * scale.std + scale.mean;
}
