/**
 * Predictive maintenance on the sensor stream: readings are micro-batched (max size / max delay),
 * turned into model features (raw values and rolling windows), scored by the machine-failure model
 * in one predictRows call per model, run through each machine's rule, and committed together with
 * any decision and alert. A reading's promise resolves when it is committed (then MQTT acknowledges it).
 */
import type { Clock } from '../core/clock.ts';
import { toLsError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { DecisionKind } from '../pipeline/decide.ts';
import type { Prediction } from '../pipeline/post/predict.ts';
import type { RawRow } from '../pipeline/pre/tabular.ts';
import type { InferenceService } from '../serving/inference-service.ts';
import type { AlertRecord, DecisionRecord, ReadingRecord } from '../store/store.ts';
import type { ActionRunner } from './actions.ts';
import type { AlertManager } from './alerts.ts';
import type { Committer } from './committer.ts';
import { contributionsFrom, occlusionRows, type Contribution } from './contributions.ts';
import type { EventBus } from './events.ts';
import { machineWindows, type MachineConfig } from './line-config.ts';
import type { LineMetrics } from './metrics.ts';
import { INITIAL_RULE_STATE, stepRule, type RuleState } from './rules.ts';
import type { LiveStats } from './stats.ts';
import { MachineWindows } from './windows.ts';

/** One validated reading waiting for its micro-batch. */
export interface SensorItem {
  readonly line: string;
  readonly machine: MachineConfig;
  readonly ts: number;
  readonly type?: string | undefined;
  readonly values: Readonly<Record<string, number>>;
  readonly msg_id: string;
  /** clock.hrNow() when the message arrived, for the reading-to-decision latency. */
  readonly recvHr: number;
}

interface Queued extends SensorItem {
  resolve(): void;
  reject(e: unknown): void;
}

interface MachineState {
  windows: MachineWindows;
  rule: RuleState;
  lastEventAt: number;
}

export interface MachinePipelineDeps {
  readonly service: InferenceService;
  /** Where the windows of a machine are refilled from after a restart (its stored readings). */
  readonly history?: { machineHistory(machine: string, sinceMs: number, limit?: number): Promise<ReadonlyArray<{ ts: number; values: Readonly<Record<string, number>>; decision: DecisionKind | null }>> } | undefined;
  readonly committer: Committer;
  readonly alerts: AlertManager;
  readonly actions: ActionRunner;
  readonly bus: EventBus;
  readonly stats: LiveStats;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: LineMetrics;
  readonly batch: { readonly max_size: number; readonly max_delay_ms: number };
  /** Called after each committed micro-batch with every reading's receipt-to-decision latency. */
  readonly onCommitted?: ((items: ReadonlyArray<{ msg_id: string; latency_ms: number }>) => void) | undefined;
  /** Minimum time between two live `machine` events of one machine (the dashboard needs no more). */
  readonly eventIntervalMs?: number;
}

/** The model's failure probability: P(positive label), else the last class, else the score. */
export function failureProbability(p: Prediction, positiveLabel?: string): number {
  if (p.probabilities) {
    if (positiveLabel !== undefined && p.probabilities[positiveLabel] !== undefined) return p.probabilities[positiveLabel];
    const v = Object.values(p.probabilities);
    return v[v.length - 1] ?? NaN;
  }
  return p.score ?? p.probability ?? NaN;
}

/** The model feature row for a reading, or the name of what is missing. */
export function featureRow(m: MachineConfig, item: Pick<SensorItem, 'values' | 'type'>, windowed: Readonly<Record<string, number>>): RawRow | string {
  const row: Record<string, string | number> = {};
  for (const [feature, src] of Object.entries(m.features)) {
    if ('constant' in src) row[feature] = src.constant;
    else if ('field' in src) {
      const v = src.field === 'type' ? item.type : m.id;
      if (v === undefined) return `reading has no "${src.field}" (needed for feature "${feature}")`;
      row[feature] = v;
    } else {
      const v = src.window ? windowed[feature] : item.values[src.value];
      if (v === undefined || !Number.isFinite(v)) return `reading has no finite "${src.value}" (needed for feature "${feature}")`;
      row[feature] = v;
    }
  }
  return row;
}

/** Why a reading cannot feed its machine's model (checked before it is queued), or undefined. */
export function missingInput(m: MachineConfig, item: Pick<SensorItem, 'values' | 'type'>): string | undefined {
  for (const [feature, src] of Object.entries(m.features)) {
    if ('field' in src && src.field === 'type' && item.type === undefined) return `reading has no "type" (needed for feature "${feature}")`;
    if ('value' in src && item.values[src.value] === undefined) return `reading has no value "${src.value}" (needed for feature "${feature}")`;
  }
  return undefined;
}

/** The reference row values used to explain alerts. */
function references(m: MachineConfig): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [f, src] of Object.entries(m.features)) {
    if ('value' in src && src.reference !== undefined) out[f] = src.reference;
  }
  return out;
}

