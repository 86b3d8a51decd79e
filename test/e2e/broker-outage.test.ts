/**
 * A dead broker: LineSight's own Mosquitto is killed while the line runs. The process stays up and
 * keeps answering HTTP, and when the broker is back readings flow again without a restart.
 * Uses a private Mosquitto (the Debian binary) on a free port, so the machine's shared broker is
 * never touched. Fails in CI when the binary is missing; skipped with a reason otherwise.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startLine } from '../../src/line/app.ts';
import { writeFixtureRepo, HEALTHY_VALUES } from './line-fixtures.ts';
import { until } from '../helpers/until.ts';
import { freePort, haveMosquitto, startMosquitto } from '../helpers/mosquitto.ts';

const have = haveMosquitto('broker outage test');

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-outage-'));
const repo = writeFixtureRepo(dir);
let broker: ChildProcess | undefined;

afterAll(() => {
  broker?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const values = HEALTHY_VALUES;

describe.skipIf(!have)('broker outage', () => {
  it('stays up while the broker is gone and resumes when it is back', async () => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    broker = await startMosquitto(dir, port);
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

      broker = await startMosquitto(dir, port);
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
