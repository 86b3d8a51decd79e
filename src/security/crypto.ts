/**
 * Encryption at rest (contract 6): an AES-256-GCM FieldCodec for the store's sensitive blobs
 * (images, reading values). Stored format, so every blob says which key sealed it:
 *   "LSE1" | keyIdLength (1 byte) | keyId (ascii) | iv (12) | tag (16) | ciphertext
 * The key id is derived from the key (first 16 hex digits of SHA-256 over "linesight-key-id" + key),
 * so it identifies a key without revealing it. A KeyRing decodes with any known key and encodes
 * with the current one, which makes rotation restartable: a half-finished rotation loses nothing.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LsError } from '../core/errors.ts';
import { readSecretFile, writeSecretFile } from './secret-file.ts';

/** Same shape as the store's FieldCodec (src/store/codec.ts, contract 6). */
export interface FieldCodec {
  readonly keyId: string;
  encode(plain: Uint8Array): Uint8Array;
  decode(stored: Uint8Array): Uint8Array;
}

const MAGIC = Buffer.from('LSE1', 'ascii');
const IV_LEN = 12;
const TAG_LEN = 16;
/** Environment variable holding a base64 (or hex) 32-byte data key. */
export const DATA_KEY_ENV = 'LINESIGHT_DATA_KEY';

/** Stable, non-secret identifier of a 32-byte key. */
export function keyIdOf(key: Uint8Array): string {
  return createHash('sha256').update('linesight-key-id').update(key).digest('hex').slice(0, 16);
}

/** A fresh random 256-bit data key. */
export function generateDataKey(): Buffer {
  return randomBytes(32);
}

/** True when the bytes carry our encryption header. */
export function isEncrypted(stored: Uint8Array): boolean {
  return stored.length >= MAGIC.length && Buffer.from(stored.buffer, stored.byteOffset, MAGIC.length).equals(MAGIC);
}

/** Key id of an encrypted blob, or undefined when the blob is not ours. */
export function sealedKeyId(stored: Uint8Array): string | undefined {
  if (!isEncrypted(stored) || stored.length < MAGIC.length + 1) return undefined;
  const n = stored[MAGIC.length]!;
  const start = MAGIC.length + 1;
  if (stored.length < start + n + IV_LEN + TAG_LEN) return undefined;
  return Buffer.from(stored.buffer, stored.byteOffset + start, n).toString('ascii');
}

/** AES-256-GCM under one key. */
export class AesGcmCodec implements FieldCodec {
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new LsError('LS_ERR_SECURITY_CONFIG', `data key must be 32 bytes, got ${key.length}`, { subject: 'data key' });
    this.key = Buffer.from(key);
    this.keyId = keyIdOf(this.key);
  }

  encode(plain: Uint8Array): Uint8Array {
    const iv = randomBytes(IV_LEN);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(plain), c.final()]);
    const id = Buffer.from(this.keyId, 'ascii');
    return Buffer.concat([MAGIC, Buffer.from([id.length]), id, iv, c.getAuthTag(), body]);
  }

  decode(stored: Uint8Array): Uint8Array {
    const id = sealedKeyId(stored);
    if (id === undefined) throw new LsError('LS_ERR_CRYPTO', 'the stored value is not encrypted data (no LSE1 header)');
    if (id !== this.keyId) throw new LsError('LS_ERR_CRYPTO', `sealed with key ${id}, the configured key is ${this.keyId}`);
    const buf = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    let o = MAGIC.length + 1 + id.length;
    const iv = buf.subarray(o, (o += IV_LEN));
    const tag = buf.subarray(o, (o += TAG_LEN));
    const d = createDecipheriv('aes-256-gcm', this.key, iv);
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(buf.subarray(o)), d.final()]);
    } catch {
      throw new LsError('LS_ERR_CRYPTO', `authentication failed for key ${id}: the data was altered`);
    }
  }
}

/** Encodes with the current key, decodes with whichever known key sealed the value. */
export class KeyRing implements FieldCodec {
  private readonly byId = new Map<string, AesGcmCodec>();

