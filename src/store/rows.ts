/** Mapping between database rows and store records, shared by the SQLite and PostgreSQL stores. */
import { LsError } from '../core/errors.ts';
import type { DecisionKind } from '../pipeline/decide.ts';
import type { FieldCodec } from './codec.ts';
import { decodeValues, type AlertRecord, type DeadLetterRecord, type MachineOutcome, type MachinePoint, type PartView } from './store.ts';

/** A row as a driver returns it (PostgreSQL gives BIGINT as string, SQLite blobs as Buffer). */
export type DbRow = Record<string, unknown>;

const num = (v: unknown): number => Number(v);
const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const optStr = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

/** Columns selected for a part view (the image itself is fetched separately). */
export const PART_COLUMNS =
  'p.part_id, p.msg_id, p.line, p.station, p.ts, p.model, p.version, p.label, p.probability, p.outputs, p.decision, p.reason, p.latency_ms, ' +
  '(p.image IS NOT NULL) AS has_image, f.true_label AS fb_label, f.by AS fb_by, f.ts AS fb_ts';

export function partFromRow(r: DbRow): PartView {
  const label = String(r.label);
  const fbLabel = optStr(r.fb_label);
  return {
    part_id: String(r.part_id),
    msg_id: String(r.msg_id),
    line: String(r.line),
    station: String(r.station),
    ts: num(r.ts),
    model: String(r.model),
    version: num(r.version),
    label,
    probability: num(r.probability),
    outputs: JSON.parse(String(r.outputs)) as Record<string, number>,
    decision: String(r.decision) as DecisionKind,
    reason: String(r.reason),
    latency_ms: num(r.latency_ms),
    has_image: Boolean(r.has_image),
    feedback: fbLabel === undefined ? undefined : { true_label: fbLabel, by: String(r.fb_by), ts: num(r.fb_ts), correct: fbLabel === label },
  };
}

export function alertFromRow(r: DbRow): AlertRecord {
  return {
    id: String(r.id),
    ts: num(r.ts),
    line: String(r.line),
    source: String(r.source),
    severity: String(r.severity) as AlertRecord['severity'],
    message: String(r.message),
    probability: optNum(r.probability),
    contributions: r.contributions ? (JSON.parse(String(r.contributions)) as AlertRecord['contributions']) : undefined,
    acknowledged_by: optStr(r.acknowledged_by),
    acknowledged_at: optNum(r.acknowledged_at),
  };
}

export function deadLetterFromRow(r: DbRow): DeadLetterRecord {
  return { ts: num(r.ts), topic: String(r.topic), kind: String(r.kind), reason: String(r.reason), payload: new Uint8Array(r.payload as Uint8Array) };
}

export function machinePointFromRow(r: DbRow, codec: FieldCodec): MachinePoint {
  return { ts: num(r.ts), probability: r.probability === null || r.probability === undefined ? null : num(r.probability), decision: r.decision ? (String(r.decision) as DecisionKind) : null, values: decodeValues(codec.decode(new Uint8Array(r.vals as Uint8Array))) };
}

/** A scored reading with its known outcome (failure is INTEGER 0/1 in SQLite, BOOLEAN in PostgreSQL). */
export function outcomeFromRow(r: DbRow): MachineOutcome {
  return { model: String(r.model), version: num(r.version), probability: num(r.probability), failure: r.failure === true || Number(r.failure) === 1 };
}

/** The codec for a row's key id: the store's own, or an error naming the unknown key. */
export function codecFor(keyId: unknown, codec: FieldCodec): FieldCodec {
  const known = keyId === codec.keyId || (typeof keyId === 'string' && (codec.keyIds?.includes(keyId) ?? false));
  if (!known && keyId !== 'plain') throw new LsError('LS_ERR_CRYPTO', `row written with key "${String(keyId)}", the store has key "${codec.keyId}"`);
  return keyId === 'plain' && codec.keyId !== 'plain' ? { keyId: 'plain', encode: (b) => b, decode: (b) => b } : codec;
}
