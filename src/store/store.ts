/**
 * The line's durable store: readings with the model's prediction, inspected parts with image and
 * decision, alerts, QA feedback and dead letters. SQLite (embedded default) and PostgreSQL
 * implement it and pass one contract test suite. A `writeBatch` is one transaction: when its
 * promise resolves the data is committed, and only then does the line acknowledge the MQTT messages.
 * Writes are idempotent by message id (readings, parts): redelivered messages are stored once.
 */
import type { Disposable } from '../core/dispose.ts';
import type { DecisionKind } from '../pipeline/decide.ts';
import type { FieldCodec } from './codec.ts';

/** One sensor reading and, when the model ran, its prediction and decision. */
export interface ReadingRecord {
  readonly msg_id: string;
  readonly line: string;
  readonly machine: string;
  readonly ts: number;
  readonly type?: string | undefined;
  readonly values: Readonly<Record<string, number>>;
  readonly model?: string | undefined;
  readonly version?: number | undefined;
  readonly probability?: number | undefined;
  readonly decision?: DecisionKind | undefined;
  readonly latency_ms?: number | undefined;
}

/** One inspected part: prediction (model, version, outputs, latency), decision, and the image. */
export interface PartRecord {
  readonly part_id: string;
  readonly msg_id: string;
  readonly line: string;
  readonly station: string;
  readonly ts: number;
  readonly model: string;
  readonly version: number;
  readonly label: string;
  readonly probability: number;
  /** The class probabilities (model outputs after activation). */
  readonly outputs: Readonly<Record<string, number>>;
  readonly decision: DecisionKind;
  readonly reason: string;
  readonly latency_ms: number;
  readonly image?: { readonly bytes: Uint8Array; readonly content_type: string } | undefined;
}

/** A part as read back, with QA feedback when there is some. */
export interface PartView extends Omit<PartRecord, 'image'> {
  readonly has_image: boolean;
  readonly feedback?: { readonly true_label: string; readonly by: string; readonly ts: number; readonly correct: boolean } | undefined;
}

/** A decision the line published (non-PASS decisions and machine alerts). */
export interface DecisionRecord {
  readonly ts: number;
  readonly line: string;
  readonly source: string;
  readonly part_id?: string | undefined;
  readonly decision: DecisionKind;
  readonly reason: string;
}

export interface AlertRecord {
  readonly id: string;
  readonly ts: number;
  readonly line: string;
  readonly source: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly message: string;
  readonly probability?: number | undefined;
  readonly contributions?: ReadonlyArray<{ feature: string; value: number; contribution: number }> | undefined;
  readonly acknowledged_by?: string | undefined;
  readonly acknowledged_at?: number | undefined;
}

/** A message that could not be used, kept with the reason so nothing vanishes silently. */
export interface DeadLetterRecord {
  readonly ts: number;
  readonly topic: string;
  readonly kind: string;
  readonly reason: string;
  /** The first bytes of the payload (truncated). */
  readonly payload: Uint8Array;
}

export interface FeedbackRecord {
  readonly part_id: string;
  readonly true_label: string;
  readonly by: string;
  readonly ts: number;
}

/**
 * What a machine (its PLC, or the maintenance system) reports about one of its readings: whether that
 * run ended in a failure, and which modes. The ground truth for predictive maintenance, as QA
 * feedback is for parts. Written idempotently by reading message id (the latest report wins).
 */
export interface MachineTruthRecord {
  readonly reading_msg_id: string;
  readonly line: string;
  readonly machine: string;
  readonly failure: boolean;
  readonly modes?: readonly string[] | undefined;
  readonly by: string;
  readonly ts: number;
}

/** A scored reading whose outcome is known: the model's failure probability against what happened. */
export interface MachineOutcome {
  readonly model: string;
  readonly version: number;
  readonly probability: number;
  readonly failure: boolean;
}

/** Everything one micro-batch writes, committed in one transaction. */
export interface WriteBatch {
  readonly readings?: readonly ReadingRecord[];
  readonly parts?: readonly PartRecord[];
  readonly decisions?: readonly DecisionRecord[];
  readonly alerts?: readonly AlertRecord[];
  readonly deadLetters?: readonly DeadLetterRecord[];
  readonly feedback?: readonly FeedbackRecord[];
  readonly machineTruth?: readonly MachineTruthRecord[];
}

export interface WriteResult {
  /** Readings and parts actually inserted (duplicates by message id are skipped). */
  readonly readings: number;
  readonly parts: number;
}

