/**
 * Camera stations: each image goes through the inference service (the serving layer's dynamic
 * batcher), the model's decision rule gives PASS/REJECT/REVIEW, the station's alert rules watch the
 * stream of decisions (e.g. three REJECTs in a row), and the part (prediction, decision, image) is
 * committed before the message is acknowledged. Results and decisions are then published.
 */
import type { Clock } from '../core/clock.ts';
import { isLsError, toLsError } from '../core/errors.ts';
import type { InferenceService } from '../serving/inference-service.ts';
import type { AlertRecord, DecisionRecord, DeadLetterRecord } from '../store/store.ts';
import type { ActionRunner } from './actions.ts';
import type { AlertManager } from './alerts.ts';
import type { Committer } from './committer.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { EventBus } from './events.ts';
import type { ActionConfig, StationConfig } from './line-config.ts';
import type { LineMetrics } from './metrics.ts';
import { INITIAL_RULE_STATE, stepRule, type RuleState } from './rules.ts';
import type { LiveStats } from './stats.ts';

export interface ImageItem {
  readonly line: string;
  readonly station: StationConfig;
  readonly part_id: string;
  readonly msg_id: string;
  readonly ts: number;
  readonly bytes: Uint8Array;
  readonly content_type: string;
  readonly topic: string;
  readonly recvHr: number;
}

export interface StationDeps {
  readonly service: InferenceService;
  readonly committer: Committer;
  readonly alerts: AlertManager;
  readonly actions: ActionRunner;
  readonly bus: EventBus;
  readonly stats: LiveStats;
  readonly clock: Clock;
  readonly metrics: LineMetrics;
  readonly deadLetters: DeadLetters;
}

export class StationPipeline {
  private readonly ruleState = new Map<string, RuleState[]>();

  constructor(private readonly d: StationDeps) {}

  /** Inspect one part; resolves when its record (or its dead letter) is committed. */
  async inspect(it: ImageItem): Promise<void> {
    const d = this.d;
    const st = it.station;
    let result;
    try {
      result = await d.service.inspectImage(st.model, it.bytes, { subject: it.part_id, ...(st.version !== undefined ? { version: st.version } : {}) });
    } catch (e) {
      const err = toLsError(e);
      const bad = isLsError(e) && (err.code.startsWith('LS_ERR_IMAGE_') || err.code === 'LS_ERR_TENSOR_SHAPE');
      const dl: DeadLetterRecord = d.deadLetters.record(it.topic, bad ? 'corrupt_image' : 'inference_failed', `${it.part_id}: ${err.toLine()}`, it.bytes);
      await d.committer.write({ deadLetters: [dl] });
      return;
    }
    const p = result.prediction;
    const label = p.label ?? String(p.score ?? '');
    const probability = p.probability ?? p.score ?? 0;
    const decisions: DecisionRecord[] = p.decision !== 'PASS' ? [{ ts: it.ts, line: it.line, source: st.id, part_id: it.part_id, decision: p.decision, reason: p.reason }] : [];
    const alerts: Array<{ alert: AlertRecord; actions: readonly ActionConfig[] }> = [];
    const key = `${it.line}/${st.id}`;
    const states = this.ruleState.get(key) ?? st.alerts.map(() => INITIAL_RULE_STATE);
    st.alerts.forEach((a, i) => {
      const step = stepRule(a.rule, states[i]!, { decision: p.decision, score: probability });
      states[i] = step.state;
      const alertAction = a.actions.find((x) => x.do === 'alert');
      if (step.fired && alertAction && alertAction.do === 'alert') {
        alerts.push({
          alert: d.alerts.build({ ts: it.ts, line: it.line, source: st.id, severity: alertAction.severity, message: alertAction.message ?? `station ${st.id}: ${a.rule.type} rule fired (last part ${it.part_id}: ${p.decision})`, probability }),
          actions: a.actions,
        });
      }
    });
    this.ruleState.set(key, states);
    await d.committer.write({
      parts: [{
        part_id: it.part_id, msg_id: it.msg_id, line: it.line, station: st.id, ts: it.ts, model: p.model, version: p.version, label, probability,
        outputs: p.probabilities ?? {}, decision: p.decision, reason: p.reason, latency_ms: result.timings.total_ms,
        image: { bytes: it.bytes, content_type: it.content_type },
      }],
      decisions,
      alerts: alerts.map((a) => a.alert),
    });
    // committed: count, show, publish
    d.metrics.parts.inc({ station: st.id, decision: p.decision });
    d.metrics.decisionLatency.observe({ kind: 'image' }, (d.clock.hrNow() - it.recvHr) / 1000);
    d.stats.part(it.line, st.id, d.clock.now(), p.decision);
    d.bus.publish({
      type: 'inspection', ts: it.ts, line: it.line, station: st.id, part_id: it.part_id, model: p.model, version: p.version, label, probability,
      decision: p.decision, reason: p.reason, latency_ms: result.timings.total_ms, has_image: true,
    });
    d.actions.publishResult(it.line, st.id, { part_id: it.part_id, ts: it.ts, model: p.model, version: p.version, label, probability, top: p.top, decision: p.decision, reason: p.reason });
    if (p.decision !== 'PASS') d.actions.run(st.actions, { ts: it.ts, line: it.line, source: st.id, part_id: it.part_id, decision: p.decision, reason: p.reason, probability });
    for (const a of alerts) d.alerts.announce(a.alert, a.actions);
  }
}
