/**
 * The same line on PostgreSQL (`--db postgres://...`): readings, parts, truth and dead letters go
 * through the PostgreSQL store, and the API reads them back. Fails in CI without PostgreSQL.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { connectMqtt } from '../../src/connectors/mqtt/client.ts';
import { startLine } from '../../src/line/app.ts';
import { parseLineConfig } from '../../src/line/line-config.ts';
import { writeFixtureRepo } from './line-fixtures.ts';
import { PG_URL, requirePostgres } from '../helpers/postgres.ts';

const URL_ = PG_URL;
const schema = `ls_line_${process.pid}_${Date.now().toString(36)}`;
const ok = await requirePostgres();
const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-linepg-'));

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (!ok) return;
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

describe.skipIf(!ok)('line on PostgreSQL', () => {
  it('stores and serves readings, parts, truth and dead letters', async () => {
    const config = parseLineConfig({
      machine_defaults: {
        model: 'machine-failure',
        features: {
          'Air temperature [K]': { value: 'air_temperature_k' }, 'Process temperature [K]': { value: 'process_temperature_k' },
          'Rotational speed [rpm]': { value: 'rotational_speed_rpm' }, 'Torque [Nm]': { value: 'torque_nm' }, 'Tool wear [min]': { value: 'tool_wear_min' },
        },
        rule: { type: 'threshold', above: 0.5 },
      },
      lines: [{ id: 'line1', stations: [{ id: 'cam1', model: 'steel-surface' }], machines: [{ id: 'm1' }] }],
    });
    const line = await startLine({ repoDir: writeFixtureRepo(dir), line: config, db: `${URL_}?schema=${schema}`, port: 0, mqttPort: 0, simulator: false, dashboard: false, clientId: 'pg-line' });
    const pub = await connectMqtt(line.mqttUrl, { clientId: 'pg-pub' });
    try {
      expect(line.store.kind).toBe('postgres');
      const values = { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 40, tool_wear_min: 10 };
      for (let i = 0; i < 20; i++) await pub.publishAsync('linesight/line1/m1/sensors', JSON.stringify({ msg_id: `pg${i}`, ts: Date.now() - 1000 + i, values }), { qos: 1 });
      await pub.publishAsync('linesight/line1/m1/sensors', JSON.stringify({ msg_id: 'pg0', values }), { qos: 1 });
      await pub.publishAsync('linesight/line1/cam1/image', JSON.stringify({ part_id: 'PG1', image_b64: readFileSync('samples/neu/scratches/scratches_3.jpg').toString('base64') }), { qos: 1 });
      await pub.publishAsync('linesight/line1/cam1/truth', JSON.stringify({ part_id: 'PG1', true_label: 'scratches' }), { qos: 1 });
      await pub.publishAsync('linesight/line1/m1/sensors', '{oops', { qos: 1 });
      let c = await line.store.counts();
      for (let i = 0; i < 200 && (c.readings < 20 || c.feedback < 1 || c.dead_letters < 1); i++) {
        await new Promise((r) => setTimeout(r, 25));
        c = await line.store.counts();
      }
      expect(c).toMatchObject({ readings: 20, distinct_readings: 20, parts: 1, feedback: 1, dead_letters: 1 });
      const hist = (await (await fetch(`${line.url}/v1/machines/m1/history?minutes=10`)).json()) as { points: Array<{ probability: number }> };
      expect(hist.points).toHaveLength(20);
      expect(hist.points[0]!.probability).toBeLessThan(0.5);
      const img = await fetch(`${line.url}/v1/parts/PG1/image`);
      expect(img.headers.get('content-type')).toBe('image/jpeg');
    } finally {
      await pub.endAsync();
      await line.dispose();
    }
  });
});
