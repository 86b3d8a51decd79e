/**
 * `linesight start --tls-cert/--tls-key`: HTTPS and MQTT over TLS on the embedded broker, with the
 * line's own clients connected, and plain or anonymous connections refused.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFixtureRepo, HEALTHY_VALUES } from './line-fixtures.ts';
import { makeLabPki } from '../helpers/lab-pki.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-start-tls-'));
const repo = writeFixtureRepo(dir);
let child: ChildProcess | undefined;
let child2: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  child2?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function connectError(url: string, opts: mqtt.IClientOptions): Promise<string> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => {
      c.end(true);
      resolve('connected');
    });
    c.once('error', (e) => {
      c.end(true);
      resolve(e.message);
    });
    c.once('close', () => resolve('closed'));
  });
}

describe('linesight start with TLS', () => {
  it('serves HTTPS and MQTT over TLS; the simulator and the line still flow', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const data = path.join(dir, 'data');
    child = spawn(process.execPath, ['bin/linesight.mjs', 'start', '--port', '0', '--mqtt-port', '0', '--data', data, '--repo', repo, '--rate', '10', '--sensor-rate', '20', '--no-status', '--images', 'samples/neu', '--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    await until(() => out.includes('LineSight is running'), `start: ${out.slice(-500)}`);
    const url = /dashboard: (https:\/\/[^\s/]+)\//.exec(out)?.[1];
    const mqttUrl = /MQTT:\s+(mqtts:\/\/\S+)/.exec(out)?.[1];
    expect(url, out).toBeDefined();
    expect(mqttUrl, out).toBeDefined();
    const ca = readFileSync(path.join(dir, 'cert.pem'));
    const dispatcher = new Agent({ connect: { ca, servername: 'localhost' } });
    const token = readFileSync(path.join(data, 'admin-token'), 'utf8').trim();
    let total = 0;
    await until(async () => {
      const r = await request(`${url}/v1/line/summary`, { dispatcher, headers: { authorization: `Bearer ${token}` } });
      total = ((await r.body.json()) as { stations: Array<{ total: number }> }).stations[0]?.total ?? 0;
      return total >= 3;
    }, 'parts flowing over the TLS broker');
    expect(total).toBeGreaterThanOrEqual(3);
    // MQTT: TLS with the CA but no credentials is refused by the broker; plain TCP to the TLS port fails
    const port = new URL(mqttUrl!).port;
    expect(await connectError(`mqtts://localhost:${port}`, { ca })).toMatch(/not authorized|bad user|refused|closed/i);
    expect(await connectError(`mqtt://127.0.0.1:${port}`, {})).not.toBe('connected');
    await dispatcher.close();
  });

  it('with --tls-ca: HTTPS wants a client certificate, and a device logs in to the embedded broker by its certificate alone, inside its ACL', async () => {
    const pki = path.join(dir, 'pki');
    execFileSync('mkdir', ['-p', pki]);
    makeLabPki(pki, 'camA');
    const f = (n: string) => path.join(pki, n);
    const data = path.join(dir, 'data-mtls');
    // camA: certificate only (no password), may publish on line1 only
    execFileSync(process.execPath, ['bin/linesight.mjs', 'tokens', 'mqtt-user', 'add', 'camA', '--cert', '--publish', 'linesight/line1', '--data', data], { stdio: 'pipe' });
    child2 = spawn(process.execPath, ['bin/linesight.mjs', 'start', '--port', '0', '--mqtt-port', '0', '--data', data, '--repo', repo, '--no-simulator', '--no-status', '--tls-cert', f('server.crt'), '--tls-key', f('server.key'), '--tls-ca', f('ca.crt')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child2.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child2.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    await until(() => out.includes('LineSight is running'), `start: ${out.slice(-500)}`);
    const url = /dashboard: (https:\/\/[^\s/]+)\//.exec(out)?.[1];
    const port = new URL(/MQTT:\s+(mqtts:\/\/\S+)/.exec(out)![1]!).port;
    const ca = readFileSync(f('ca.crt'));
    const cert = readFileSync(f('client.crt'));
    const key = readFileSync(f('client.key'));
    const token = readFileSync(path.join(data, 'admin-token'), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}` };

    // HTTPS: a valid token is not enough without a client certificate
    const bare = new Agent({ connect: { ca, servername: 'localhost' } });
    await expect(request(`${url}/v1/line/summary`, { dispatcher: bare, headers }).then((r) => r.statusCode)).rejects.toThrow();
    await bare.close();

    // MQTT: the certificate is the login; the line stores what camA publishes on line1
    const c = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ca, cert, key, protocolVersion: 4, reconnectPeriod: 0 });
    const values = HEALTHY_VALUES;
    for (let i = 0; i < 5; i++) await c.publishAsync('linesight/line1/m1/sensors', JSON.stringify({ ts: Date.now(), msg_id: `mtls-${i}`, type: 'L', values }), { qos: 1 });
    await c.endAsync();
    const withCert = new Agent({ connect: { ca, cert, key, servername: 'localhost' } });
    let readings = 0;
    await until(async () => {
      const r = await request(`${url}/v1/machines/m1/history?minutes=60`, { dispatcher: withCert, headers });
      readings = ((await r.body.json()) as { points?: unknown[] }).points?.length ?? 0;
      return readings >= 5;
    }, 'readings published with a client certificate');
    expect(readings).toBe(5);
    await withCert.close();

    // outside its ACL the broker drops the connection; without a certificate and password nobody logs in
    const outside = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ca, cert, key, protocolVersion: 4, reconnectPeriod: 0 });
    const dropped = new Promise<string>((resolve) => outside.once('close', () => resolve('closed')));
    outside.publish('linesight/line2/m1/sensors', '{}', { qos: 1 });
    expect(await dropped).toBe('closed');
    outside.end(true);
    expect(await connectError(`mqtts://localhost:${port}`, { ca })).toMatch(/not authorized|bad user|refused|closed/i);
    child2.kill('SIGINT');
  });
});
