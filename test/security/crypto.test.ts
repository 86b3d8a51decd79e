import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { AesGcmCodec, generateDataKey, KeyRing, loadDataKeys, parseKeyText, writeKeyFile } from '../../src/security/crypto.ts';
import { reencryptToCurrent, rotateDataKey } from '../../src/security/key-rotation.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { identityCodec } from '../../src/store/codec.ts';
import { tempDir } from './helpers.ts';

const enc = new TextEncoder();

describe('AES-256-GCM field codec', () => {
  it('round-trips and hides the plaintext', () => {
    const c = new AesGcmCodec(generateDataKey());
    const plain = enc.encode('{"torque_nm":41.3,"secret":"recipe-7"}');
    const sealed = c.encode(plain);
    expect(Buffer.from(sealed).includes(Buffer.from('recipe-7'))).toBe(false);
    expect(Buffer.from(c.decode(sealed)).toString()).toBe(Buffer.from(plain).toString());
    // fresh IV each time
    expect(Buffer.from(c.encode(plain)).equals(Buffer.from(sealed))).toBe(false);
  });

  it('is unreadable without the key (another key, plain bytes, altered bytes)', () => {
    const a = new AesGcmCodec(generateDataKey());
    const b = new AesGcmCodec(generateDataKey());
    const sealed = a.encode(enc.encode('image bytes'));
    expect(() => b.decode(sealed)).toThrow(expect.objectContaining({ code: 'LS_ERR_CRYPTO', message: expect.stringContaining(a.keyId) }));
    expect(() => a.decode(enc.encode('plain'))).toThrow(expect.objectContaining({ code: 'LS_ERR_CRYPTO' }));
    const bad = Uint8Array.from(sealed);
    bad[bad.length - 1]! ^= 1;
    expect(() => a.decode(bad)).toThrow(/altered/);
  });

  it('a key ring decodes old and new, encodes with the current key', () => {
    const old = new AesGcmCodec(generateDataKey());
    const cur = new AesGcmCodec(generateDataKey());
    const ring = new KeyRing(cur, [old]);
    expect(Buffer.from(ring.decode(old.encode(enc.encode('x')))).toString()).toBe('x');
    expect(Buffer.from(cur.decode(ring.encode(enc.encode('y')))).toString()).toBe('y');
    expect(ring.keyId).toBe(cur.keyId);
  });

  it('refuses short keys and malformed key text', () => {
    expect(() => new AesGcmCodec(new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'LS_ERR_SECURITY_CONFIG' }));
    expect(() => parseKeyText('not a key', 'k')).toThrow(expect.objectContaining({ code: 'LS_ERR_SECURITY_CONFIG' }));
    const k = generateDataKey();
    expect(parseKeyText(k.toString('hex'), 'k').equals(k)).toBe(true);
    expect(parseKeyText(`  ${k.toString('base64')}\n`, 'k').equals(k)).toBe(true);
  });

  it('loads the key from a file (mode 0600) or LINESIGHT_DATA_KEY', async () => {
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'data.key');
      const key = generateDataKey();
      await writeKeyFile(file, key);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      await expect(writeKeyFile(file, key)).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
      expect((await loadDataKeys({ keyFile: file }))?.keyId).toBe(new AesGcmCodec(key).keyId);
      expect((await loadDataKeys({ env: { LINESIGHT_DATA_KEY: key.toString('base64') } }))?.keyId).toBe(new AesGcmCodec(key).keyId);
      expect(await loadDataKeys({ env: {} })).toBeUndefined();
      await expect(loadDataKeys({ keyFile: path.join(tmp.dir, 'missing.key') })).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
    } finally {
      tmp.cleanup();
    }
  });
});

