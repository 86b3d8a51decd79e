/**
 * The schema of `line.yaml`: production lines, their camera stations and machines, the model each
 * uses, how sensor readings become model features (raw values or rolling windows), the decision
 * rules and the actions they trigger. Validated once at start-up, defaults filled in, then frozen.
 */
import { promises as fs } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { LsError } from '../core/errors.ts';
import { formatZodIssues } from '../core/validate.ts';
import { deepFreeze } from '../repository/repository.ts';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Line, station and machine ids appear in MQTT topics: no `/`, `+` or `#`. */
const id = z.string().regex(ID_RE, 'letters, digits, "_" and "-" only (it is part of MQTT topics)');

/** Rolling aggregate of one reading value over the last N readings or the last T seconds. */
const windowSchema = z
  .strictObject({
    agg: z.enum(['mean', 'std', 'min', 'max', 'slope', 'last']),
    readings: z.number().int().positive().max(100_000).optional(),
    seconds: z.number().positive().max(86_400).optional(),
  })
  .refine((w) => (w.readings === undefined) !== (w.seconds === undefined), 'give exactly one of readings or seconds');
export type WindowSpec = z.infer<typeof windowSchema>;

/** Where one model feature comes from: a reading value (optionally windowed), a reading field, or a constant. */
const featureSource = z.union([
  z.strictObject({ value: z.string().min(1), window: windowSchema.optional(), reference: z.number().optional() }),
  z.strictObject({ field: z.enum(['type', 'machine']), reference: z.string().optional() }),
  z.strictObject({ constant: z.union([z.number(), z.string()]) }),
]);
export type FeatureSource = z.infer<typeof featureSource>;

/**
 * A rule turns a stream of scores into an active/inactive state with rising edges:
 * - threshold: active while score >= above;
 * - hysteresis: becomes active at score >= above, clears only when score < clear_below;
 * - consecutive: active after k consecutive scores >= above (for decisions: k consecutive `decision`s).
 */
const ruleSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('threshold'), above: z.number(), k: z.number().int().positive().default(1) }),
  z.strictObject({ type: z.literal('hysteresis'), above: z.number(), clear_below: z.number(), k: z.number().int().positive().default(1) }),
  z.strictObject({ type: z.literal('consecutive'), above: z.number().optional(), decision: z.enum(['REJECT', 'REVIEW', 'ALERT']).optional(), k: z.number().int().min(2) }),
]);
export type RuleConfig = z.infer<typeof ruleSchema>;

const actionSchema = z.discriminatedUnion('do', [
  /** Publish the decision on linesight/{line}/{station}/decision. */
  z.strictObject({ do: z.literal('publish_decision') }),
  /** Store an alert, show it live and publish it on linesight/{line}/alerts. */
  z.strictObject({ do: z.literal('alert'), severity: z.enum(['info', 'warning', 'critical']).default('warning'), message: z.string().optional() }),
  /** POST the decision or alert as JSON to a URL (undici; failures are logged, never block the line). */
  z.strictObject({ do: z.literal('webhook'), url: z.url(), timeout_ms: z.number().int().positive().default(2_000) }),
]);
export type ActionConfig = z.infer<typeof actionSchema>;

const alertRuleSchema = z.strictObject({ rule: ruleSchema, actions: z.array(actionSchema).default([{ do: 'alert', severity: 'warning' }]) });

const stationSchema = z.strictObject({
  id,
  model: z.string().min(1),
  version: z.number().int().positive().optional(),
  /** Actions for each non-PASS decision of a part (REJECT/REVIEW). */
  actions: z.array(actionSchema).default([{ do: 'publish_decision' }]),
  /** Alerts on the stream of decisions, e.g. three REJECTs in a row. */
  alerts: z.array(alertRuleSchema).default([]),
  /** Images larger than this are dead-lettered. */
  max_image_bytes: z.number().int().positive().default(8 * 1024 * 1024),
});
export type StationConfig = z.infer<typeof stationSchema>;

const machineFields = {
  model: z.string().min(1),
  version: z.number().int().positive().optional(),
  features: z.record(z.string(), featureSource),
  /** Rule on the failure probability; its rising edge runs the actions. */
  rule: ruleSchema,
  actions: z.array(actionSchema).default([{ do: 'alert', severity: 'critical' }, { do: 'publish_decision' }]),
  /** How many feature contributions an alert carries (occlusion against each feature's reference). */
  top_contributions: z.number().int().min(0).max(20).default(3),
};
const machineDefaults = z.strictObject(machineFields).partial();
const machineSchema = z.strictObject({ id, ...machineFields });
export type MachineConfig = z.infer<typeof machineSchema>;

