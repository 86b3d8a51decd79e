/**
 * The embedded MQTT broker (aedes) that `linesight start` runs so one command is enough.
 * Optional authentication/authorisation hooks and TLS come from the security layer.
 */
import net from 'node:net';
import tls from 'node:tls';
import { indexedMemoryPersistence } from './indexed-persistence.mjs';
import { Worker } from 'node:worker_threads';
import { Aedes } from 'aedes';
import { LsError } from '../../core/errors.ts';
import type { Disposable } from '../../core/dispose.ts';

/** A connected MQTT client as the hooks see it. */
export interface BrokerClient {
  readonly id: string;
}

/** Authentication and per-topic authorisation of broker clients. */
export interface BrokerAuth {
  authenticate(client: BrokerClient, username: string | undefined, password: Buffer | undefined): boolean | Promise<boolean>;
  authorizePublish(client: BrokerClient, topic: string): boolean;
  authorizeSubscribe(client: BrokerClient, topic: string): boolean;
}

export interface BrokerOptions {
  readonly port: number;
  readonly host?: string;
  readonly auth?: BrokerAuth;
  /**
   * TLS for the listener. `requestCert` with `ca` asks clients for a certificate (users with
   * allow_cert log in by its CN); `rejectUnauthorized: false` makes it optional, so devices with a
   * password still connect (default true: a client without a valid certificate is refused at the handshake).
   */
  readonly tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer; requestCert?: boolean; rejectUnauthorized?: boolean };
  /** The option a user changes when the port is taken, named in the error (e.g. `--mqtt-port`). */
  readonly portOption?: string;
  /**
   * Run the broker on its own thread (broker-thread.mjs) so its work uses another core; the auth hooks
   * still run here (asked once per connection and once per client and topic). Default false.
   */
  readonly thread?: boolean;
  /**
   * The broker's in-memory session store: `indexed` (default, indexed-persistence.mjs) or `library`
   * (aedes-persistence's own, whose outgoing queue is scanned linearly; kept for the side-by-side
   * benchmark `npm run bench:stream -- --compare-persistence`).
   */
  readonly persistence?: 'indexed' | 'library';
}

export interface EmbeddedBroker extends Disposable {
  /** mqtt://host:port (or mqtts://) clients connect to. */
  readonly url: string;
  readonly port: number;
}

