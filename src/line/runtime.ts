/**
 * The line runtime: MQTT message -> validation -> (sensor micro-batch -> machine model | image ->
 * inspection model) -> rules and decisions -> one store commit -> acknowledgement -> live events and
 * MQTT results/decisions/alerts. Bad input becomes a dead letter and the stream goes on.
 * `handleMessage` resolves when the message is durably handled: the MQTT subscriber acknowledges then.
 */
import { systemClock, type Clock } from '../core/clock.ts';
import { LsError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import type { Disposable } from '../core/dispose.ts';
import { contentMsgId, imageEnvelopeSchema, imagePropsSchema, machineTruthPayloadSchema, sensorPayloadSchema, sniffImageType, truthPayloadSchema, userProps } from '../connectors/payloads.ts';
import { parseTopic } from '../connectors/topics.ts';
import type { DecisionKind } from '../pipeline/decide.ts';
import { machineModelMetrics, PDM_WINDOW, type MachineModelMetrics } from './pdm-metrics.ts';
import type { InferenceService } from '../serving/inference-service.ts';
import type { PartView, Store } from '../store/store.ts';
import { formatZodIssues } from '../core/validate.ts';
import { ActionRunner, type Publisher } from './actions.ts';
import { AlertManager, type AuditSink } from './alerts.ts';
import { Committer } from './committer.ts';
import { DeadLetters, type DeadLetterKind } from './dead-letters.ts';
import type { EventBus } from './events.ts';
import type { LineConfig, MachineConfig, StationConfig } from './line-config.ts';
import { MachinePipeline, missingInput } from './machines.ts';
import { LineMetrics } from './metrics.ts';
import { LiveStats } from './stats.ts';
import { StationPipeline } from './stations.ts';

export interface LineRuntimeOptions {
  readonly config: LineConfig;
  readonly service: InferenceService;
  readonly store: Store;
  readonly bus: EventBus;
  readonly clock?: Clock;
  readonly log?: Logger;
  readonly metrics?: LineMetrics;
  /** Where decisions, results and alerts are published (the runtime's MQTT client). */
  readonly publisher?: Publisher;
  readonly audit?: AuditSink;
  /** Called after each committed sensor micro-batch (benchmarks measure latency with it). */
  readonly onSensorCommitted?: (items: ReadonlyArray<{ msg_id: string; latency_ms: number }>) => void;
  /** Live `machine` events per machine at most this often (default 250 ms). */
  readonly machineEventIntervalMs?: number;
}

/** Remembered message ids, to answer a redelivery in this process without processing it twice. */
const RECENT_IDS = 100_000;

export class LineRuntime implements Disposable {
  readonly stats = new LiveStats();
  readonly alerts: AlertManager;
  readonly metrics: LineMetrics;
  readonly store: Store;
  readonly bus: EventBus;
  readonly config: LineConfig;
  private readonly clock: Clock;
  private readonly actions: ActionRunner;
  private readonly log: Logger;
  private readonly committer: Committer;
  private readonly deadLetters: DeadLetters;
  private readonly machinesPipe: MachinePipeline;
  private readonly stationsPipe: StationPipeline;
  private readonly machines = new Map<string, MachineConfig>();
  private readonly stations = new Map<string, StationConfig>();
  private readonly recent = new Map<string, Promise<void>>();
  private readonly inflightParts = new Map<string, Promise<void>>();
  private readonly inflight = new Set<Promise<void>>();
  private timers: unknown[] = [];
  private readonly kindCounters = new Map<string, { inc(): void }>();
  private closed = false;

  constructor(private readonly o: LineRuntimeOptions) {
    this.config = o.config;
    this.store = o.store;
    this.bus = o.bus;
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? silentLogger();
    this.metrics = o.metrics ?? new LineMetrics();
    this.committer = new Committer(o.store, (r) => this.metrics.readingsStored.inc(r.readings));
    this.deadLetters = new DeadLetters(this.clock, this.log, this.metrics);
    const actions = new ActionRunner(o.publisher, this.log);
    this.actions = actions;
    this.alerts = new AlertManager(o.store, o.bus, actions, this.clock, this.metrics, o.audit);
    const shared = { service: o.service, committer: this.committer, alerts: this.alerts, actions, bus: o.bus, stats: this.stats, clock: this.clock, metrics: this.metrics };
    this.machinesPipe = new MachinePipeline({ ...shared, history: o.store, log: this.log, batch: o.config.sensor_batch, onCommitted: o.onSensorCommitted, eventIntervalMs: o.machineEventIntervalMs ?? 250 });
    this.stationsPipe = new StationPipeline({ ...shared, deadLetters: this.deadLetters });
    for (const l of o.config.lines) {
      for (const m of l.machines) this.machines.set(`${l.id}/${m.id}`, m);
      for (const s of l.stations) {
        this.stations.set(`${l.id}/${s.id}`, s);
        this.stats.addStation(l.id, s.id);
      }
    }
  }

  /** Start the periodic work: the `stats` event every second, accuracy refresh, retention. */
  async start(): Promise<void> {
    this.stats.setAccuracy(await this.store.accuracy());
    this.stats.setMachineAccuracy(await this.machineMetrics());
    const every = (ms: number, fn: () => void | Promise<void>): void => {
      const tick = (): void => {
        if (this.closed) return;
        Promise.resolve()
          .then(fn)
          .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'periodic line task failed'))
          .finally(() => {
            if (!this.closed) this.timers.push(this.clock.setTimeout(tick, ms));
          });
      };
      this.timers.push(this.clock.setTimeout(tick, ms));
    };
    every(1000, () => this.bus.publish(this.stats.event(this.clock.now())));
    every(10_000, async () => {
      this.stats.setAccuracy(await this.store.accuracy());
      this.stats.setMachineAccuracy(await this.machineMetrics());
    });
    every(this.config.retention.every_s * 1000, () => this.applyRetention().then(() => undefined));
  }

  /** Delete data past the configured retention. */
  async applyRetention(): Promise<{ deleted: number }> {
    const r = this.config.retention;
    const res = await this.store.prune({ olderThanMs: r.days > 0 ? this.clock.now() - r.days * 86_400_000 : undefined, maxReadings: r.max_readings || undefined });
    if (res.deleted) this.log.info({ deleted: res.deleted }, 'retention removed old rows');
    return res;
  }

  /** The latest `stats` event (sent first to every new live-event subscriber). */
  statsEvent() {
    return this.stats.event(this.clock.now());
  }

  /** Handle one MQTT message; resolves when it is durably handled (stored or dead-lettered). */
  handleMessage(topic: string, payload: Uint8Array, properties?: { userProperties?: Record<string, string | string[]> }): Promise<void> {
    if (this.closed) return Promise.reject(new LsError('LS_ERR_SHUTTING_DOWN'));
    const p = this.route(topic, payload, properties);
    this.inflight.add(p);
    const forget = (): void => {
      this.inflight.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  /** Cached labelled counter: a label lookup per message is measurable at tens of thousands per second. */
  private kindCounter(kind: string | undefined): { inc(): void } {
    const k = kind === 'sensors' || kind === 'image' || kind === 'truth' ? kind : 'other';
    let c = this.kindCounters.get(k);
    if (!c) this.kindCounters.set(k, (c = this.metrics.messages.labels(k)));
    return c;
  }

  private dead(topic: string, kind: DeadLetterKind, reason: string, payload: Uint8Array): Promise<void> {
    return this.committer.write({ deadLetters: [this.deadLetters.record(topic, kind, reason, payload)] }).then(() => undefined);
  }

  private remember(id: string, p: Promise<void>): void {
    this.recent.set(id, p);
    if (this.recent.size > RECENT_IDS) this.recent.delete(this.recent.keys().next().value!);
  }

  private async route(topic: string, payload: Uint8Array, properties?: { userProperties?: Record<string, string | string[]> }): Promise<void> {
    const t = parseTopic(topic);
    this.kindCounter(t?.kind).inc();
    if (!t) return this.dead(topic, 'unknown_topic', 'topic does not follow linesight/{line}/{source}/{kind}', payload);
    const props = userProps(properties?.userProperties);
    if (t.kind === 'sensors') return this.onSensors(topic, t.line, t.source, payload, props);
    if (t.kind === 'image') return this.onImage(topic, t.line, t.source, payload, props);
    if (t.kind === 'truth') return this.machines.has(`${t.line}/${t.source}`) ? this.onMachineTruth(topic, t.line, t.source, payload) : this.onTruth(topic, payload);
    return this.dead(topic, 'unknown_topic', `unknown message kind "${t.kind}"`, payload);
  }

  private parseJson(payload: Uint8Array): { ok: true; value: unknown } | { ok: false; reason: string } {
    try {
      return { ok: true, value: JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')) };
    } catch (e) {
      return { ok: false, reason: (e as Error).message.slice(0, 200) };
    }
  }

  private onSensors(topic: string, line: string, source: string, payload: Uint8Array, props: Record<string, string>): Promise<void> {
    const recvHr = this.clock.hrNow();
    if (payload.byteLength > this.config.max_sensor_bytes) return this.dead(topic, 'oversized', `${payload.byteLength} bytes > max_sensor_bytes ${this.config.max_sensor_bytes}`, payload);
    const machine = this.machines.get(`${line}/${source}`);
    if (!machine) return this.dead(topic, 'unknown_source', `no machine "${source}" on line "${line}" in line.yaml`, payload);
    const j = this.parseJson(payload);
    if (!j.ok) return this.dead(topic, 'malformed_json', j.reason, payload);
    const r = sensorPayloadSchema.safeParse(j.value);
    if (!r.success) return this.dead(topic, 'invalid_payload', formatZodIssues(r.error), payload);
    const v = r.data;
    if (v.machine !== undefined && v.machine !== source) return this.dead(topic, 'invalid_payload', `payload machine "${v.machine}" differs from the topic's "${source}"`, payload);
    const missing = missingInput(machine, v);
    if (missing) return this.dead(topic, 'missing_values', missing, payload);
    const msgId = v.msg_id ?? props.msg_id ?? contentMsgId(topic, payload);
    const seen = this.recent.get(msgId);
    if (seen) return seen;
    const p = this.machinesPipe.enqueue({ line, machine, ts: v.ts ?? this.clock.now(), type: v.type, values: v.values, msg_id: msgId, recvHr });
    this.remember(msgId, p);
    return p;
  }

  private onImage(topic: string, line: string, source: string, payload: Uint8Array, props: Record<string, string>): Promise<void> {
    const recvHr = this.clock.hrNow();
    const station = this.stations.get(`${line}/${source}`);
    if (!station) return this.dead(topic, 'unknown_source', `no station "${source}" on line "${line}" in line.yaml`, payload);
    if (payload.byteLength > station.max_image_bytes) return this.dead(topic, 'oversized', `${payload.byteLength} bytes > max_image_bytes ${station.max_image_bytes}`, payload);
    let bytes: Uint8Array;
    let meta: { part_id: string; ts?: number | undefined; msg_id?: string | undefined; content_type?: string | undefined };
    if (props.part_id !== undefined) {
      const r = imagePropsSchema.safeParse(props);
      if (!r.success) return this.dead(topic, 'invalid_payload', `user properties: ${formatZodIssues(r.error)}`, payload);
      meta = r.data;
      bytes = payload;
    } else if (payload[0] === 0x7b /* { */) {
      const j = this.parseJson(payload);
      if (!j.ok) return this.dead(topic, 'malformed_json', j.reason, payload);
      const r = imageEnvelopeSchema.safeParse(j.value);
      if (!r.success) return this.dead(topic, 'invalid_payload', formatZodIssues(r.error), payload);
      meta = r.data;
      bytes = Buffer.from(r.data.image_b64, 'base64');
    } else {
      return this.dead(topic, 'invalid_payload', 'no part_id: send it as an MQTT v5 user property or use the JSON envelope {part_id, image_b64}', payload);
    }
    // the stored type comes from the bytes, never from the sender: GET /v1/parts/:id/image serves it as is
    const contentType = sniffImageType(bytes);
    if (!contentType) return this.dead(topic, 'corrupt_image', `${meta.part_id}: not a JPEG, PNG, BMP or TIFF image`, bytes);
    const msgId = meta.msg_id ?? props.msg_id ?? contentMsgId(topic, payload);
    const seen = this.recent.get(msgId);
    if (seen) return seen;
    const p = this.stationsPipe.inspect({ line, station, part_id: meta.part_id, msg_id: msgId, ts: meta.ts ?? this.clock.now(), bytes, content_type: contentType, topic, recvHr });
    this.remember(msgId, p);
    this.inflightParts.set(meta.part_id, p);
    const partId = meta.part_id;
    const drop = (): void => {
      if (this.inflightParts.get(partId) === p) this.inflightParts.delete(partId);
    };
    p.then(drop, drop);
    return p;
  }

  private async onTruth(topic: string, payload: Uint8Array): Promise<void> {
    const j = this.parseJson(payload);
    if (!j.ok) return this.dead(topic, 'malformed_json', j.reason, payload);
    const r = truthPayloadSchema.safeParse(j.value);
    if (!r.success) return this.dead(topic, 'invalid_payload', formatZodIssues(r.error), payload);
    // the truth for a part can arrive while the part itself is still being inspected
    await this.inflightParts.get(r.data.part_id)?.catch(() => undefined);
    try {
      await this.feedback({ part_id: r.data.part_id, true_label: r.data.true_label, by: r.data.by ?? 'truth-topic' }, false);
    } catch (e) {
      if (e instanceof LsError && e.code === 'LS_ERR_NOT_FOUND') return this.dead(topic, 'unknown_part', e.message, payload);
      throw e;
    }
  }

  /**
   * Live predictive-maintenance metrics: the last PDM_WINDOW scored readings with a reported outcome,
   * per model version at that version's own decision threshold (0.5 when it has none or is gone).
   */
  async machineMetrics(): Promise<MachineModelMetrics[]> {
    const outcomes = await this.store.machineOutcomes(PDM_WINDOW);
    const thresholds = new Map<string, number>();
    for (const { model, version } of outcomes) {
      const k = `${model}:${version}`;
      if (!thresholds.has(k)) thresholds.set(k, (await this.o.service.manifest(model, version).catch(() => undefined))?.decision.threshold ?? 0.5);
    }
    return machineModelMetrics(outcomes, (model, version) => thresholds.get(`${model}:${version}`)!);
  }

  /** The outcome of a machine reading (did that run fail?): stored for the live predictive-maintenance metrics. */
  private async onMachineTruth(topic: string, line: string, machine: string, payload: Uint8Array): Promise<void> {
    const j = this.parseJson(payload);
    if (!j.ok) return this.dead(topic, 'malformed_json', j.reason, payload);
    const r = machineTruthPayloadSchema.safeParse(j.value);
    if (!r.success) return this.dead(topic, 'invalid_payload', formatZodIssues(r.error), payload);
    // stored even when the reading is not (yet) there: the two are joined when metrics are read
    await this.committer.write({
      machineTruth: [{ reading_msg_id: r.data.reading_msg_id, line, machine, failure: r.data.failure, modes: r.data.modes, by: r.data.by ?? 'truth-topic', ts: this.clock.now() }],
    });
  }

  /** Store QA feedback for a part, update live accuracy and announce it (audited when `audited`). */
  async feedback(f: { part_id: string; true_label: string; by: string }, audited = true): Promise<PartView> {
    const part = await this.store.addFeedback({ ...f, ts: this.clock.now() });
    const correct = part.label === f.true_label;
    if (audited) await this.o.audit?.append({ actor: f.by, action: 'feedback.add', target: f.part_id, details: { true_label: f.true_label, predicted: part.label } });
    this.bus.publish({ type: 'feedback', ts: this.clock.now(), part_id: f.part_id, model: part.model, predicted: part.label, true_label: f.true_label, correct, by: f.by });
    return part;
  }

  /** A person overrides a part's decision (e.g. QA releases a rejected part): stored, audited, published, shown live. */
  async overrideDecision(o: { part_id: string; decision: DecisionKind; reason: string; by: string }): Promise<PartView> {
    const before = await this.store.getPart(o.part_id);
    const reason = `override by ${o.by}: ${o.reason}`;
    const part = await this.store.overrideDecision(o.part_id, o.decision, reason, this.clock.now());
    await this.o.audit?.append({ actor: o.by, action: 'decision.override', target: o.part_id, details: { from: before?.decision, to: o.decision, reason: o.reason } });
    this.actions.publishDecision({ ts: this.clock.now(), line: part.line, source: part.station, part_id: part.part_id, decision: o.decision, reason });
    this.bus.publish({
      type: 'inspection', ts: part.ts, line: part.line, station: part.station, part_id: part.part_id, model: part.model, version: part.version,
      label: part.label, probability: part.probability, decision: part.decision, reason: part.reason, latency_ms: part.latency_ms, has_image: part.has_image,
    });
    return part;
  }

  /** Process everything received so far and wait until it is committed. */
  async flush(): Promise<void> {
    await this.machinesPipe.flushNow();
    await Promise.allSettled([...this.inflight]);
    await this.machinesPipe.flushNow();
    await this.committer.drain();
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers = [];
  }
}
