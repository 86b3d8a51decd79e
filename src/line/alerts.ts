/**
 * Alerts of the line: built when a rule fires, stored in the same transaction as the data that
 * caused them, then announced (live event, MQTT `linesight/{line}/alerts`, webhooks). Acknowledging
 * records who and when, and goes to the audit log.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { AlertRecord, Store } from '../store/store.ts';
import type { ActionRunner } from './actions.ts';
import type { EventBus, AlertEvent } from './events.ts';
import type { ActionConfig } from './line-config.ts';
import type { LineMetrics } from './metrics.ts';

/** The audit sink (the security layer's AuditLog satisfies it). */
export interface AuditSink {
  append(e: { actor: string; action: string; target: string; details?: unknown }): Promise<void> | void;
}

export function alertEvent(a: AlertRecord): AlertEvent {
  return {
    type: 'alert',
    id: a.id,
    ts: a.ts,
    line: a.line,
    source: a.source,
    severity: a.severity,
    message: a.message,
    ...(a.probability !== undefined ? { probability: a.probability } : {}),
    ...(a.contributions ? { contributions: a.contributions } : {}),
    ...(a.acknowledged_by !== undefined ? { acknowledged_by: a.acknowledged_by } : {}),
    ...(a.acknowledged_at !== undefined ? { acknowledged_at: a.acknowledged_at } : {}),
  };
}

export class AlertManager {
  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly actions: ActionRunner,
    private readonly clock: Clock,
    private readonly metrics: LineMetrics,
    private readonly audit?: AuditSink,
  ) {}

  /** A new alert record (not yet stored). */
  build(a: Omit<AlertRecord, 'id' | 'ts'> & { ts?: number }): AlertRecord {
    return { id: randomUUID(), ...a, ts: a.ts ?? this.clock.now() };
  }

  /** After the alert is committed: count it, show it live, publish it and call its webhooks. */
  announce(a: AlertRecord, actions: readonly ActionConfig[]): void {
    this.metrics.alerts.inc({ severity: a.severity });
    const ev = alertEvent(a);
    this.bus.publish(ev);
    this.actions.publishAlert(a.line, ev);
    for (const x of actions) if (x.do === 'webhook') this.actions.webhook(x.url, x.timeout_ms, ev);
  }

  /** Acknowledge an alert (LS_ERR_NOT_FOUND when unknown); the first acknowledgement is kept. */
  async ack(id: string, by: string): Promise<AlertRecord> {
    const a = await this.store.ackAlert(id, by, this.clock.now());
    await this.audit?.append({ actor: by, action: 'alert.ack', target: id, details: { source: a.source, line: a.line } });
    this.bus.publish(alertEvent(a));
    return a;
  }
}
