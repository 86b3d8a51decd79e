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
import { writeFixtureRepo } from './line-fixtures.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-start-tls-'));
const repo = writeFixtureRepo(dir);
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
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
});
