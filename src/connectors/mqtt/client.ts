/**
 * MQTT client side (mqtt.js): connecting with clear errors, and a QoS 1 subscriber whose PUBACKs
 * wait until the message is durably handled. mqtt.js handles incoming packets one at a time and
 * sends the PUBACK as soon as `handleMessage` calls back; waiting there would stall the stream at one
 * store commit per message. So the subscriber lets the pump go on at once and holds each PUBACK back
 * until that message's handler promise resolves, sending PUBACKs in arrival order (MQTT 3.1.1 §4.6).
 * Many messages are in flight, a micro-batch commits them in one transaction, then all are acknowledged.
 * A message whose handling fails is never acknowledged: the connection is dropped so the broker
 * redelivers it (persistent session, clean: false).
 */
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { LsError } from '../../core/errors.ts';
import type { Disposable } from '../../core/dispose.ts';

/**
 * Connect and wait for CONNACK; LS_ERR_BROKER (naming the URL) when the broker cannot be reached.
 * `beforeConnect` runs on the client before the CONNECT goes out: a resumed persistent session
 * delivers its queued messages right after CONNACK, so message handling must be in place first.
 */
export async function connectMqtt(url: string, opts: IClientOptions = {}, timeoutMs = 10_000, beforeConnect?: (client: MqttClient) => void): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 1000, connectTimeout: timeoutMs, ...opts, manualConnect: true });
  beforeConnect?.(client);
  client.connect();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  } catch (e) {
    // mqtt.js schedules a reconnect from the 'close' that follows a failed handshake even after
    // end(true), and that timer kept a failed `linesight start` alive forever: no reconnects first
    client.options.reconnectPeriod = 0;
    client.end(true);
    throw new LsError('LS_ERR_BROKER', `${url}: ${(e as Error).message}`, { subject: url, cause: e });
  }
  return client;
}

/** Handles one message; resolves when it is durably stored (then it is acknowledged). */
export type DurableHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => Promise<void>;

type SendPacket = (packet: Packet, cb?: () => void, cbStorePut?: () => void, noStore?: boolean) => void;

export interface AckingSubscriber extends Disposable {
  readonly client: MqttClient;
  /** Messages received whose PUBACK has not been sent yet. */
  readonly pendingAcks: number;
}

/** Held acknowledgements of a client, installed by `installDurableAcks`. */
export interface DurableAcks {
  readonly pending: number;
  /** Resolves when every acknowledgement decided so far has been sent (or dropped). */
  settled(): Promise<void>;
  close(): void;
}

/**
 * Make `client` acknowledge each QoS 1 message only after `handler` resolved for it. Install it
 * before connecting (see connectMqtt's beforeConnect): with `clean: false` and a fixed `clientId`
 * the broker redelivers everything unacknowledged after a crash, right after CONNACK.
 */
export function installDurableAcks(client: MqttClient, handler: DurableHandler, opts: { onHandlerError?: (e: unknown, topic: string) => void } = {}): DurableAcks {
  const held = new Map<number, Promise<void>>();
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  let closed = false;
  const internal = client as unknown as { _sendPacket: SendPacket; handleMessage: (p: IPublishPacket, cb: (err?: Error) => void) => void };
  const send = internal._sendPacket.bind(client);

  internal.handleMessage = (packet, cb) => {
    let done: Promise<void>;
    try {
      done = handler(packet.topic, packet.payload as Buffer, packet);
    } catch (e) {
      done = Promise.reject(e);
    }
    if (packet.qos > 0 && packet.messageId !== undefined) {
      held.set(packet.messageId, done);
      pending++;
    } else {
      done.catch((e: unknown) => opts.onHandlerError?.(e, packet.topic));
    }
    cb();
  };

  internal._sendPacket = (packet, cb, cbStorePut, noStore) => {
    const id = (packet as { messageId?: number }).messageId;
    if (packet.cmd !== 'puback' || id === undefined || !held.has(id)) return send(packet, cb, cbStorePut, noStore);
    const done = held.get(id)!;
    held.delete(id);
    const conn = client.stream;
    chain = chain.then(
      () =>
        done.then(
          () => {
            pending--;
            // an acknowledgement for a connection that has since dropped is meaningless: the broker redelivers
            if (!closed && client.stream === conn && client.connected) send(packet);
          },
          (e: unknown) => {
            pending--;
            opts.onHandlerError?.(e, String(id));
            // never acknowledge what was not stored: drop the connection so the broker redelivers it
            if (!closed && client.stream === conn) conn.destroy();
          },
        ),
    );
    cb?.();
  };

  return {
    get pending() {
      return pending;
    },
    settled: () => chain.catch(() => undefined),
    close: () => {
      closed = true;
    },
  };
}

/** Subscribe (QoS 1) a client whose durable acknowledgements are installed; dispose sends the last acks and disconnects. */
export async function subscribeDurable(client: MqttClient, acks: DurableAcks, topics: readonly string[]): Promise<AckingSubscriber> {
  await new Promise<void>((resolve, reject) => {
    client.subscribe([...topics], { qos: 1 }, (err, granted) => {
      if (err) return reject(new LsError('LS_ERR_BROKER', `subscribe failed: ${err.message}`, { cause: err }));
      const refused = granted?.find((g) => g.qos === 128);
      if (refused) return reject(new LsError('LS_ERR_BROKER', `the broker refused the subscription to ${refused.topic}`));
      resolve();
    });
  });

  let closed = false;
  return {
    client,
    get pendingAcks() {
      return acks.pending;
    },
    async dispose() {
      if (closed) return;
      closed = true;
      // let the acknowledgements of everything already stored go out before closing
      await acks.settled();
      acks.close();
      await client.endAsync();
    },
  };
}
