/**
 * Tabular preprocessing: rows of raw column values -> model feeds. Models exported by
 * `linesight train` take raw columns (scaling and one-hot live inside the ONNX graph), either
 *  - one FP32 input of shape [F] holding all (numeric) features in config order, or
 *  - one input per feature, named after it, of shape [1] (FP32 for numeric, BYTES for categorical).
 * Pure.
 */
import { LsError } from '../../core/errors.ts';
import type { Manifest, TabularFeature } from '../../repository/manifest.ts';
import type { Tensor } from '../../runtime/tensor.ts';

export type RawRow = Readonly<Record<string, string | number | null | undefined>>;

export function tabularFeatures(m: Manifest): readonly TabularFeature[] {
  if (m.preprocess.kind !== 'tabular') throw new LsError('LS_ERR_CONFIG_INVALID', `model ${m.name} is not a tabular model`);
  return m.preprocess.features;
}

function numeric(row: RawRow, f: TabularFeature, rowIndex: number): number {
  const v = row[f.name];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) {
    throw new LsError('LS_ERR_VALIDATION', `row ${rowIndex + 1}: "${f.name}" must be a finite number, got ${JSON.stringify(v ?? null)}`);
  }
  return n;
}

/** Build the feeds for a batch of rows. Throws LS_ERR_VALIDATION naming the row and column. */
export function tabularFeeds(m: Manifest, rows: readonly RawRow[]): Record<string, Tensor> {
  const features = tabularFeatures(m);
  const n = rows.length;
  if (m.inputs.length === 1 && features.every((f) => f.type === 'numeric')) {
    const F = features.length;
    const data = new Float32Array(n * F);
    rows.forEach((r, i) => features.forEach((f, k) => (data[i * F + k] = numeric(r, f, i))));
    return { [m.inputs[0]!.name]: { datatype: 'FP32', shape: [n, F], data } };
  }
  const feeds: Record<string, Tensor> = {};
  for (const f of features) {
    const spec = m.inputs.find((i) => i.name === f.name);
    if (!spec) throw new LsError('LS_ERR_MODEL_MISMATCH', `no model input for feature "${f.name}"`, { subject: m.name });
    if (spec.datatype === 'BYTES') {
      feeds[f.name] = { datatype: 'BYTES', shape: [n, 1], data: rows.map((r) => String(r[f.name] ?? '')) };
    } else {
      const data = new Float32Array(n);
      rows.forEach((r, i) => (data[i] = numeric(r, f, i)));
      feeds[f.name] = { datatype: 'FP32', shape: [n, 1], data };
    }
  }
  return feeds;
}
