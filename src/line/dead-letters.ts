/**
 * Bad input never stops the stream: each message that cannot be used becomes a dead letter with its
 * reason (stored with the next commit), is counted in metrics, and is logged once per kind per minute
 * with the number suppressed since, so a flood of broken messages does not flood the log.
 */
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import type { DeadLetterRecord } from '../store/store.ts';
import type { LineMetrics } from './metrics.ts';

/** Why a message was dead-lettered. */
export type DeadLetterKind =
  | 'malformed_json' | 'invalid_payload' | 'unknown_source' | 'unknown_topic' | 'oversized'
  | 'corrupt_image' | 'missing_values' | 'unknown_part' | 'inference_failed';

/** Payload bytes kept per dead letter: enough to see what was wrong, bounded so a flood cannot fill the disk. */
export const DEAD_LETTER_PAYLOAD_BYTES = 4096;

export class DeadLetters {
  private readonly lastLog = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: LineMetrics,
    private readonly logEveryMs = 60_000,
  ) {}

  /** Build the record to store, count it and log it (rate-limited per kind). */
  record(topic: string, kind: DeadLetterKind, reason: string, payload: Uint8Array): DeadLetterRecord {
    this.metrics.deadLetters.inc({ kind });
    const now = this.clock.now();
    const last = this.lastLog.get(kind);
    if (!last || now - last.at >= this.logEveryMs) {
      this.log.warn({ kind, topic, reason, suppressed_since_last: last?.suppressed ?? 0 }, `dead letter: ${kind}`);
      this.lastLog.set(kind, { at: now, suppressed: 0 });
    } else {
      last.suppressed++;
    }
    return { ts: now, topic: topic.slice(0, 256), kind, reason: reason.slice(0, 1000), payload: payload.subarray(0, DEAD_LETTER_PAYLOAD_BYTES) };
  }
}