  private cur: AesGcmCodec;

  constructor(current: AesGcmCodec, older: readonly AesGcmCodec[] = []) {
    this.cur = current;
    for (const c of [current, ...older]) this.byId.set(c.keyId, c);
  }

  /** The key new values are sealed with. */
  get current(): AesGcmCodec {
    return this.cur;
  }

  /** Seal new values with `next` from now on; values under every earlier key stay readable. */
  use(next: AesGcmCodec): void {
    this.byId.set(next.keyId, next);
    this.cur = next;
  }

  get keyId(): string {
    return this.cur.keyId;
  }

  /** Ids of every key this ring can decode with. */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  encode(plain: Uint8Array): Uint8Array {
    return this.cur.encode(plain);
  }

  decode(stored: Uint8Array): Uint8Array {
    const id = sealedKeyId(stored);
    const c = id === undefined ? undefined : this.byId.get(id);
    if (!c) throw new LsError('LS_ERR_CRYPTO', id === undefined ? 'the stored value is not encrypted data' : `no key with id ${id} is configured (have ${this.keyIds.join(', ')})`);
    return c.decode(stored);
  }
}

/** Parse a key as written by `linesight keys generate`: base64 or hex of 32 bytes, surrounding whitespace ignored. */
export function parseKeyText(text: string, subject: string): Buffer {
  const t = text.trim();
  const buf = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (buf.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(t) && buf.toString('base64').replace(/=+$/, '') !== t.replace(/=+$/, ''))) {
    throw new LsError('LS_ERR_SECURITY_CONFIG', 'a data key is 32 bytes written as base64 or 64 hex digits', { subject });
  }
  return buf;
}

/**
 * Load the data key: from `keyFile` when given, else from LINESIGHT_DATA_KEY; undefined when neither is set
 * (the store then keeps the identity codec). Retired keys (`<keyFile>.old-*`) join the ring for decoding.
 */
export async function loadDataKeys(opts: { keyFile?: string; env?: NodeJS.ProcessEnv }): Promise<KeyRing | undefined> {
  const env = opts.env ?? process.env;
  if (opts.keyFile) {
    const raw = await readSecretFile(opts.keyFile);
    if (!raw) throw new LsError('LS_ERR_SECURITY_CONFIG', 'data key file not found (create one with `linesight keys generate`)', { subject: opts.keyFile });
    const current = new AesGcmCodec(parseKeyText(raw.toString('utf8'), opts.keyFile));
    return new KeyRing(current, await loadRetiredKeys(opts.keyFile));
  }
  const v = env[DATA_KEY_ENV];
  if (v) return new KeyRing(new AesGcmCodec(parseKeyText(v, DATA_KEY_ENV)));
  return undefined;
}

/** Keys kept next to the key file: retired ones (`.old-<id>`) and one of an unfinished rotation (`.next`). */
export async function loadRetiredKeys(keyFile: string): Promise<AesGcmCodec[]> {
  const dir = path.dirname(path.resolve(keyFile));
  const base = path.basename(keyFile);
  const out: AesGcmCodec[] = [];
  for (const name of (await fs.readdir(dir)).sort()) {
    if (!name.startsWith(`${base}.old-`) && name !== `${base}.next`) continue;
    const raw = await readSecretFile(path.join(dir, name));
    if (raw) out.push(new AesGcmCodec(parseKeyText(raw.toString('utf8'), name)));
  }
  return out;
}

/** Write a new key file (mode 0600); refuses to overwrite an existing key unless told to. */
export async function writeKeyFile(file: string, key: Uint8Array, opts: { overwrite?: boolean } = {}): Promise<void> {
  if (!opts.overwrite && (await readSecretFile(file))) {
    throw new LsError('LS_ERR_SECURITY_CONFIG', 'a key file already exists here; use `linesight keys rotate` to replace it', { subject: file });
  }
  await writeSecretFile(file, `${Buffer.from(key).toString('base64')}\n`);
}
