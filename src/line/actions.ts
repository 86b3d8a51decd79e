/**
 * What a decision or an alert triggers: an MQTT publication of the decision (with the part id), an
 * MQTT alert, a webhook call (undici, with a timeout; a failing webhook is logged and never blocks
 * the line). Publications use QoS 1 so a PLC that rejects parts does not miss a decision.
 */
import { request } from 'undici';
import type { Logger } from '../core/log.ts';
import { alertsTopic, topicFor } from '../connectors/topics.ts';
import type { ActionConfig } from './line-config.ts';

/** Where actions publish: the MQTT client of the runtime (or a recorder in tests). */
export interface Publisher {
  publish(topic: string, payload: string, opts: { qos: 0 | 1; retain?: boolean }): void;
}

export interface DecisionMessage {
  readonly ts: number;
  readonly line: string;
  readonly source: string;
  readonly part_id?: string | undefined;
  readonly decision: string;
  readonly reason: string;
  readonly probability?: number | undefined;
}

export class ActionRunner {
  constructor(
    private readonly publisher: Publisher | undefined,
    private readonly log: Logger,
    private readonly post: (url: string, body: unknown, timeoutMs: number) => Promise<number> = postJson,
  ) {}

  /** Run the non-alert actions of a decision (publish_decision, webhook). Alerts are raised by the caller. */
  run(actions: readonly ActionConfig[], msg: DecisionMessage): void {
    for (const a of actions) {
      if (a.do === 'publish_decision') this.publishDecision(msg);
      else if (a.do === 'webhook') this.webhook(a.url, a.timeout_ms, { type: 'decision', ...msg });
    }
  }

  publishDecision(msg: DecisionMessage): void {
    this.publisher?.publish(topicFor(msg.line, msg.source, 'decision'), JSON.stringify(msg), { qos: 1 });
  }

  publishResult(line: string, source: string, body: unknown): void {
    this.publisher?.publish(topicFor(line, source, 'result'), JSON.stringify(body), { qos: 0 });
  }

  publishAlert(line: string, alert: unknown): void {
    this.publisher?.publish(alertsTopic(line), JSON.stringify(alert), { qos: 1 });
  }

  /** Fire-and-forget POST; the outcome is only logged. */
  webhook(url: string, timeoutMs: number, body: unknown): void {
    this.post(url, body, timeoutMs).then(
      (status) => {
        if (status >= 400) this.log.warn({ url, status }, 'webhook answered with an error');
      },
      (e: unknown) => this.log.warn({ url, err: (e as Error).message }, 'webhook failed'),
    );
  }
}

/** POST JSON with undici; resolves with the HTTP status. */
export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<number> {
  const r = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  await r.body.dump();
  return r.statusCode;
}
