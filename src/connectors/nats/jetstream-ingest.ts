/**
 * NATS JetStream as a transport, for plants that run several LineSight machines on one durable
 * stream. Subjects mirror the MQTT topics with dots (`linesight.<line>.<station|machine>.<kind>`).
 * The stream holds the inputs only (image, sensors, truth); results, decisions and alerts go out as
 * plain NATS messages on their subjects, so the consumer never reads its own output.
 * each message is handed to the same handler as MQTT messages and acknowledged only after the
 * handler resolved (it is durably stored), so a crash redelivers instead of losing. The `Nats-Msg-Id`
 * header (JetStream's own de-duplication id) becomes the message id for idempotent writes.
 */
import { AckPolicy, connect, DeliverPolicy, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';
import { LsError } from '../../core/errors.ts';
import { INPUT_KINDS, TOPIC_ROOT } from '../topics.ts';
import type { Disposable } from '../../core/dispose.ts';
import { silentLogger, type Logger } from '../../core/log.ts';

/** Handles one message; resolves when it is durably stored. Same contract as MQTT ingestion. */
export type IngestHandler = (topic: string, payload: Uint8Array, properties: { userProperties: Record<string, string> }) => Promise<void>;

export interface JetStreamIngestOptions {
  /** nats://host:port */
  readonly url: string;
  /** Stream name (created when missing, over `linesight.>`). */
  readonly stream?: string;
  /** First subject token (default `linesight`); streams on one server need distinct roots. */
  readonly root?: string;
  /** Durable consumer name: instances sharing it share the work. */
  readonly durable?: string;
  /** Messages in flight before acknowledgements (JetStream's max_ack_pending). */
  readonly maxAckPending?: number;
  readonly handler: IngestHandler;
  readonly log?: Logger;
}

export interface JetStreamIngest extends Disposable {
  /** Messages handed to the handler so far. */
  readonly received: number;
  /** Publish an output (result, decision, alert) on the subject of its topic. */
  publish(topic: string, payload: string): void;
}

/** The input subjects the stream captures: `<root>.*.*.image`, `.sensors`, `.truth`. */
export function inputSubjects(root = DEFAULT_SUBJECT_ROOT): string[] {
  return INPUT_KINDS.map((k) => `${root}.*.*.${k}`);
}

/** `<root>.line1.m1.sensors` -> `linesight/line1/m1/sensors` (the root names the plant's stream). */
export function subjectToTopic(subject: string): string {
  const parts = subject.split('.');
  parts[0] = TOPIC_ROOT;
  return parts.join('/');
}

/** `linesight/line1/m1/sensors` -> `<root>.line1.m1.sensors` (for publishers). */
export function topicToSubject(topic: string, root = DEFAULT_SUBJECT_ROOT): string {
  const parts = topic.split('/');
  parts[0] = root;
  return parts.join('.');
}

/** The first subject token; one JetStream server can hold several plants' streams under different roots. */
export const DEFAULT_SUBJECT_ROOT = 'linesight';

/** Connect, make sure the stream (inputs only) and the durable consumer exist, and start consuming. */
export async function startJetStreamIngest(o: JetStreamIngestOptions): Promise<JetStreamIngest> {
  const log = o.log ?? silentLogger();
  const stream = o.stream ?? 'LINESIGHT';
  const durable = o.durable ?? 'linesight-line';
  const root = o.root ?? DEFAULT_SUBJECT_ROOT;
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: o.url, name: 'linesight-ingest', timeout: 5000 });
  } catch (e) {
    throw new LsError('LS_ERR_BROKER', `NATS at ${o.url}: ${(e as Error).message}`, { subject: o.url, cause: e });
  }
  let messages: ConsumerMessages;
  try {
    const jsm = await nc.jetstreamManager();
    const existing = await jsm.streams.info(stream).catch(() => undefined);
    if (!existing) await jsm.streams.add({ name: stream, subjects: inputSubjects(root) });
    const consumer = await jsm.consumers.info(stream, durable).catch(() => undefined);
    if (!consumer) {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: o.maxAckPending ?? 10_000,
        ack_wait: 30_000_000_000, // ns: a message not acknowledged within 30 s is delivered again
      });
    }
    messages = await (await nc.jetstream().consumers.get(stream, durable)).consume({ max_messages: 1000 });
  } catch (e) {
    await nc.close();
    throw new LsError('LS_ERR_BROKER', `JetStream stream ${stream}: ${(e as Error).message}`, { subject: o.url, cause: e });
  }

  let received = 0;
  const inflight = new Set<Promise<void>>();
  const handle = (m: JsMsg): void => {
    received++;
    const id = m.headers?.get('Nats-Msg-Id');
    const p = o
      .handler(subjectToTopic(m.subject), m.data, { userProperties: id ? { msg_id: id } : {} })
      .then(
        () => m.ack(),
        (e: unknown) => {
          // not stored: ask for redelivery rather than acknowledge
          log.error({ err: (e as Error).message, subject: m.subject }, 'message not stored; it will be redelivered');
          m.nak(1000);
        },
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const loop = (async () => {
    for await (const m of messages) handle(m);
  })().catch((e: unknown) => log.error({ err: (e as Error).message }, 'JetStream consumer stopped'));

  let closed = false;
  return {
    get received() {
      return received;
    },
    publish(topic, payload) {
      if (!closed) nc.publish(topicToSubject(topic, root), payload);
    },
    async dispose() {
      if (closed) return;
      closed = true;
      messages.stop();
      await loop;
      // let the handlers finish and their acknowledgements go out before the connection closes
      await Promise.allSettled([...inflight]);
      await nc.drain();
    },
  };
}
