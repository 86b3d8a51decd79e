/**
 * A dead broker: LineSight's own Mosquitto is killed while the line runs. The process stays up and
 * keeps answering HTTP, and when the broker is back readings flow again without a restart.
 * Uses a private Mosquitto (the Debian binary) on a free port, so the machine's shared broker is
 * never touched. Fails in CI when the binary is missing; skipped with a reason otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startLine } from '../../src/line/app.ts';
import { writeFixtureRepo } from './line-fixtures.ts';
import { until } from '../helpers/until.ts';

const MOSQUITTO = '/usr/sbin/mosquitto';
const have = existsSync(MOSQUITTO);
if (!have && process.env.CI) throw new Error(`${MOSQUITTO} is required in CI (Debian package mosquitto)`);
if (!have) console.warn(`[broker outage test] skipped: ${MOSQUITTO} not found`);

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-outage-'));
const repo = writeFixtureRepo(dir);
let broker: ChildProcess | undefined;

afterAll(() => {
  broker?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startMosquitto(port: number): Promise<ChildProcess> {
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  // ready when it accepts connections
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('mosquitto did not start');
}


const values = { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 40, tool_wear_min: 20 };

describe.skipIf(!have)('broker outage', () => {
  it('stays up while the broker is gone and resumes when it is back', async () => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    broker = await startMosquitto(port);
    const line = await startLine({ repoDir: repo, line: path.resolve('config/line.yaml'), db: path.join(dir, 'line.db'), port: 0, mqttUrl: url, simulator: false, dashboard: false, clientId: `outage-${process.pid}` });
    try {
      let n = 0;
      const publishBatch = async (count: number): Promise<void> => {
        const c = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
        for (let i = 0; i < count; i++) await c.publishAsync('linesight/line1/m1/sensors', JSON.stringify({ ts: Date.now(), msg_id: `o${n++}`, type: 'L', values }), { qos: 1 });
        await c.endAsync();
      };
      await publishBatch(5);
      await until(async () => ((await line.store.counts()).readings >= 5 ? true : undefined), '5 readings before the outage');

      broker.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      // the process is still serving while the broker is gone
      expect((await fetch(`${line.url}/v2/health/live`)).status).toBe(200);
      expect((await line.store.counts()).readings).toBe(5);

      broker = await startMosquitto(port);
      // LineSight reconnects by itself; readings published from now on are stored
      const c = await until(async () => {
        await publishBatch(1).catch(() => undefined);
        const k = await line.store.counts();
        return k.readings >= 6 ? k : undefined;
      }, 'readings after the broker is back');
      expect(c.readings).toBeGreaterThanOrEqual(6);
    } finally {
      await line.dispose();
    }
  });
});
