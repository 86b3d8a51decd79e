/**
 * Nothing acknowledged is lost: LineSight runs as a child process against the real Mosquitto on
 * 127.0.0.1:1883 with a persistent session (clean: false, fixed client id, QoS 1). 10,000 readings
 * are published; LineSight is killed with SIGKILL mid-stream and restarted; every reading must be
 * stored exactly once (count and distinct message ids). Then a backlog published while LineSight is
 * stopped must be stored once it starts again. Publishing is paced so the broker's queue
 * for the session stays under Mosquitto's default max_queued_messages (1000): beyond it Mosquitto
 * itself drops QoS 1 messages, which no subscriber can prevent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { writeFixtureRepo } from './line-fixtures.ts';

const BROKER = process.env.LINESIGHT_TEST_MQTT ?? 'mqtt://127.0.0.1:1883';
const TOTAL = 10_000;
const CHUNK = 250;

async function brokerUp(): Promise<boolean> {
  const u = new URL(BROKER);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port || 1883), u.hostname);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.setTimeout(2000, () => (s.destroy(), resolve(false)));
  });
}

const up = await brokerUp();
if (!up && process.env.CI) throw new Error(`Mosquitto is required in CI but not reachable at ${BROKER}`);

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-dur-'));
const lineId = `dur${process.pid}`;
const clientId = `ls-dur-${process.pid}-${Date.now().toString(36)}`;
const db = path.join(dir, 'line.db');
let child: ChildProcess | undefined;

function startChild(): Promise<ChildProcess> {
  const repo = path.join(dir, 'models');
  const c = spawn(process.execPath, ['bin/linesight.mjs', 'start', '--mqtt', BROKER, '--no-simulator', '--port', '0', '--insecure-no-auth', '--no-status',
    '--data', path.join(dir, 'data'), '--db', db, '--line', path.join(dir, 'line.yaml'), '--repo', repo, '--client-id', clientId], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    c.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('LineSight is running')) resolve(c);
    });
    c.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    c.once('exit', (code) => reject(new Error(`LineSight exited (${code}) before it was ready: ${err.slice(-2000)}`)));
  });
}

function storedCount(): { n: number; distinct: number } {
  // a second connection on the WAL database reads what the child committed
  const s = new SqliteStore({ file: db });
  try {
    const r = (s as unknown as { db: { prepare(q: string): { get(): { n: number; d: number } } } }).db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT msg_id) AS d FROM readings').get();
    return { n: r.n, distinct: r.d };
  } finally {
    void s.dispose();
  }
}

async function waitFor(pred: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterAll(async () => {
  child?.kill('SIGKILL');
  if (up) {
    // remove the persistent session this test created on the shared broker
    const c = await mqtt.connectAsync(BROKER, { clientId, clean: true, protocolVersion: 5, properties: { sessionExpiryInterval: 0 } });
    await c.endAsync();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!up)('durability with a real Mosquitto broker', () => {
  it('stores every reading exactly once across a kill -9 and restart', async () => {
    writeFixtureRepo(dir);
    writeFileSync(path.join(dir, 'line.yaml'), `
sensor_batch: { max_size: 256, max_delay_ms: 2 }
machine_defaults:
  model: machine-failure
  features:
    "Air temperature [K]": { value: air_temperature_k }
    "Process temperature [K]": { value: process_temperature_k }
    "Rotational speed [rpm]": { value: rotational_speed_rpm }
    "Torque [Nm]": { value: torque_nm, window: { agg: mean, readings: 3 } }
    "Tool wear [min]": { value: tool_wear_min }
  rule: { type: hysteresis, above: 0.5, clear_below: 0.3, k: 2 }
lines:
  - id: ${lineId}
    machines: [{ id: m1 }, { id: m2 }]
`);
    child = await startChild();
    const pub: MqttClient = await mqtt.connectAsync(BROKER, { clientId: `${clientId}-pub`, protocolVersion: 5, clean: true });
    let killedAt = -1;
    let storedAtKill = -1;
    for (let i = 0; i < TOTAL; i++) {
      const m = i % 2 ? 'm1' : 'm2';
      await pub.publishAsync(`linesight/${lineId}/${m}/sensors`, JSON.stringify({ msg_id: `d-${i}`, ts: 1_700_000_000_000 + i, values: { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 40 + (i % 30), tool_wear_min: i % 200 } }), { qos: 1 });
      if (i === 4_321) {
        // mid-stream: messages are in flight, some stored and unacknowledged
        child.kill('SIGKILL');
        await new Promise((r) => child!.once('exit', r));
        killedAt = i;
        storedAtKill = storedCount().n;
        child = await startChild();
      }
      if (i % CHUNK === CHUNK - 1) await waitFor(() => storedCount().n >= i + 1 - 600, `LineSight to keep up at ${i}`);
    }
    await pub.endAsync();
    await waitFor(() => storedCount().n >= TOTAL, 'all readings stored');
    // give redeliveries a moment to (not) create duplicates, then check exactly-once
    await new Promise((r) => setTimeout(r, 500));
    const c = storedCount();
    expect(killedAt).toBe(4_321);
    expect(storedAtKill).toBeLessThan(killedAt + 1);
    expect(c.n).toBe(TOTAL);
    expect(c.distinct).toBe(TOTAL);

    // a backlog queued for the session while LineSight is down arrives right after CONNACK, before
    // the line runtime exists; it must wait for the runtime, not fail and tear the connection down
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    const BACKLOG = 500;
    const pub2: MqttClient = await mqtt.connectAsync(BROKER, { clientId: `${clientId}-pub2`, protocolVersion: 5, clean: true });
    for (let i = TOTAL; i < TOTAL + BACKLOG; i++) {
      await pub2.publishAsync(`linesight/${lineId}/m1/sensors`, JSON.stringify({ msg_id: `d-${i}`, ts: 1_700_000_000_000 + i, values: { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 40, tool_wear_min: 10 } }), { qos: 1 });
    }
    await pub2.endAsync();
    child = await startChild();
    await waitFor(() => storedCount().n >= TOTAL + BACKLOG, 'the backlog stored after the restart');
    await new Promise((r) => setTimeout(r, 500));
    expect(storedCount()).toEqual({ n: TOTAL + BACKLOG, distinct: TOTAL + BACKLOG });
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    child = undefined;
  }, 180_000);
});
