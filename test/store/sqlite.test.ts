import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { storeContract, reading } from './contract.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-sqlite-'));
let n = 0;
let current = '';
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// a fresh file per test; `make` with a codec after cleanup reopens the same file (key rotation tests)
storeContract(
  'sqlite',
  async (codec) => {
    if (!codec || !current) current = path.join(dir, `t${n++}.db`);
    return new SqliteStore({ file: current, ...(codec ? { codec } : {}) });
  },
  async (s) => {
    await s.dispose();
  },
);

storeContract(
  'sqlite with a writer thread',
  async (codec) => {
    if (!codec || !current) current = path.join(dir, `w${n++}.db`);
    return new SqliteStore({ file: current, writer: 'worker', ...(codec ? { codec } : {}) });
  },
  async (s) => {
    await s.dispose();
  },
);

it('sqlite: migrations run once and data survives reopening', async () => {
  const file = path.join(dir, 'reopen.db');
  const a = new SqliteStore({ file });
  await a.writeBatch({ readings: [reading(1)] });
  await a.dispose();
  const b = new SqliteStore({ file });
  expect((await b.counts()).readings).toBe(1);
  await b.dispose();
  await expect(b.counts()).rejects.toMatchObject({ code: 'LS_ERR_SHUTTING_DOWN' });
});
