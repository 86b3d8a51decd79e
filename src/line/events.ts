/**
 * Live events of the line, as the dashboard receives them over Server-Sent Events
 * (`GET /v1/events`, one `event: <type>` + `data: <json>` per event). The line publishes them on an
 * in-process bus; the SSE route and the MQTT result publisher subscribe.
 */
import type { MachineModelMetrics } from './pdm-metrics.ts';
import type { DecisionKind } from '../pipeline/decide.ts';

/** A part inspected at a camera station. */
export interface InspectionEvent {
  readonly type: 'inspection';
  readonly ts: number;
  readonly line: string;
  readonly station: string;
  readonly part_id: string;
  readonly model: string;
  readonly version: number;
  readonly label: string;
  readonly probability: number;
  readonly decision: DecisionKind;
  readonly reason: string;
  readonly latency_ms: number;
  /** Stored image id: GET /v1/parts/{part_id}/image serves it. */
  readonly has_image: boolean;
}

/** Sensor readings of a machine and the failure probability the model gave them. */
export interface MachineEvent {
  readonly type: 'machine';
  readonly ts: number;
  readonly line: string;
  readonly machine: string;
  readonly values: Readonly<Record<string, number>>;
  readonly model?: string;
  readonly probability?: number;
  readonly decision?: DecisionKind;
}

export interface AlertEvent {
  readonly type: 'alert';
  readonly id: string;
  readonly ts: number;
  readonly line: string;
  readonly source: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly message: string;
  readonly probability?: number;
  /** Top feature contributions that drove the alert, largest first. */
  readonly contributions?: ReadonlyArray<{ feature: string; value: number; contribution: number }>;
  readonly acknowledged_by?: string;
  readonly acknowledged_at?: number;
}

/** QA fed back the true label of a part. */
export interface FeedbackEvent {
  readonly type: 'feedback';
  readonly ts: number;
  readonly part_id: string;
  readonly model: string;
  readonly predicted: string;
  readonly true_label: string;
  readonly correct: boolean;
  readonly by?: string;
}

/** Periodic line summary (every second): rates and live accuracy. */
export interface StatsEvent {
  readonly type: 'stats';
  readonly ts: number;
  readonly stations: ReadonlyArray<{ line: string; station: string; parts_per_s: number; defect_rate: number; total: number; last_decision?: DecisionKind }>;
  readonly accuracy: ReadonlyArray<{ model: string; version: number; labelled: number; correct: number; accuracy: number }>;
  /** Machine models against the outcomes machines reported (refreshed every 10 s; absent from older servers). */
  readonly machine_accuracy?: readonly MachineModelMetrics[];
}

export type LineEvent = InspectionEvent | MachineEvent | AlertEvent | FeedbackEvent | StatsEvent;

export type LineEventListener = (e: LineEvent) => void;

/** The in-process publish/subscribe bus of live events. */
export class EventBus {
  private readonly listeners = new Set<LineEventListener>();

  publish(e: LineEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a failing subscriber must not stop the line
      }
    }
  }

  /** Returns the unsubscribe function. */
  subscribe(l: LineEventListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get size(): number {
    return this.listeners.size;
  }
}
