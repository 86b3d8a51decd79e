/**
 * `linesight keys generate|rotate|reencrypt`: the AES-256-GCM data key that encrypts stored images
 * and readings. `rotate` makes a new key and re-encrypts every row through Store.reencryptAll;
 * the old key is kept as `<key-file>.old-<id>` so backups made before stay readable.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { action } from '../context.ts';
import { generateDataKey, keyIdOf, writeKeyFile } from '../../security/crypto.ts';
import { reencryptToCurrent, rotateDataKey, type RotationResult } from '../../security/key-rotation.ts';
import { openStore } from '../../store/open.ts';
import { LsError } from '../../core/errors.ts';
import { keyUsers } from '../../security/key-use.ts';
import { DEFAULT_DATA_DIR, withAudit } from '../cli-audit.ts';

interface KeyOpts {
  data: string;
  keyFile?: string;
  db?: string;
  auditFile?: string;
  force?: boolean;
}

/** Refuse to re-encrypt under a running line that holds the key (it would keep the old one). */
async function refuseWhileInUse(o: KeyOpts): Promise<void> {
  if (o.force) return;
  const users = await keyUsers(keyFileOf(o));
  if (users.length) {
    throw new LsError('LS_ERR_KEY_IN_USE', `pid ${users.join(', ')}; rotate it through that line (POST /v1/keys/rotate as admin), or stop it first (--force skips this check)`, { subject: keyFileOf(o) });
  }
}

const keyFileOf = (o: KeyOpts) => o.keyFile ?? path.join(o.data, 'data.key');
/** The store the line writes by default (`linesight start --data DIR`). */
const dbOf = (o: KeyOpts) => o.db ?? path.join(o.data, 'linesight.db');

function common(c: Command): Command {
  return c
    .option('--data <dir>', 'data folder', DEFAULT_DATA_DIR)
    .option('--key-file <file>', 'data key file (default <data>/data.key)')
    .option('--audit-file <file>', 'audit log (default <data>/audit.log)');
}

function report(r: RotationResult): void {
  const moved = Object.entries(r.rows).map(([k, n]) => `${n} from ${k}`).join(', ') || 'none';
  process.stdout.write(`key in use: ${r.keyId}${r.retiredKeyId ? `; retired ${r.retiredKeyId}` : ''}; rows re-encrypted: ${moved}\n`);
}

export function register(program: Command): void {
  const keys = program.command('keys').description('the data key for encryption at rest (AES-256-GCM)');

  common(keys.command('generate'))
    .description('write a new random 256-bit data key (mode 0600); refuses to overwrite an existing key')
    .action(action(async (o: KeyOpts) => {
      const file = keyFileOf(o);
      const key = generateDataKey();
      await withAudit(o, async () => {
        await writeKeyFile(file, key);
        return { result: undefined, entry: { action: 'key.generate', target: `key:${keyIdOf(key)}` } };
      });
      process.stdout.write(`wrote data key ${keyIdOf(key)} to ${file}; start with --data-key-file ${file} (or set LINESIGHT_DATA_KEY)\n`);
    }));

  common(keys.command('rotate'))
    .description('new data key; re-encrypt every stored image and reading to it (plain rows too); retire the old key')
    .option('--db <path|url>', 'the store: SQLite file or postgres:// URL (default <data>/linesight.db)')
    .option('--force', 'rotate even while a running LineSight holds the key')
    .action(action(async (o: KeyOpts) => {
      await refuseWhileInUse(o);
      const store = await openStore(dbOf(o));
      try {
        const r = await withAudit(o, async () => {
          const x = await rotateDataKey(keyFileOf(o), store);
          return { result: x, entry: { action: 'key.rotate', target: `key:${x.keyId}`, details: { retired: x.retiredKeyId, rows: x.rows } } };
        });
        report(r);
      } finally {
        await store.dispose();
      }
    }));

  common(keys.command('reencrypt'))
    .description('move rows still under a retired key (or plain) to the current key, without making a new key')
    .option('--db <path|url>', 'the store: SQLite file or postgres:// URL (default <data>/linesight.db)')
    .action(action(async (o: KeyOpts) => {
      const store = await openStore(dbOf(o));
      try {
        const r = await withAudit(o, async () => {
          const x = await reencryptToCurrent(keyFileOf(o), store);
          return { result: x, entry: { action: 'key.reencrypt', target: `key:${x.keyId}`, details: { rows: x.rows } } };
        });
        report(r);
      } finally {
        await store.dispose();
      }
    }));
}