export interface AccuracyRow {
  readonly model: string;
  readonly version: number;
  readonly labelled: number;
  readonly correct: number;
  readonly accuracy: number;
  readonly labels: readonly string[];
  /** confusion[i][j] = parts with true label labels[i] predicted as labels[j]. */
  readonly confusion: readonly (readonly number[])[];
}

export interface MachinePoint {
  readonly ts: number;
  readonly probability: number | null;
  /** The rule's decision for this reading (ALERT while the machine's rule was active). */
  readonly decision: DecisionKind | null;
  readonly values: Readonly<Record<string, number>>;
}

export interface StoreCounts {
  readonly readings: number;
  readonly distinct_readings: number;
  readonly parts: number;
  readonly alerts: number;
  readonly dead_letters: number;
  readonly feedback: number;
  readonly decisions: number;
}

export interface Store extends Disposable {
  /** `sqlite` or `postgres`, for logs and the status line. */
  readonly kind: string;
  writeBatch(b: WriteBatch): Promise<WriteResult>;
  /** Store QA feedback; returns the part it refers to (LS_ERR_NOT_FOUND when the part is unknown). */
  addFeedback(f: FeedbackRecord): Promise<PartView>;
  getPart(partId: string): Promise<PartView | undefined>;
  /** A person overrides a part's decision: the part gets the new decision and reason, and a decision row records it. */
  overrideDecision(partId: string, decision: DecisionKind, reason: string, ts: number): Promise<PartView>;
  getPartImage(partId: string): Promise<{ bytes: Uint8Array; content_type: string } | undefined>;
  recentParts(opts: { limit: number; station?: string | undefined; line?: string | undefined }): Promise<PartView[]>;
  /** ts and defect flag (decision != PASS) of the parts of a station since `sinceMs`. */
  partOutcomes(opts: { since: number; station?: string | undefined; line?: string | undefined }): Promise<Array<{ ts: number; defect: boolean }>>;
  listAlerts(opts: { state: 'open' | 'all'; limit?: number | undefined }): Promise<AlertRecord[]>;
  getAlert(id: string): Promise<AlertRecord | undefined>;
  /** Record who acknowledged an alert and when; LS_ERR_NOT_FOUND for an unknown id. */
  ackAlert(id: string, by: string, ts: number): Promise<AlertRecord>;
  accuracy(): Promise<AccuracyRow[]>;
  /**
   * Scored readings with a known outcome, from the `limit` most recently reported outcomes (newest
   * report first; reports for readings not stored or not scored are skipped), for live PdM metrics.
   */
  machineOutcomes(limit: number): Promise<MachineOutcome[]>;
  machineHistory(machine: string, sinceMs: number, limit?: number): Promise<MachinePoint[]>;
  deadLetters(limit: number): Promise<DeadLetterRecord[]>;
  counts(): Promise<StoreCounts>;
  /** Delete data older than `olderThanMs` and readings beyond the newest `maxReadings` (0 = no row cap). */
  prune(opts: { olderThanMs?: number | undefined; maxReadings?: number | undefined }): Promise<{ deleted: number }>;
  /** Re-encode every sensitive blob from one codec (key) to another, for key rotation. */
  reencryptAll(from: FieldCodec, to: FieldCodec): Promise<{ rows: number }>;
}

/** JSON of the sensor values, as stored (through the codec). */
export function encodeValues(values: Readonly<Record<string, number>>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(values));
}

export function decodeValues(bytes: Uint8Array): Record<string, number> {
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, number>;
}

/** Build the accuracy rows from (model, version, predicted, true) tuples. */
export function accuracyFrom(rows: ReadonlyArray<{ model: string; version: number; predicted: string; truth: string }>): AccuracyRow[] {
  const groups = new Map<string, Array<{ predicted: string; truth: string }>>();
  for (const r of rows) {
    const k = `${r.model}\u0000${r.version}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  }
  const out: AccuracyRow[] = [];
  for (const [k, g] of groups) {
    const [model, version] = k.split('\u0000') as [string, string];
    const labels = [...new Set(g.flatMap((x) => [x.truth, x.predicted]))].sort();
    const confusion = labels.map(() => labels.map(() => 0));
    let correct = 0;
    for (const x of g) {
      confusion[labels.indexOf(x.truth)]![labels.indexOf(x.predicted)]!++;
      if (x.truth === x.predicted) correct++;
    }
    out.push({ model, version: Number(version), labelled: g.length, correct, accuracy: g.length ? correct / g.length : 0, labels, confusion });
  }
  return out.sort((a, b) => a.model.localeCompare(b.model) || a.version - b.version);
}