export class MachinePipeline {
  private queue: Queued[] = [];
  private timer: unknown;
  private busy = false;
  private current: Promise<void> = Promise.resolve();
  private readonly state = new Map<string, MachineState>();
  private readonly positive = new Map<string, Promise<string | undefined>>();
  private lastModelErrorLog = -Infinity;

  private readonly sensorLatency: { observe(v: number): void };

  constructor(private readonly d: MachinePipelineDeps) {
    this.sensorLatency = d.metrics.decisionLatency.labels('sensors');
  }

  /** Queue a reading; resolves when it (with its prediction and decision) is committed. */
  enqueue(item: SensorItem): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ...item, resolve, reject });
      if (this.busy) return; // taken as soon as the batch in progress is done
      if (this.queue.length >= this.d.batch.max_size) this.kick();
      else if (this.timer === undefined) this.timer = this.d.clock.setTimeout(() => this.kick(), this.d.batch.max_delay_ms);
    });
  }

  /**
   * Start the next batch unless one is running. While a batch runs, readings accumulate and the next
   * batch takes all of them (up to 8 x max_size): under load batches grow instead of queueing many
   * small ones behind each other, so throughput adapts and latency stays bounded.
   */
  private kick(): void {
    if (this.timer !== undefined) {
      this.d.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.busy || !this.queue.length) return;
    const batch = this.queue.splice(0, this.d.batch.max_size * 8);
    this.busy = true;
    this.current = this.process(batch)
      .catch((e: unknown) => {
        this.d.log.error({ err: (e as Error).message }, 'sensor batch failed');
        for (const it of batch) it.reject(e);
      })
      .finally(() => {
        this.busy = false;
        if (this.queue.length) this.kick();
      });
  }

  /** Process whatever is queued now and wait until every queued reading has been through the model. */
  async flushNow(): Promise<void> {
    this.kick();
    while (this.busy || this.queue.length) {
      await this.current;
      this.kick();
    }
  }

  private machineState(key: string, m: MachineConfig): MachineState {
    let s = this.state.get(key);
    if (!s) this.state.set(key, (s = { windows: new MachineWindows(machineWindows(m)), rule: INITIAL_RULE_STATE, lastEventAt: -Infinity }));
    return s;
  }

  /**
   * A machine seen for the first time since start-up gets its rolling windows refilled from its stored
   * readings, so a restart does not reset a 10-minute mean to one reading. Readings at or after the
   * first one in this batch are left out: they may be redeliveries of what was stored before a crash.
   */
  private async warmWindows(batch: readonly Queued[]): Promise<void> {
    const history = this.d.history;
    if (!history) return;
    const first = new Map<string, Queued>();
    for (const it of batch) {
      const key = `${it.line}/${it.machine.id}`;
      if (!this.state.has(key) && !first.has(key)) first.set(key, it);
    }
    for (const [key, it] of first) {
      const s = this.machineState(key, it.machine);
      const specs = machineWindows(it.machine).map((w) => w.window);
      // at least the last reading, to restore whether the machine's alert was active
      const maxReadings = Math.max(1, ...specs.map((w) => w.readings ?? 0));
      const maxSeconds = Math.max(0, ...specs.map((w) => w.seconds ?? 0));
      const since = maxSeconds > 0 ? it.ts - maxSeconds * 1000 : 0;
      const limit = maxSeconds > 0 ? 100_000 : maxReadings;
      try {
        const points = (await history.machineHistory(it.machine.id, since, limit)).filter((p) => p.ts < it.ts);
        for (const p of points) s.windows.push(p.ts, p.values);
        // an alert that was active before the restart stays active (it is not raised a second time)
        if (points[points.length - 1]?.decision === 'ALERT') s.rule = { active: true, streak: it.machine.rule.k };
      } catch (e) {
        this.d.log.warn({ machine: it.machine.id, err: (e as Error).message }, 'windows start empty: stored readings could not be read');
      }
    }
  }

  private positiveLabel(model: string): Promise<string | undefined> {
    let p = this.positive.get(model);
    if (!p) {
      p = this.d.service.manifest(model).then((m) => m.decision.positive_label ?? m.labels?.[m.labels.length - 1], () => undefined);
      this.positive.set(model, p);
      p.then((v) => v === undefined && this.positive.delete(model), () => this.positive.delete(model));
    }
    return p;
  }

  private async process(batch: Queued[]): Promise<void> {
    const d = this.d;
    d.metrics.batchSize.observe(batch.length);
    // 1. features, in arrival order (windows are stateful)
    await this.warmWindows(batch);
    const rows: Array<RawRow | undefined> = batch.map((it) => {
      const s = this.machineState(`${it.line}/${it.machine.id}`, it.machine);
      const r = featureRow(it.machine, it, s.windows.push(it.ts, it.values));
      return typeof r === 'string' ? undefined : r;
    });
    // 2. one predictRows per model
    const probs: Array<number | undefined> = new Array(batch.length);
    const versions: Array<number | undefined> = new Array(batch.length);
    const byModel = new Map<string, number[]>();
    batch.forEach((it, i) => {
      if (!rows[i]) return;
      const k = `${it.machine.model}:${it.machine.version ?? ''}`;
      let g = byModel.get(k);
      if (!g) byModel.set(k, (g = []));
      g.push(i);
    });
    const t0 = d.clock.hrNow();
    for (const idx of byModel.values()) {
      const m = batch[idx[0]!]!.machine;
      try {
        const preds = await d.service.predictRows(m.model, idx.map((i) => rows[i]!), m.version === undefined ? {} : { version: m.version });
        const pos = await this.positiveLabel(m.model);
        preds.forEach((p, j) => {
          probs[idx[j]!] = failureProbability(p, pos);
          versions[idx[j]!] = p.version;
        });
      } catch (e) {
        // the readings are still stored (nothing acknowledged is lost); only their prediction is missing
        const now = d.clock.now();
        if (now - this.lastModelErrorLog > 60_000) {
          this.lastModelErrorLog = now;
          d.log.error({ model: m.model, err: toLsError(e).toLine() }, 'machine model failed; readings are stored without prediction');
        }
      }
    }
    const modelMs = (d.clock.hrNow() - t0) / batch.length;
    // 3. rules, decisions, alerts
    const readings: ReadingRecord[] = [];
    const decided: Array<DecisionKind | undefined> = new Array(batch.length);
    const decisions: DecisionRecord[] = [];
    const alerts: Array<{ alert: AlertRecord; actions: MachineConfig['actions'] }> = [];
    const fired: Array<{ it: Queued; row: RawRow; p: number; action: Extract<MachineConfig['actions'][number], { do: 'alert' }> }> = [];
    const published: Array<{ it: Queued; decision: DecisionKind; reason: string; p: number }> = [];
    for (let i = 0; i < batch.length; i++) {
      const it = batch[i]!;
      const p = probs[i];
      const s = this.machineState(`${it.line}/${it.machine.id}`, it.machine);
      let decision: DecisionKind | undefined;
      if (p !== undefined) {
        const step = stepRule(it.machine.rule, s.rule, { score: p });
        s.rule = step.state;
        decision = step.state.active ? 'ALERT' : 'PASS';
        if (step.fired || step.cleared) {
          const reason = step.fired ? `failure probability ${(p * 100).toFixed(1)}% (rule ${it.machine.rule.type} at ${it.machine.rule.type === 'consecutive' ? (it.machine.rule.above ?? 0.5) : it.machine.rule.above})` : `failure probability back to ${(p * 100).toFixed(1)}%`;
          decisions.push({ ts: it.ts, line: it.line, source: it.machine.id, decision, reason });
          published.push({ it, decision, reason, p });
          const alertAction = it.machine.actions.find((a) => a.do === 'alert');
          if (step.fired && alertAction && alertAction.do === 'alert') fired.push({ it, row: rows[i]!, p, action: alertAction });
        }
      }
      decided[i] = decision;
      readings.push({
        msg_id: it.msg_id, line: it.line, machine: it.machine.id, ts: it.ts, type: it.type, values: it.values,
        model: p !== undefined ? it.machine.model : undefined, version: versions[i], probability: p, decision, latency_ms: p !== undefined ? modelMs : undefined,
      });
    }
    // explanations of every alert of this batch in one model call per model
    const explained = await this.explainAll(fired).catch(() => fired.map(() => undefined));
    fired.forEach((f, k) => {
      const contributions = explained[k];
      alerts.push({
        alert: d.alerts.build({
          ts: f.it.ts, line: f.it.line, source: f.it.machine.id, severity: f.action.severity,
          message: f.action.message ?? `machine ${f.it.machine.id}: failure risk ${(f.p * 100).toFixed(0)}%${contributions?.[0] ? `, driven by ${contributions[0].feature}` : ''}`,
          probability: f.p, contributions,
        }),
        actions: f.it.machine.actions,
      });
    });
    // 4. commit without holding up the next batch's model run; acknowledge and announce after commit
    d.committer.write({ readings, decisions, alerts: alerts.map((a) => a.alert) }).then(
      () => this.afterCommit(batch, probs, decided, published, alerts),
      (e: unknown) => {
        for (const it of batch) it.reject(e);
      },
    );
  }

  /** Occlusion contributions for each fired alert; the rows of all alerts of one model go in one predictRows call. */
  private async explainAll(fired: ReadonlyArray<{ it: SensorItem; row: RawRow }>): Promise<Array<Contribution[] | undefined>> {
    const out: Array<Contribution[] | undefined> = fired.map(() => undefined);
    const groups = new Map<string, number[]>();
    fired.forEach((f, k) => {
      if (f.it.machine.top_contributions <= 0) return;
      const key = `${f.it.machine.model}:${f.it.machine.version ?? ''}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(k);
    });
    for (const idx of groups.values()) {
      const m = fired[idx[0]!]!.it.machine;
      const plans = idx.map((k) => occlusionRows(fired[k]!.row, references(fired[k]!.it.machine)));
      if (plans.every((p) => p.features.length === 0)) {
        for (const k of idx) out[k] = [];
        continue;
      }
      const rows = plans.flatMap((p) => p.rows);
      const pos = await this.positiveLabel(m.model);
      const probs = (await this.d.service.predictRows(m.model, rows, m.version === undefined ? {} : { version: m.version })).map((p) => failureProbability(p, pos));
      let at = 0;
      plans.forEach((plan, j) => {
        const k = idx[j]!;
        out[k] = plan.features.length ? contributionsFrom(plan.features, fired[k]!.row, probs.slice(at, at + plan.rows.length), fired[k]!.it.machine.top_contributions) : [];
        at += plan.rows.length;
      });
    }
    return out;
  }

  private afterCommit(
    batch: Queued[],
    probs: Array<number | undefined>,
    decided: Array<DecisionKind | undefined>,
    published: Array<{ it: Queued; decision: DecisionKind; reason: string; p: number }>,
    alerts: Array<{ alert: AlertRecord; actions: MachineConfig['actions'] }>,
  ): void {
    const d = this.d;
    const nowHr = d.clock.hrNow();
    const now = d.clock.now();
    const lat: Array<{ msg_id: string; latency_ms: number }> | undefined = d.onCommitted ? [] : undefined;
    const interval = d.eventIntervalMs ?? 250;
    // live figures need only each machine's newest reading of the batch
    const newest = new Map<string, number>();
    const perMachine = new Map<string, number>();
    for (let i = 0; i < batch.length; i++) {
      const it = batch[i]!;
      it.resolve();
      const ms = nowHr - it.recvHr;
      lat?.push({ msg_id: it.msg_id, latency_ms: ms });
      this.sensorLatency.observe(ms / 1000);
      const key = `${it.line}/${it.machine.id}`;
      newest.set(key, i);
      perMachine.set(key, (perMachine.get(key) ?? 0) + 1);
    }
    for (const [key, i] of newest) {
      const it = batch[i]!;
      const s = this.state.get(key)!;
      const p = probs[i];
      const decision = decided[i];
      d.stats.machine({ line: it.line, machine: it.machine.id, ts: it.ts, values: it.values, probability: p, decision, alert_active: decision === 'ALERT' }, perMachine.get(key) ?? 1);
      if (now - s.lastEventAt >= interval) {
        s.lastEventAt = now;
        d.bus.publish({ type: 'machine', ts: it.ts, line: it.line, machine: it.machine.id, values: it.values, model: it.machine.model, ...(p !== undefined && decision ? { probability: p, decision } : {}) });
      }
    }
    d.stats.readingsTotal += batch.length;
    const alerted = new Set(alerts.map((a) => `${a.alert.line}/${a.alert.source}/${a.alert.ts}`));
    for (const x of published) {
      // when the same reading raised an alert, its webhooks get the alert (with explanation), not the decision too
      const withAlert = alerted.has(`${x.it.line}/${x.it.machine.id}/${x.it.ts}`);
      const actions = withAlert ? x.it.machine.actions.filter((a) => a.do !== 'webhook') : x.it.machine.actions;
      d.actions.run(actions, { ts: x.it.ts, line: x.it.line, source: x.it.machine.id, decision: x.decision, reason: x.reason, probability: x.p });
    }
    for (const a of alerts) d.alerts.announce(a.alert, a.actions);
    if (lat) d.onCommitted?.(lat);
  }
}