function portInUse(opts: BrokerOptions, host: string): LsError {
  return new LsError('LS_ERR_PORT_IN_USE', `MQTT port ${opts.port} on ${host} is taken${opts.portOption ? `; choose another with ${opts.portOption} <port>, or use an existing broker with --mqtt mqtt://host:port` : ''}`, { subject: String(opts.port) });
}

/** Start aedes on a TCP (or TLS) port; a taken port gives LS_ERR_PORT_IN_USE naming the option. */
export async function startBroker(opts: BrokerOptions): Promise<EmbeddedBroker> {
  if (opts.thread) return startBrokerThread(opts);
  const auth = opts.auth;
  const aedes = await Aedes.createBroker({
    ...(opts.persistence === 'library' ? {} : { persistence: indexedMemoryPersistence() }),
    ...(auth
      ? {
          authenticate: (client, username, password, done) => {
            Promise.resolve(auth.authenticate(client, username, password)).then(
              (ok) => {
                if (ok) return done(null, true);
                const err = Object.assign(new Error('bad username or password'), { returnCode: 4 as const });
                done(err, false);
              },
              () => done(Object.assign(new Error('authentication failed'), { returnCode: 3 as const }), false),
            );
          },
          authorizePublish: (client, packet, done) => {
            if (client && !auth.authorizePublish(client, packet.topic)) return done(new Error(`not allowed to publish on ${packet.topic}`));
            done(null);
          },
          authorizeSubscribe: (client, sub, done) => {
            if (!auth.authorizeSubscribe(client, sub.topic)) return done(new Error(`not allowed to subscribe to ${sub.topic}`));
            done(null, sub);
          },
        }
      : {}),
  });
  const server = opts.tls
    ? tls.createServer({ cert: opts.tls.cert, key: opts.tls.key, ...(opts.tls.ca ? { ca: opts.tls.ca } : {}), requestCert: opts.tls.requestCert ?? false, rejectUnauthorized: opts.tls.rejectUnauthorized ?? true }, aedes.handle)
    : net.createServer(aedes.handle);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(portInUse(opts, host));
      else reject(new LsError('LS_ERR_BROKER', e.message, { cause: e }));
    });
    server.listen(opts.port, host, () => resolve());
  }).catch(async (e: unknown) => {
    await new Promise<void>((r) => aedes.close(() => r()));
    throw e;
  });
  const port = (server.address() as net.AddressInfo).port;
  let closed = false;
  return {
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://${host}:${port}`,
    port,
    async dispose() {
      if (closed) return;
      closed = true;
      await new Promise<void>((r) => aedes.close(() => r()));
      // connected clients are closed by aedes.close; the listener stops accepting new ones
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A connected client of the broker thread, as the auth hooks see it (address and TLS identity copied over). */
interface ProxyClient {
  readonly id: string;
  readonly conn: { remoteAddress?: string; authorized: boolean; getPeerCertificate(): { subject?: { CN?: string } } };
}

type ThreadMessage =
  | { type: 'listening'; port: number }
  | { type: 'error'; code?: string; message: string }
  | { type: 'gone'; key: string }
  | { type: 'closed' }
  | { type: 'ask'; id: number; q: 'authenticate'; key: string; clientId: string; username?: string; password?: Uint8Array; remoteAddress?: string; authorized: boolean; cn?: string }
  | { type: 'ask'; id: number; q: 'publish' | 'subscribe'; key: string; topic: string };

async function startBrokerThread(opts: BrokerOptions): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  const auth = opts.auth;
  const worker = new Worker(new URL('./broker-thread.mjs', import.meta.url), {
    workerData: { port: opts.port, host, auth: Boolean(auth), persistence: opts.persistence ?? 'indexed', ...(opts.tls ? { tls: opts.tls } : {}) },
  });
  const clients = new Map<string, ProxyClient>();
  const answer = (id: number, ok: boolean): void => worker.postMessage({ type: 'answer', id, ok });
  const port = await new Promise<number>((resolve, reject) => {
    worker.on('message', (m: ThreadMessage) => {
      if (m.type === 'listening') resolve(m.port);
      else if (m.type === 'error') reject(m.code === 'EADDRINUSE' ? portInUse(opts, host) : new LsError('LS_ERR_BROKER', m.message));
      else if (m.type === 'gone') clients.delete(m.key);
      else if (m.type === 'ask') {
        if (!auth) return answer(m.id, true);
        if (m.q === 'authenticate') {
          const cn = m.cn;
          const client: ProxyClient = { id: m.clientId, conn: { ...(m.remoteAddress ? { remoteAddress: m.remoteAddress } : {}), authorized: m.authorized, getPeerCertificate: () => (cn ? { subject: { CN: cn } } : {}) } };
          clients.set(m.key, client);
          Promise.resolve(auth.authenticate(client, m.username, m.password ? Buffer.from(m.password) : undefined)).then(
            (ok) => answer(m.id, ok),
            () => answer(m.id, false),
          );
        } else {
          const client = clients.get(m.key);
          answer(m.id, Boolean(client && (m.q === 'publish' ? auth.authorizePublish(client, m.topic) : auth.authorizeSubscribe(client, m.topic))));
        }
      }
    });
    worker.once('error', (e) => reject(new LsError('LS_ERR_BROKER', e.message, { cause: e })));
  }).catch(async (e: unknown) => {
    await worker.terminate();
    throw e;
  });
  let closed = false;
  return {
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://${host}:${port}`,
    port,
    async dispose() {
      if (closed) return;
      closed = true;
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      worker.postMessage({ type: 'close' });
      await exited;
    },
  };
}