const lineSchema = z.strictObject({
  id,
  stations: z.array(stationSchema).default([]),
  machines: z.array(z.strictObject({ id }).catchall(z.unknown())).default([]),
});

const fileSchema = z.strictObject({
  version: z.literal(1).default(1),
  /** Sensor readings are collected into micro-batches of at most this size / this delay before the model runs. */
  sensor_batch: z.strictObject({ max_size: z.number().int().positive().max(4096).default(256), max_delay_ms: z.number().min(0).max(1000).default(5) }).default({ max_size: 256, max_delay_ms: 5 }),
  /** Retention so an always-on edge box does not fill its disk (0 = keep). */
  retention: z.strictObject({ days: z.number().min(0).default(30), max_readings: z.number().int().min(0).default(5_000_000), every_s: z.number().positive().default(600) }).default({ days: 30, max_readings: 5_000_000, every_s: 600 }),
  /** Sensor payloads larger than this are dead-lettered. */
  max_sensor_bytes: z.number().int().positive().default(64 * 1024),
  machine_defaults: machineDefaults.default({}),
  lines: z.array(lineSchema).min(1),
});

/** A validated line: stations and machines with defaults applied. */
export interface LineDef {
  readonly id: string;
  readonly stations: readonly StationConfig[];
  readonly machines: readonly MachineConfig[];
}

/** The validated, frozen line configuration. */
export interface LineConfig {
  readonly version: 1;
  readonly sensor_batch: { readonly max_size: number; readonly max_delay_ms: number };
  readonly retention: { readonly days: number; readonly max_readings: number; readonly every_s: number };
  readonly max_sensor_bytes: number;
  readonly lines: readonly LineDef[];
}

function fail(detail: string, subject?: string): never {
  throw new LsError('LS_ERR_LINE_CONFIG', detail, { subject });
}

/** Validate a parsed line.yaml object; machine_defaults are merged under each machine. */
export function parseLineConfig(raw: unknown, subject = 'line.yaml'): LineConfig {
  const r = fileSchema.safeParse(raw);
  if (!r.success) fail(formatZodIssues(r.error), subject);
  const f = r.data;
  const lines: LineDef[] = f.lines.map((l, li) => {
    const machines = l.machines.map((m, mi) => {
      const merged = { ...f.machine_defaults, ...m };
      const mr = machineSchema.safeParse(merged);
      if (!mr.success) fail(`lines.${li}.machines.${mi}: ${formatZodIssues(mr.error)}`, subject);
      return mr.data;
    });
    const ids = [...l.stations.map((s) => s.id), ...machines.map((m) => m.id)];
    const dup = ids.find((x, i) => ids.indexOf(x) !== i);
    if (dup) fail(`lines.${li}: station/machine id "${dup}" is used twice`, subject);
    for (const m of machines) {
      if (Object.keys(m.features).length === 0) fail(`machine ${m.id}: no features`, subject);
      if (m.rule.type === 'hysteresis' && m.rule.clear_below > m.rule.above) fail(`machine ${m.id}: rule.clear_below must be <= rule.above`, subject);
    }
    return { id: l.id, stations: l.stations, machines };
  });
  const lineIds = lines.map((l) => l.id);
  const dupLine = lineIds.find((x, i) => lineIds.indexOf(x) !== i);
  if (dupLine) fail(`line id "${dupLine}" is used twice`, subject);
  return deepFreeze({ version: 1, sensor_batch: f.sensor_batch, retention: f.retention, max_sensor_bytes: f.max_sensor_bytes, lines });
}

/** Read and validate a line.yaml file. */
export async function loadLineConfig(file: string): Promise<LineConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new LsError('LS_ERR_FILE_NOT_FOUND', (e as Error).message, { subject: file });
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text, { maxAliasCount: 1000 });
  } catch (e) {
    fail(`not valid YAML: ${(e as Error).message.split('\n')[0]}`, file);
  }
  return parseLineConfig(raw, file);
}

/** The window specs a machine needs, keyed by reading value name. */
export function machineWindows(m: MachineConfig): Array<{ feature: string; value: string; window: WindowSpec }> {
  const out: Array<{ feature: string; value: string; window: WindowSpec }> = [];
  for (const [feature, src] of Object.entries(m.features)) if ('value' in src && src.window) out.push({ feature, value: src.value, window: src.window });
  return out;
}
