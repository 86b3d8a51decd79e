/**
 * `linesight keys rotate`: a new data key, every encrypted (and still plain) blob in the store
 * re-encrypted to it through Store.reencryptAll, then the old key retired next to the key file.
 * Order matters so nothing is lost if the process dies half way: the new key is written to
 * `<keyFile>.next` before any row changes, and a later run picks it up and finishes the job.
 *
 * Online (a running server, `POST /v1/keys/rotate`): the server's own key ring switches to the new
 * key first, so every value written from then on is sealed with it; then the rows are re-encrypted,
 * and a sweep after a write barrier catches values that were sealed with the old key just before
 * the switch and committed after the first pass.
 */
import { promises as fs } from 'node:fs';
import { identityCodec, type FieldCodec } from '../store/codec.ts';
import { AesGcmCodec, generateDataKey, loadRetiredKeys, parseKeyText, writeKeyFile, type KeyRing } from './crypto.ts';
import { readSecretFile } from './secret-file.ts';

/** What key rotation needs from a store (contract 6). */
export interface ReencryptingStore {
  reencryptAll(from: FieldCodec, to: FieldCodec): Promise<{ rows: number }>;
}

/** Outcome of a rotation or re-encryption. */
export interface RotationResult {
  /** Key id now in use. */
  keyId: string;
  /** Key id that was retired, if there was one. */
  retiredKeyId?: string;
  /** Rows re-encrypted, by the key id they were under before. */
  rows: Record<string, number>;
}

async function loadKey(file: string): Promise<AesGcmCodec | undefined> {
  const raw = await readSecretFile(file);
  return raw ? new AesGcmCodec(parseKeyText(raw.toString('utf8'), file)) : undefined;
}

/** Re-encrypt plain rows and rows under any known older key to `target`. */
export async function reencryptTo(store: ReencryptingStore, target: FieldCodec, sources: readonly FieldCodec[]): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  const seen = new Set<string>([target.keyId]);
  for (const src of [identityCodec, ...sources]) {
    if (seen.has(src.keyId)) continue;
    seen.add(src.keyId);
    rows[src.keyId] = (await store.reencryptAll(src, target)).rows;
  }
  return rows;
}

/** A running server's side of an online rotation. */
export interface LiveKeys {
  /** The ring the server's store seals and opens values with; it switches to the new key. */
  ring: KeyRing;
  /** Resolves once every write submitted before it has been committed (e.g. an empty batch through the store's writer). */
  barrier(): Promise<void>;
}

/** Sweeps after the first pass, at most: each one follows a write barrier. */
const MAX_SWEEPS = 3;

/** Rotate: new key (or the one an interrupted rotation left), re-encrypt, then retire the old key file. */
export async function rotateDataKey(keyFile: string, store: ReencryptingStore, live?: LiveKeys): Promise<RotationResult> {
  const current = await loadKey(keyFile);
  const nextFile = `${keyFile}.next`;
  let next = await loadKey(nextFile);
  if (!next) {
    const key = generateDataKey();
    await writeKeyFile(nextFile, key);
    next = new AesGcmCodec(key);
  }
  const older = (await loadRetiredKeys(keyFile)).filter((k) => k.keyId !== next!.keyId);
  const sources = [...(current ? [current] : []), ...older];
  if (live) {
    live.ring.use(next);
    await live.barrier();
  }
  const rows = await reencryptTo(store, next, sources);
  for (let k = 0; live && k < MAX_SWEEPS; k++) {
    await live.barrier();
    const late = await reencryptTo(store, next, sources);
    for (const [id, n] of Object.entries(late)) rows[id] = (rows[id] ?? 0) + n;
    if (Object.values(late).every((n) => n === 0)) break;
  }
  if (current) await fs.rename(keyFile, `${keyFile}.old-${current.keyId}`);
  await fs.rename(nextFile, keyFile);
  return { keyId: next.keyId, ...(current ? { retiredKeyId: current.keyId } : {}), rows };
}

/** Bring every row to the current key without making a new one (after a rotation ran while the server wrote). */
export async function reencryptToCurrent(keyFile: string, store: ReencryptingStore): Promise<RotationResult> {
  const current = await loadKey(keyFile);
  if (!current) return { keyId: 'plain', rows: {} };
  return { keyId: current.keyId, rows: await reencryptTo(store, current, await loadRetiredKeys(keyFile)) };
}
