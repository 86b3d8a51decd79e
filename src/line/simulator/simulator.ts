/**
 * `linesight simulate`: publishes a realistic line over MQTT (or NATS JetStream). Camera frames (MQTT v5, binary JPEG with
 * `part_id`, `ts`, `msg_id` user properties) and, right after each, the part's true label on
 * `.../truth` (what a QA station would report), plus machine readings following the AI4I physics.
 * Seeded and rate-configurable; every message carries a msg_id so redeliveries are recognised.
 */
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import type { Disposable } from '../../core/dispose.ts';
import { topicFor } from '../../connectors/topics.ts';
import { Ai4iMachine } from './ai4i.ts';
import type { FrameSource } from './camera.ts';
import { Rng } from './rng.ts';

/** Where the simulator publishes: an MQTT client, or a NATS JetStream publisher. */
export interface SimPublisher {
  publish(topic: string, payload: string | Buffer, opts: { qos: 0 | 1; properties?: { userProperties?: Record<string, string>; contentType?: string } }): unknown;
}

export interface SimulatorOptions {
  readonly client: SimPublisher;
  readonly frames?: FrameSource | undefined;
  /** Camera stations to feed: `line/station`. */
  readonly stations: ReadonlyArray<{ line: string; station: string }>;
  readonly machines: ReadonlyArray<{ line: string; machine: string }>;
  /** Parts per second per camera station. */
  readonly partsPerS: number;
  /** Readings per second per machine. */
  readonly readingsPerS: number;
  readonly seed?: number;
  readonly clock?: Clock;
  /** Publish the true label of each part, and the outcome of each machine reading, on `.../truth` (default true). */
  readonly publishTruth?: boolean;
  /** Stop after this many parts / readings in total (default: run until disposed). */
  readonly maxParts?: number;
  readonly maxReadings?: number;
  readonly machineOptions?: ConstructorParameters<typeof Ai4iMachine>[1];
  /** MQTT 5 sends images as binary with user properties; 3.1.1 (4) uses the JSON envelope. Default 5. */
  readonly protocolVersion?: 4 | 5;
}

const TICK_MS = 100;

export class Simulator implements Disposable {
  private readonly rng: Rng;
  private readonly machines: Array<{ line: string; machine: string; sim: Ai4iMachine }>;
  private readonly clock: Clock;
  private timer: unknown;
  private partCarry = 0;
  private readingCarry = 0;
  private seq = 0;
  private stopped = false;
  readonly sent = { parts: 0, readings: 0 };
  private readonly runId: string;

  constructor(private readonly o: SimulatorOptions) {
    this.rng = new Rng(o.seed ?? 42);
    this.clock = o.clock ?? systemClock;
    this.machines = o.machines.map((m) => ({ ...m, sim: new Ai4iMachine(this.rng, o.machineOptions) }));
    // unique per run, so ids from an earlier run of the same seed are not mistaken for redeliveries
    this.runId = `${(o.seed ?? 42).toString(36)}-${this.clock.now().toString(36)}`;
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.tick();
      this.timer = this.clock.setTimeout(tick, TICK_MS);
    };
    this.timer = this.clock.setTimeout(tick, 0);
  }

  /** Publish one tick's worth of parts and readings. */
  tick(): void {
    const dt = TICK_MS / 1000;
    this.partCarry += this.o.partsPerS * dt * this.o.stations.length;
    this.readingCarry += this.o.readingsPerS * dt * this.machines.length;
    while (this.partCarry >= 1 && this.o.frames && this.o.stations.length && this.sent.parts < (this.o.maxParts ?? Infinity)) {
      this.partCarry -= 1;
      this.publishPart(this.o.stations[this.sent.parts % this.o.stations.length]!);
    }
    while (this.readingCarry >= 1 && this.machines.length && this.sent.readings < (this.o.maxReadings ?? Infinity)) {
      this.readingCarry -= 1;
      this.publishReading(this.machines[this.sent.readings % this.machines.length]!);
    }
  }

  private publishPart(s: { line: string; station: string }): void {
    const frame = this.o.frames!.next(this.rng);
    const ts = this.clock.now();
    const partId = `${s.station}-${this.runId}-${++this.seq}`;
    const topic = topicFor(s.line, s.station, 'image');
    if ((this.o.protocolVersion ?? 5) === 5) {
      this.o.client.publish(topic, Buffer.from(frame.bytes), {
        qos: 1,
        properties: { userProperties: { part_id: partId, ts: String(ts), msg_id: `img-${partId}` }, contentType: 'image/jpeg' },
      });
    } else {
      this.o.client.publish(topic, JSON.stringify({ part_id: partId, ts, msg_id: `img-${partId}`, image_b64: Buffer.from(frame.bytes).toString('base64') }), { qos: 1 });
    }
    if (this.o.publishTruth ?? true) {
      this.o.client.publish(topicFor(s.line, s.station, 'truth'), JSON.stringify({ part_id: partId, true_label: frame.label, by: 'simulator', msg_id: `truth-${partId}` }), { qos: 1 });
    }
    this.sent.parts++;
  }

  private publishReading(m: { line: string; machine: string; sim: Ai4iMachine }): void {
    const r = m.sim.step();
    const ts = this.clock.now();
    const msgId = `r-${m.machine}-${this.runId}-${++this.seq}`;
    this.o.client.publish(topicFor(m.line, m.machine, 'sensors'), JSON.stringify({ machine: m.machine, ts, msg_id: msgId, type: r.type, values: r.values }), { qos: 1 });
    if (this.o.publishTruth ?? true) {
      // what the machine's PLC would report once the run is over: did it fail, and how
      this.o.client.publish(topicFor(m.line, m.machine, 'truth'), JSON.stringify({ reading_msg_id: msgId, failure: r.failures.length > 0, modes: r.failures, by: 'simulator' }), { qos: 1 });
    }
    this.sent.readings++;
  }

  async dispose(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }
}
