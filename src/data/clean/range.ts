/**
 * Out-of-range values against a declared schema: per column a min and/or max (from a schema file
 * or from a model's config.yaml features). Pure.
 */
import { z } from 'zod';
import type { CsvTable } from '../readers/csv.ts';
import { isMissing } from './missing.ts';

/** Schema file format: `{ columns: { "<name>": { min?, max?, allowed? } } }` (YAML or JSON). */
export const rangeSchemaSchema = z.strictObject({
  columns: z.record(
    z.string(),
    z.strictObject({ min: z.number().optional(), max: z.number().optional(), allowed: z.array(z.string()).optional() }),
  ),
});
/** A validated range schema. */
export type RangeSchema = z.infer<typeof rangeSchemaSchema>;

/** One cell outside its declared range. */
export interface RangeViolation {
  /** 1-based data row. */
  readonly row: number;
  readonly column: string;
  readonly value: string;
  readonly reason: string;
}

/** Every cell that breaks the schema (missing cells are the missing-value check's business). */
export function findOutOfRange(table: CsvTable, schema: RangeSchema): RangeViolation[] {
  const out: RangeViolation[] = [];
  for (const [column, rule] of Object.entries(schema.columns)) {
    const c = table.columns.indexOf(column);
    if (c < 0) continue;
    table.rows.forEach((r, i) => {
      const v = r[c]!;
      if (isMissing(v)) return;
      if (rule.allowed) {
        if (!rule.allowed.includes(v.trim())) out.push({ row: i + 1, column, value: v, reason: `not one of ${rule.allowed.join(', ')}` });
        return;
      }
      const x = Number(v);
      if (!Number.isFinite(x)) out.push({ row: i + 1, column, value: v, reason: 'not a finite number' });
      else if (rule.min !== undefined && x < rule.min) out.push({ row: i + 1, column, value: v, reason: `below min ${rule.min}` });
      else if (rule.max !== undefined && x > rule.max) out.push({ row: i + 1, column, value: v, reason: `above max ${rule.max}` });
    });
  }
  return out.sort((a, b) => a.row - b.row);
}

/** A range schema from a model's tabular features (min/max and categories as seen in training). */
export function schemaFromFeatures(features: ReadonlyArray<{ name: string; type: string; min?: number | undefined; max?: number | undefined; categories?: string[] | undefined }>): RangeSchema {
  const columns: RangeSchema['columns'] = {};
  for (const f of features) {
    if (f.type === 'categorical') {
      if (f.categories) columns[f.name] = { allowed: f.categories };
    } else columns[f.name] = { ...(f.min !== undefined ? { min: f.min } : {}), ...(f.max !== undefined ? { max: f.max } : {}) };
  }
  return { columns };
}
