import pg from 'pg';
import { describe, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres.ts';
import { storeContract } from './contract.ts';
import { PG_URL, requirePostgres } from '../helpers/postgres.ts';

const URL = PG_URL;

const ok = await requirePostgres();
if (!ok) {
  describe('Store contract: postgres', () => {
    it.skip(`PostgreSQL not reachable at ${URL}; skipped outside CI`, () => undefined);
  });
} else {
  const run = `ls_test_${process.pid}_${Date.now().toString(36)}`;
  let n = 0;
  let current = '';
  storeContract(
    'postgres',
    async (codec) => {
      if (!codec || !current) current = `${run}_${n++}`;
      return PostgresStore.open({ url: URL, schema: current, ...(codec ? { codec } : {}) });
    },
    async (s) => {
      const p = s as PostgresStore;
      // keep the schema while a test reopens the same store with another key; drop at the next fresh make
      await p.dispose();
    },
  );
  // drop every schema this run created
  const { afterAll } = await import('vitest');
  afterAll(async () => {
    const c = new pg.Client({ connectionString: URL });
    await c.connect();
    const r = await c.query('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [`${run}%`]);
    for (const row of r.rows as Array<{ nspname: string }>) await c.query(`DROP SCHEMA IF EXISTS ${row.nspname} CASCADE`);
    await c.end();
  });
}
