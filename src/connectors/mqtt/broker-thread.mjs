// The embedded MQTT broker (aedes) on its own thread, so broker work uses the second core instead of
// competing with ingestion on the main thread. Plain JavaScript because worker threads do not
// inherit the TypeScript loader of the CLI. Authentication and authorisation stay on the main thread
// (the security layer's hooks): the broker asks once per connection and once per (client, topic).
// workerData: { port, host, tls?, auth: boolean, persistence: 'indexed' | 'library' }.
// To main: { type: 'listening', port } | { type: 'error', code, message } | { type: 'ask', id, q, ... } | { type: 'gone', key } | { type: 'closed' }.
// From main: { type: 'answer', id, ok } | { type: 'close' }.
import net from 'node:net';
import tls from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import { Aedes } from 'aedes';
import { indexedMemoryPersistence } from './indexed-persistence.mjs';

const waiting = new Map();
let seq = 0;
const ask = (q) =>
  new Promise((resolve) => {
    const id = seq++;
    waiting.set(id, resolve);
    parentPort.postMessage({ type: 'ask', id, ...q });
  });

const keys = new WeakMap();
const decisions = new Map();

function check(client, kind, topic) {
  const key = keys.get(client);
  if (key === undefined) return Promise.resolve(false);
  let d = decisions.get(key);
  if (!d) decisions.set(key, (d = new Map()));
  const k = `${kind}\u0000${topic}`;
  const known = d.get(k);
  if (known !== undefined) return Promise.resolve(known);
  return ask({ q: kind, key, topic }).then((ok) => {
    d.set(k, ok);
    return ok;
  });
}

const hooks = workerData.auth
  ? {
      authenticate(client, username, password, done) {
        const key = `${client.id}#${seq++}`;
        keys.set(client, key);
        const conn = client.conn;
        const tlsConn = conn && typeof conn.getPeerCertificate === 'function' ? conn : undefined;
        const cn = tlsConn && tlsConn.authorized ? tlsConn.getPeerCertificate()?.subject?.CN : undefined;
        ask({
          q: 'authenticate', key, clientId: client.id, username,
          password: password === undefined || password === null ? undefined : new Uint8Array(password),
          remoteAddress: conn?.remoteAddress, authorized: Boolean(tlsConn?.authorized), cn: Array.isArray(cn) ? cn[0] : cn,
        }).then((ok) => (ok ? done(null, true) : done(Object.assign(new Error('bad username or password'), { returnCode: 4 }), false)));
      },
      authorizePublish(client, packet, done) {
        // aedes publishes its own $SYS and will messages with a null client
        if (!client) return done(null);
        check(client, 'publish', packet.topic).then((ok) => done(ok ? null : new Error(`not allowed to publish on ${packet.topic}`)));
      },
      authorizeSubscribe(client, sub, done) {
        check(client, 'subscribe', sub.topic).then((ok) => done(ok ? null : new Error(`not allowed to subscribe to ${sub.topic}`), ok ? sub : null));
      },
    }
  : {};

const aedes = await Aedes.createBroker({ ...(workerData.persistence === 'library' ? {} : { persistence: indexedMemoryPersistence() }), ...hooks });
aedes.on('clientDisconnect', (client) => {
  const key = keys.get(client);
  if (key === undefined) return;
  decisions.delete(key);
  parentPort.postMessage({ type: 'gone', key });
});
const t = workerData.tls;
const server = t ? tls.createServer({ cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}), requestCert: Boolean(t.requestCert), rejectUnauthorized: t.rejectUnauthorized ?? true }, aedes.handle) : net.createServer(aedes.handle);
server.once('error', (e) => {
  parentPort.postMessage({ type: 'error', code: e.code, message: e.message });
  aedes.close(() => parentPort.close());
});
server.listen(workerData.port, workerData.host, () => parentPort.postMessage({ type: 'listening', port: server.address().port }));

parentPort.on('message', (m) => {
  if (m.type === 'answer') {
    waiting.get(m.id)?.(Boolean(m.ok));
    waiting.delete(m.id);
  } else if (m.type === 'close') {
    aedes.close(() =>
      server.close(() => {
        parentPort.postMessage({ type: 'closed' });
        parentPort.close();
      }),
    );
  }
});
