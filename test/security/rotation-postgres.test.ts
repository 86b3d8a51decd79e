/** Key rotation with the real AES-256-GCM codec through PostgreSQL (CI must have it; elsewhere skipped with a reason). */
import pg from 'pg';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres.ts';
import { loadDataKeys } from '../../src/security/crypto.ts';
import { rotateDataKey } from '../../src/security/key-rotation.ts';
import { tempDir } from './helpers.ts';
import { PG_URL, requirePostgres } from '../helpers/postgres.ts';

const URL = PG_URL;

const ok = await requirePostgres();

describe('key rotation through PostgreSQL', () => {
  if (!ok) {
    it.skip(`PostgreSQL not reachable at ${URL}; skipped outside CI`, () => undefined);
    return;
  }
  const schema = `ls_sec_${process.pid}_${Date.now().toString(36)}`;
  const tmp = tempDir();
  afterAll(async () => {
    const c = new pg.Client({ connectionString: URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
    tmp.cleanup();
  });

  it('encrypts plain rows, rotates, and reads everything back; unreadable without the key', async () => {
    const keyFile = path.join(tmp.dir, 'data.key');
    const image = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) & 255);
    let store = await PostgresStore.open({ url: URL, schema });
    await store.writeBatch({
      readings: [{ msg_id: 'r1', line: 'L1', machine: 'm1', ts: 1, values: { torque_nm: 41.5 } }],
      parts: [{ part_id: 'p1', msg_id: 'pm1', line: 'L1', station: 'cam1', ts: 1, model: 'x', version: 1, label: 'ok', probability: 0.9, outputs: {}, decision: 'PASS', reason: '', latency_ms: 1, image: { bytes: image, content_type: 'image/png' } }],
    });
    const first = await rotateDataKey(keyFile, store);
    expect(first.rows.plain).toBe(2);
    const second = await rotateDataKey(keyFile, store);
    expect(second.rows[first.keyId]).toBe(2);
    await store.dispose();

    store = await PostgresStore.open({ url: URL, schema });
    await expect(store.getPartImage('p1')).rejects.toMatchObject({ code: 'LS_ERR_CRYPTO' });
    await store.dispose();

    store = await PostgresStore.open({ url: URL, schema, codec: (await loadDataKeys({ keyFile }))! });
    expect(Buffer.from((await store.getPartImage('p1'))!.bytes).equals(Buffer.from(image))).toBe(true);
    expect((await store.machineHistory('m1', 0)).map((p) => p.values.torque_nm)).toEqual([41.5]);
    await store.dispose();
  });
});