describe('key rotation through the SQLite store', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const image = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 255);
  const batch = (i: number) => ({
    readings: [{ msg_id: `r${i}`, line: 'L1', machine: 'm1', ts: 1000 + i, type: 'M', values: { torque_nm: 40 + i, tool_wear_min: i } }],
    parts: [{
      part_id: `p${i}`, msg_id: `pm${i}`, line: 'L1', station: 'cam1', ts: 1000 + i, model: 'steel-surface', version: 1, label: 'scratches',
      probability: 0.9, outputs: { scratches: 0.9 }, decision: 'REJECT' as const, reason: 'test', latency_ms: 3, image: { bytes: image, content_type: 'image/png' },
    }],
  });

  it('plain rows are encrypted, then re-encrypted on rotation; nothing is lost; the old key alone cannot read them', async () => {
    const db = path.join(tmp.dir, 'line.db');
    const keyFile = path.join(tmp.dir, 'data.key');
    // rows written before encryption was switched on
    let store = new SqliteStore({ file: db });
    await store.writeBatch(batch(1) as never);
    await store.dispose();

    // first rotation = switch encryption on
    store = new SqliteStore({ file: db });
    const first = await rotateDataKey(keyFile, store);
    await store.dispose();
    expect(first.rows.plain).toBe(2);
    const ring1 = (await loadDataKeys({ keyFile }))!;
    store = new SqliteStore({ file: db, codec: ring1 });
    await store.writeBatch(batch(2) as never);
    expect(Buffer.from((await store.getPartImage('p1'))!.bytes).equals(Buffer.from(image))).toBe(true);
    await store.dispose();

    // without the key: unreadable
    store = new SqliteStore({ file: db });
    await expect(store.getPartImage('p1')).rejects.toMatchObject({ code: 'LS_ERR_CRYPTO' });
    await store.dispose();

    // rotate: every row moves to the new key
    store = new SqliteStore({ file: db });
    const second = await rotateDataKey(keyFile, store);
    await store.dispose();
    expect(second.retiredKeyId).toBe(ring1.keyId);
    expect(second.rows[ring1.keyId]).toBe(4);
    expect(readdirSync(tmp.dir)).toContain(`data.key.old-${ring1.keyId}`);
    expect(existsSync(`${keyFile}.next`)).toBe(false);

    const onlyOld = new AesGcmCodec(parseKeyText(readFileSync(path.join(tmp.dir, `data.key.old-${ring1.keyId}`), 'utf8'), 'old'));
    store = new SqliteStore({ file: db, codec: onlyOld });
    await expect(store.getPartImage('p2')).rejects.toMatchObject({ code: 'LS_ERR_CRYPTO' });
    await store.dispose();

    const ring2 = (await loadDataKeys({ keyFile }))!;
    expect(ring2.keyId).toBe(second.keyId);
    store = new SqliteStore({ file: db, codec: ring2 });
    for (const id of ['p1', 'p2']) expect(Buffer.from((await store.getPartImage(id))!.bytes).equals(Buffer.from(image))).toBe(true);
    const hist = await store.machineHistory('m1', 0);
    expect(hist.map((h) => h.values.torque_nm)).toEqual([41, 42]);
    await store.dispose();
  });

  it('a live key ring switched to a new key still reads rows under the old one until they are re-encrypted (online rotation)', async () => {
    const db = path.join(tmp.dir, 'live.db');
    const k1 = new AesGcmCodec(generateDataKey());
    const ring = new KeyRing(k1);
    const store = new SqliteStore({ file: db, codec: ring, writer: 'worker' });
    try {
      await store.writeBatch(batch(1) as never);
      ring.use(new AesGcmCodec(generateDataKey()));
      await store.writeBatch(batch(2) as never);
      // mid-rotation: p1 and m1's first reading are under k1, p2 and the second under the new key
      for (const id of ['p1', 'p2']) expect(Buffer.from((await store.getPartImage(id))!.bytes).equals(Buffer.from(image))).toBe(true);
      expect((await store.machineHistory('m1', 0)).map((h) => h.values.torque_nm)).toEqual([41, 42]);
      expect((await store.reencryptAll(k1, ring.current)).rows).toBe(2);
      expect(Buffer.from((await store.getPartImage('p1'))!.bytes).equals(Buffer.from(image))).toBe(true);
    } finally {
      await store.dispose();
    }
    // a ring that never held k1 refuses rows under it, naming the key
    const other = new SqliteStore({ file: db, codec: new KeyRing(new AesGcmCodec(generateDataKey())) });
    try {
      await expect(other.getPartImage('p1')).rejects.toMatchObject({ code: 'LS_ERR_CRYPTO' });
    } finally {
      await other.dispose();
    }
  });

  it('an interrupted rotation (new key written, rows half done) is finished by the next run without loss', async () => {
    const db = path.join(tmp.dir, 'line.db');
    const keyFile = path.join(tmp.dir, 'data.key');
    const k0 = generateDataKey();
    await writeKeyFile(keyFile, k0);
    const c0 = new AesGcmCodec(k0);
    let store = new SqliteStore({ file: db, codec: c0 });
    await store.writeBatch(batch(1) as never);
    await store.writeBatch(batch(2) as never);
    await store.dispose();
    // simulate a crash: `.next` exists and the rows were moved to it, but the key files were not swapped
    const k1 = generateDataKey();
    await writeKeyFile(`${keyFile}.next`, k1);
    const c1 = new AesGcmCodec(k1);
    store = new SqliteStore({ file: db, codec: c0 });
    await store.reencryptAll(c0, c1);
    await store.dispose();
    // the rerun uses the same `.next` key
    store = new SqliteStore({ file: db });
    const r = await rotateDataKey(keyFile, store);
    await store.dispose();
    expect(r.keyId).toBe(c1.keyId);
    store = new SqliteStore({ file: db, codec: (await loadDataKeys({ keyFile }))! });
    for (const id of ['p1', 'p2']) expect((await store.getPartImage(id))?.bytes.length).toBe(image.length);
    expect(await reencryptToCurrent(keyFile, store)).toMatchObject({ keyId: c1.keyId });
    await store.dispose();
    expect(identityCodec.keyId).toBe('plain');
  });
});

describe('which processes hold a data key', () => {
  it('lists live holders other than this process and removes markers of processes that are gone', async () => {
    const { keyUsers, markKeyInUse } = await import('../../src/security/key-use.ts');
    const t = tempDir();
    try {
      const keyFile = path.join(t.dir, 'data.key');
      const mine = await markKeyInUse(keyFile);
      const parent = await markKeyInUse(keyFile, process.ppid);
      const deadPid = 4_194_000; // above Linux's default pid_max: no such process
      const dead = await markKeyInUse(keyFile, deadPid);
      expect(await keyUsers(keyFile)).toEqual([process.ppid]);
      expect(existsSync(`${keyFile}.inuse-${deadPid}`)).toBe(false);
      await parent.dispose();
      expect(await keyUsers(keyFile)).toEqual([]);
      await mine.dispose();
      await dead.dispose();
      expect(readdirSync(t.dir)).toEqual([]);
    } finally {
      t.cleanup();
    }
  });
});
