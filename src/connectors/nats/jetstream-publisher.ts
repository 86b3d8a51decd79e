/**
 * Publishing line inputs (camera frames as the JSON envelope, sensor readings, true labels) to NATS
 * JetStream, for the simulator and for gateways. The message's `msg_id` becomes `Nats-Msg-Id`, so
 * JetStream drops a re-sent message and LineSight stores it once.
 */
import { connect, headers, type JetStreamClient, type NatsConnection } from 'nats';
import { LsError } from '../../core/errors.ts';
import type { Disposable } from '../../core/dispose.ts';
import { DEFAULT_SUBJECT_ROOT, topicToSubject } from './jetstream-ingest.ts';

export interface JetStreamPublisher extends Disposable {
  /** Publish on the subject of `topic`; resolves when JetStream stored it. */
  publish(topic: string, payload: string | Uint8Array, opts?: { properties?: { userProperties?: Record<string, string> } }): Promise<void>;
  /** Messages JetStream refused or could not store. */
  readonly failed: number;
}

/** The message id of a payload: the `msg_id` user property, else `msg_id` in a JSON payload. */
export function messageIdOf(payload: string | Uint8Array, props?: Record<string, string>): string | undefined {
  if (props?.msg_id) return props.msg_id;
  const text = typeof payload === 'string' ? payload : payload[0] === 0x7b ? Buffer.from(payload).toString('utf8') : undefined;
  if (!text) return undefined;
  try {
    const v = (JSON.parse(text) as { msg_id?: unknown }).msg_id;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function connectJetStreamPublisher(url: string, root = DEFAULT_SUBJECT_ROOT): Promise<JetStreamPublisher> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name: 'linesight-publisher', timeout: 5000 });
  } catch (e) {
    throw new LsError('LS_ERR_BROKER', `NATS at ${url}: ${(e as Error).message}`, { subject: url, cause: e });
  }
  const js: JetStreamClient = nc.jetstream();
  let failed = 0;
  const inflight = new Set<Promise<void>>();
  return {
    get failed() {
      return failed;
    },
    publish(topic, payload, opts) {
      const id = messageIdOf(payload, opts?.properties?.userProperties);
      const h = headers();
      if (id) h.set('Nats-Msg-Id', id);
      const p = js
        .publish(topicToSubject(topic, root), typeof payload === 'string' ? new TextEncoder().encode(payload) : payload, { headers: h })
        .then(
          () => undefined,
          () => {
            failed++;
          },
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
      return p;
    },
    async dispose() {
      await Promise.allSettled([...inflight]);
      await nc.drain();
    },
  };
}
