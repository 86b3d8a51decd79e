/**
 * LineSight on an external broker (the real Mosquitto, MQTT 5): camera frames as binary JPEG with
 * `part_id` user properties, results published back, and a machine alert calling a webhook.
 * Fails in CI when Mosquitto is missing; skipped with a reason otherwise.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { startLine, type RunningLine } from '../../src/line/app.ts';
import { parseLineConfig } from '../../src/line/line-config.ts';
import { writeFixtureRepo } from './line-fixtures.ts';

const BROKER = process.env.LINESIGHT_TEST_MQTT ?? 'mqtt://127.0.0.1:1883';
const up = await new Promise<boolean>((resolve) => {
  const u = new URL(BROKER);
  const s = net.connect(Number(u.port || 1883), u.hostname);
  s.once('connect', () => (s.destroy(), resolve(true)));
  s.once('error', () => resolve(false));
});
if (!up && process.env.CI) throw new Error(`Mosquitto is required in CI but not reachable at ${BROKER}`);

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-v5-'));
const lineId = `v5${process.pid}`;
const clientId = `ls-v5-${process.pid}-${Date.now().toString(36)}`;
let line: RunningLine;
let pub: MqttClient;
let hook: http.Server;
const hooked: unknown[] = [];

beforeAll(async () => {
  if (!up) return;
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hooked.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  const hookUrl = `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/alert`;
  const config = parseLineConfig({
    machine_defaults: {
      model: 'machine-failure',
      features: {
        'Air temperature [K]': { value: 'air_temperature_k' },
        'Process temperature [K]': { value: 'process_temperature_k' },
        'Rotational speed [rpm]': { value: 'rotational_speed_rpm' },
        'Torque [Nm]': { value: 'torque_nm', reference: 40 },
        'Tool wear [min]': { value: 'tool_wear_min', reference: 108 },
      },
      rule: { type: 'threshold', above: 0.5 },
      actions: [{ do: 'alert', severity: 'critical' }, { do: 'webhook', url: hookUrl }],
    },
    lines: [{ id: lineId, stations: [{ id: 'cam1', model: 'steel-surface' }], machines: [{ id: 'm1' }] }],
  });
  line = await startLine({ repoDir: writeFixtureRepo(dir), line: config, db: path.join(dir, 'l.db'), port: 0, mqttUrl: BROKER, clientId, simulator: false, dashboard: false });
  pub = await mqtt.connectAsync(BROKER, { clientId: `${clientId}-pub`, protocolVersion: 5 });
});

afterAll(async () => {
  await pub?.endAsync();
  await line?.dispose();
  if (hook) await new Promise((r) => hook.close(r));
  if (up) {
    const c = await mqtt.connectAsync(BROKER, { clientId, clean: true, protocolVersion: 5, properties: { sessionExpiryInterval: 0 } });
    await c.endAsync();
  }
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!up)('MQTT 5 on Mosquitto', () => {
  it('inspects binary images sent with user properties and publishes the result', async () => {
    const results: Array<Record<string, unknown>> = [];
    const sub = await mqtt.connectAsync(BROKER, { clientId: `${clientId}-sub`, protocolVersion: 5 });
    await sub.subscribeAsync(`linesight/${lineId}/cam1/result`, { qos: 1 });
    sub.on('message', (_t, p) => results.push(JSON.parse(p.toString()) as Record<string, unknown>));
    const jpeg = readFileSync('samples/neu/patches/patches_11.jpg');
    await pub.publishAsync(`linesight/${lineId}/cam1/image`, jpeg, { qos: 1, properties: { userProperties: { part_id: 'V5-1', ts: '1700000000000' } } });
    const part = await until(() => line.store.getPart('V5-1'), 'the part');
    expect(part.ts).toBe(1_700_000_000_000);
    expect(Buffer.from((await line.store.getPartImage('V5-1'))!.bytes).equals(jpeg)).toBe(true);
    await until(async () => results.length > 0 || undefined, 'the result message');
    expect(results[0]).toMatchObject({ part_id: 'V5-1', label: part.label, decision: part.decision });
    await sub.endAsync();
  });

  it('calls the webhook of a machine alert with its explanation', async () => {
    await pub.publishAsync(`linesight/${lineId}/m1/sensors`, JSON.stringify({ msg_id: 'v5-r1', values: { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 75, tool_wear_min: 240 } }), { qos: 1 });
    const h = await until(async () => hooked.find((x) => (x as { type: string }).type === 'alert') as { type: string; source: string; contributions: Array<{ feature: string }> } | undefined, 'the webhook');
    expect(h).toMatchObject({ type: 'alert', source: 'm1' });
    expect(h.contributions.map((c) => c.feature).sort()).toEqual(['Tool wear [min]', 'Torque [Nm]']);
    // one call per alert: the decision of the same reading does not call the webhook again
    await new Promise((r) => setTimeout(r, 200));
    expect(hooked).toHaveLength(1);
  });
});
