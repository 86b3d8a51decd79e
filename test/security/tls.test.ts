/** TLS and mutual TLS for HTTP and MQTT with a lab CA made by openssl (the recipe of docs/security.md). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import Fastify from 'fastify';
import { loadTls, tlsFromFlags, type TlsMaterial } from '../../src/security/tls.ts';
import { MqttAuth, setFileUser } from '../../src/security/mqtt-auth.ts';
import { startBroker } from '../../src/connectors/mqtt/broker.ts';
import { tempDir } from './helpers.ts';
import { makeLabPki } from '../helpers/lab-pki.ts';

function get(url: string, opts: https.RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ...opts, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS', () => {
  let tmp: ReturnType<typeof tempDir>;
  const f = (n: string) => path.join(tmp.dir, n);
  beforeAll(() => {
    tmp = tempDir();
    makeLabPki(tmp.dir);
  });
  afterAll(() => tmp.cleanup());

  it('refuses a missing file, a key that does not match, and half the flags', async () => {
    await expect(loadTls({ cert: f('nope.crt'), key: f('server.key') })).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
    await expect(loadTls({ cert: f('server.crt'), key: f('client.key') })).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG', message: expect.stringMatching(/do not work together/) });
    await expect(tlsFromFlags({ tlsCert: f('server.crt') })).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
    await expect(tlsFromFlags({ tlsCa: f('ca.crt') })).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
    expect(await tlsFromFlags({})).toBeUndefined();
  });

  it('HTTPS with mutual TLS: a client without a certificate is refused at the handshake, one with a CA-signed certificate gets in', async () => {
    const tls: TlsMaterial = (await tlsFromFlags({ tlsCert: f('server.crt'), tlsKey: f('server.key'), tlsCa: f('ca.crt') }))!;
    expect(tls.requestCert).toBe(true);
    const app = Fastify({ https: tls });
    app.get('/x', async () => 'ok');
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const ca = readFileSync(f('ca.crt'));
      await expect(get(`${url}/x`, { ca })).rejects.toThrow();
      expect(await get(`${url}/x`, { ca, cert: readFileSync(f('client.crt')), key: readFileSync(f('client.key')) })).toBe(200);
      // and the server certificate is checked by clients: without the lab CA the connection fails
      await expect(get(`${url}/x`, { cert: readFileSync(f('client.crt')), key: readFileSync(f('client.key')) })).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    } finally {
      await app.close();
    }
  });

  it('MQTT over TLS: a device logs in with its client certificate (CN = user) and stays inside its ACL', async () => {
    const users = f('mqtt-users.json');
    await setFileUser(users, { username: 'camA', allow_cert: true, publish: ['linesight/lineA'], subscribe: ['linesight/lineA'] });
    const tls = (await loadTls({ cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') }));
    const broker = await startBroker({ port: 0, auth: await MqttAuth.fromFile(users), tls });
    try {
      const opts = { ca: readFileSync(f('ca.crt')), cert: readFileSync(f('client.crt')), key: readFileSync(f('client.key')), reconnectPeriod: 0, connectTimeout: 5000 };
      const c = await connectAsync(broker.url, opts);
      const granted = await c.subscribeAsync('linesight/lineA/#');
      expect(granted.map((g) => g.qos)).toEqual([0]);
      await c.endAsync(true);
      // without a client certificate the TLS handshake already fails
      await expect(connectAsync(broker.url, { ca: opts.ca, reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow();
    } finally {
      await broker.dispose();
    }
  });
});
