/**
 * MQTT connectors against real brokers: the embedded aedes broker (port in use, authentication and
 * topic authorisation hooks) and the acknowledge-after-commit subscriber (a message whose handling
 * fails is not acknowledged and comes back; acknowledgements go out only after the handler resolves).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startBroker, type EmbeddedBroker } from '../../src/connectors/mqtt/broker.ts';
import { connectMqtt, installDurableAcks, subscribeDurable } from '../../src/connectors/mqtt/client.ts';
import { contentMsgId, sniffImageType, userProps } from '../../src/connectors/payloads.ts';
import { parseTopic, topicFor } from '../../src/connectors/topics.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

async function brokerOf(opts: Partial<Parameters<typeof startBroker>[0]> = {}): Promise<EmbeddedBroker> {
  const b = await startBroker({ port: 0, ...opts });
  cleanup.push(() => b.dispose());
  return b;
}

describe('topics and payload helpers', () => {
  it('parses and builds the topic scheme', () => {
    expect(parseTopic('linesight/line1/cam1/image')).toEqual({ line: 'line1', source: 'cam1', kind: 'image' });
    expect(parseTopic('linesight/line1/cam1')).toBeUndefined();
    expect(parseTopic('other/line1/cam1/image')).toBeUndefined();
    expect(topicFor('l', 'm1', 'decision')).toBe('linesight/l/m1/decision');
  });

  it('derives stable message ids and image types', () => {
    const a = contentMsgId('t', new Uint8Array([1, 2]));
    expect(contentMsgId('t', new Uint8Array([1, 2]))).toBe(a);
    expect(contentMsgId('t', new Uint8Array([1, 3]))).not.toBe(a);
    expect(sniffImageType(new Uint8Array([0xff, 0xd8, 0xff]))).toBe('image/jpeg');
    expect(sniffImageType(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBe('image/png');
    expect(sniffImageType(new Uint8Array([1, 2, 3]))).toBeUndefined();
    expect(userProps({ a: ['x', 'y'], b: 'z' })).toEqual({ a: 'x', b: 'z' });
  });
});

for (const thread of [false, true]) describe(`embedded broker${thread ? ' on its own thread' : ''}`, () => {
  const broker = (opts: Partial<Parameters<typeof startBroker>[0]> = {}) => brokerOf({ thread, ...opts });
  it('names the port and the option when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => blocker.close(r)));
    const port = (blocker.address() as net.AddressInfo).port;
    await expect(startBroker({ port, portOption: '--mqtt-port', thread })).rejects.toMatchObject({ code: 'LS_ERR_PORT_IN_USE', message: expect.stringMatching(new RegExp(`${port}.*--mqtt-port`)) });
  });

  it('enforces authentication and topic authorisation hooks', async () => {
    const b = await broker({
      auth: {
        authenticate: (_c, u, p) => u === 'cam' && p?.toString() === 'secret',
        authorizePublish: (_c, t) => t.startsWith('linesight/line1/cam1/'),
        authorizeSubscribe: (_c, t) => !t.startsWith('#'),
      },
    });
    await expect(connectMqtt(b.url, { username: 'cam', password: 'wrong', reconnectPeriod: 0 }, 3000)).rejects.toMatchObject({ code: 'LS_ERR_BROKER' });
    const ok = await connectMqtt(b.url, { username: 'cam', password: 'secret' });
    cleanup.push(() => ok.endAsync());
    const got: string[] = [];
    const sub = await connectMqtt(b.url, { username: 'cam', password: 'secret' });
    cleanup.push(() => sub.endAsync());
    await sub.subscribeAsync('linesight/#', { qos: 1 });
    sub.on('message', (t) => got.push(t));
    await ok.publishAsync('linesight/line1/cam1/image', 'a', { qos: 0 });
    await ok.publishAsync('linesight/line1/cam1/truth', 'c', { qos: 0 });
    // MQTT 3.1.1 has no negative PUBACK: aedes drops the message (and the connection of the offender)
    await ok.publishAsync('linesight/line1/cam2/image', 'b', { qos: 0 }).catch(() => undefined);
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['linesight/line1/cam1/image', 'linesight/line1/cam1/truth']);
  });

  it('serves MQTT over TLS (mqtts) with the given certificate', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-mqtts-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const cert = readFileSync(path.join(dir, 'cert.pem'));
    const b = await broker({ tls: { cert, key: readFileSync(path.join(dir, 'key.pem')) } });
    expect(b.url).toMatch(/^mqtts:\/\//);
    const c = await connectMqtt(b.url, { ca: cert, reconnectPeriod: 0 });
    cleanup.push(() => c.endAsync());
    await c.subscribeAsync('t', { qos: 1 });
    const got = new Promise<string>((r) => c.once('message', (_t, p) => r(p.toString())));
    await c.publishAsync('t', 'over tls', { qos: 1 });
    expect(await got).toBe('over tls');
    // a client that does not trust the certificate is refused
    await expect(connectMqtt(b.url, { reconnectPeriod: 0 }, 3000)).rejects.toMatchObject({ code: 'LS_ERR_BROKER' });
  });

  it('refuses a connection to a broker that is not there with LS_ERR_BROKER', async () => {
    await expect(connectMqtt('mqtt://127.0.0.1:1', { reconnectPeriod: 0 }, 2000)).rejects.toMatchObject({ code: 'LS_ERR_BROKER' });
  });
});

describe('acknowledge after commit', () => {
  it('acknowledges only handled messages; a failed one is redelivered to the persistent session', async () => {
    const b = await brokerOf();
    const seen: string[] = [];
    let failOnce = true;
    const releases: Array<() => void> = [];
    const clientId = `durable-${process.pid}`;
    const start = async () => {
      let acks: ReturnType<typeof installDurableAcks> | undefined;
      const c = await connectMqtt(b.url, { clientId, clean: false, protocolVersion: 4 }, 5000, (cl) => {
        acks = installDurableAcks(cl, async (_t, payload) => {
          const s = payload.toString();
          seen.push(s);
          if (s === 'bad' && failOnce) {
            failOnce = false;
            throw new Error('store down');
          }
          // hold the acknowledgement until the test releases it
          if (s === 'slow') await new Promise<void>((r) => releases.push(r));
        });
      });
      return subscribeDurable(c, acks!, ['t/#']);
    };
    const s1 = await start();
    const pub = await mqtt.connectAsync(b.url, { clientId: 'pub' });
    cleanup.push(() => pub.endAsync());
    await pub.publishAsync('t/1', 'slow', { qos: 1 });
    for (let i = 0; i < 100 && releases.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s1.pendingAcks).toBe(1);
    releases.shift()!();
    for (let i = 0; i < 100 && s1.pendingAcks > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s1.pendingAcks).toBe(0);
    // a failed handler is not acknowledged: the client drops the connection, reconnects, and the broker redelivers
    await pub.publishAsync('t/1', 'bad', { qos: 1 });
    for (let i = 0; i < 300 && seen.filter((x) => x === 'bad').length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen.filter((x) => x === 'bad')).toHaveLength(2);
    await s1.dispose();
  });
});
