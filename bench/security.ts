/**
 * `npm run bench:security`: what security costs on this machine. Short runs (a few seconds):
 * per-request auth overhead, AES-256-GCM on image-sized blobs, audit appends (fsynced),
 * model signature check, MQTT password check (scrypt), key rotation through SQLite, and the write
 * latency of a running line's store while an online rotation re-encrypts 100,000 readings.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { authPlugin } from '../src/security/auth-plugin.ts';
import { TokenStore } from '../src/security/tokens.ts';
import { AesGcmCodec, KeyRing, generateDataKey } from '../src/security/crypto.ts';
import { AuditLog } from '../src/security/audit.ts';
import { hashPassword, verifyPassword } from '../src/security/passwords.ts';
import { generateSigningKey, loadPrivateKey, loadTrustedKeys, signModel, verifyModel } from '../src/security/signing.ts';
import { rotateDataKey } from '../src/security/key-rotation.ts';
import { ModelRepository } from '../src/repository/repository.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { silentLogger } from '../src/core/log.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-bench-sec-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timeIt(n: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return (performance.now() - t0) / n;
}
/** Median of `runs` sequential timings (never concurrent: interleaved runs would each count the others' time). */
async function medianOf(runs: number, n: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number> {
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) xs.push(await timeIt(n, fn));
  return median(xs);
}
const out: Record<string, string> = {};

try {
  // 1. auth overhead per request (in-process inject, so HTTP parsing cost is the same on both sides)
  const tokens = await TokenStore.open(path.join(dir, 'tokens.json'));
  const { token } = await tokens.create({ role: 'viewer' });
  const app = Fastify();
  app.get('/open', { config: { role: 'public' } }, async () => 'x');
  app.get('/closed', { config: { role: 'viewer' } }, async () => 'x');
  await app.register(authPlugin, { tokens, log: silentLogger() });
  // open and token requests alternate one by one, so load from other processes hits both the same way
  const runs = { open: [] as number[], closed: [] as number[] };
  for (let r = 0; r < 5; r++) {
    let open = 0;
    let closed = 0;
    for (let i = 0; i < 1000; i++) {
      let t = performance.now();
      await app.inject({ method: 'GET', url: '/open' });
      open += performance.now() - t;
      t = performance.now();
      await app.inject({ method: 'GET', url: '/closed', headers: { authorization: `Bearer ${token}` } });
      closed += performance.now() - t;
    }
    runs.open.push(open / 1000);
    runs.closed.push(closed / 1000);
  }
  out['auth: public route (ms/request, median of 5x1000)'] = median(runs.open).toFixed(4);
  out['auth: token route (ms/request, median of 5x1000)'] = median(runs.closed).toFixed(4);
  out['auth: overhead per request (us)'] = ((median(runs.closed) - median(runs.open)) * 1000).toFixed(1);
  await app.close();

  // 2. AES-256-GCM on a 200 KB image (a NEU JPEG is ~10-40 KB, a 640x480 PNG ~200 KB)
  const codec = new AesGcmCodec(generateDataKey());
  const img = new Uint8Array(200 * 1024).map((_, i) => (i * 31) & 255);
  const encMs = await medianOf(5, 200, () => codec.decode(codec.encode(img)));
  out['aes-256-gcm: encode+decode 200 KB (ms, median of 5x200)'] = encMs.toFixed(3);
  out['aes-256-gcm: throughput (MB/s, encode+decode)'] = ((img.length / 1e6) / (encMs / 1000)).toFixed(0);

  // 3. audit appends, each fsynced
  const audit = await AuditLog.open(path.join(dir, 'audit.log'));
  const appendMs = await timeIt(200, (i) => audit.append({ actor: 'bench', action: 'qa.label', target: `part:${i}`, details: { true_label: 'scratches' } }));
  out['audit: append with fsync (ms/entry, 200 entries)'] = appendMs.toFixed(3);
  const t0 = performance.now();
  const v = await audit.verify();
  out['audit: verify 200 entries (ms)'] = (performance.now() - t0).toFixed(1);
  if (!v.ok) throw new Error('audit verify failed');
  await audit.dispose();

  // 4. signature check of the bundled steel-surface model (if present)
  const repo = await ModelRepository.open('models');
  if ((await repo.listModels()).includes('steel-surface') && (await repo.listVersions('steel-surface')).length) {
    const copy = path.join(dir, 'models');
    const { cpSync } = await import('node:fs');
    cpSync(path.join('models', 'steel-surface'), path.join(copy, 'steel-surface'), { recursive: true });
    const r = await ModelRepository.open(copy);
    const resolved = await r.resolve({ name: 'steel-surface' });
    await generateSigningKey(path.join(dir, 'sign.pem'));
    await signModel(resolved, await loadPrivateKey(path.join(dir, 'sign.pem')));
    const trusted = await loadTrustedKeys([path.join(dir, 'sign.pem.pub')]);
    const ms = await medianOf(3, 20, () => verifyModel(resolved, trusted));
    out[`signature: verify steel-surface (${(readFileSync(resolved.modelPath).length / 1e6).toFixed(1)} MB ONNX) (ms, median of 3x20)`] = ms.toFixed(2);
  }

  // 5. MQTT password check (scrypt N=16384, r=8)
  const hash = await hashPassword('camera-password');
  out['mqtt: scrypt password check (ms/connect)'] = (await timeIt(20, () => verifyPassword('camera-password', hash))).toFixed(1);

  // 6. key rotation through SQLite: 2,000 readings + 500 parts with 20 KB images
  const db = path.join(dir, 'line.db');
  const keyFile = path.join(dir, 'data.key');
  let store = new SqliteStore({ file: db, synchronous: 'NORMAL' });
  const small = new Uint8Array(20 * 1024).map((_, i) => i & 255);
  for (let b = 0; b < 10; b++) {
    await store.writeBatch({
      readings: Array.from({ length: 200 }, (_, i) => ({ msg_id: `r${b}-${i}`, line: 'L1', machine: 'm1', ts: b * 1000 + i, values: { torque_nm: 40, tool_wear_min: i } })),
      parts: Array.from({ length: 50 }, (_, i) => ({ part_id: `p${b}-${i}`, msg_id: `pm${b}-${i}`, line: 'L1', station: 'cam1', ts: b * 1000 + i, model: 'x', version: 1, label: 'ok', probability: 0.9, outputs: {}, decision: 'PASS' as const, reason: '', latency_ms: 1, image: { bytes: small, content_type: 'image/jpeg' } })),
    });
  }
  await store.dispose();
  store = new SqliteStore({ file: db, synchronous: 'NORMAL' });
  let t = performance.now();
  const first = await rotateDataKey(keyFile, store);
  out['rotation: plain -> key1, 2,500 rows (ms)'] = (performance.now() - t).toFixed(0);
  t = performance.now();
  const second = await rotateDataKey(keyFile, store);
  out['rotation: key1 -> key2, 2,500 rows (ms)'] = (performance.now() - t).toFixed(0);
  await store.dispose();
  if (first.rows.plain !== 2500 || second.rows[first.keyId] !== 2500) throw new Error(`rotation moved ${JSON.stringify([first.rows, second.rows])}`);

  // 7. online rotation: a line's writer thread keeps committing single readings (as the line does)
  // while 100,000 readings are re-encrypted; write latency side by side without and with the rotation
  const N = Number(process.env.BENCH_ROTATION_ROWS ?? 100_000);
  const k1 = new AesGcmCodec(generateDataKey());
  const ring = new KeyRing(k1);
  const live = new SqliteStore({ file: path.join(dir, 'live.db'), codec: ring, writer: 'worker', synchronous: 'NORMAL' });
  const row = (i: number) => ({ msg_id: `o${i}`, line: 'L1', machine: 'm1', ts: i, values: { torque_nm: 40, tool_wear_min: i % 200 } });
  for (let i = 0; i < N; i += 5000) await live.writeBatch({ readings: Array.from({ length: 5000 }, (_, j) => row(i + j)) });
  let next = N;
  const writesWhile = async (work: Promise<unknown>): Promise<number[]> => {
    const lat: number[] = [];
    let done = false;
    void work.finally(() => (done = true));
    while (!done) {
      const s0 = performance.now();
      await live.writeBatch({ readings: [row(next++)] });
      lat.push(performance.now() - s0);
      await new Promise((r) => setTimeout(r, 5));
    }
    return lat.sort((a, b) => a - b);
  };
  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!.toFixed(1);
  const idle = await writesWhile(new Promise((r) => setTimeout(r, 3000)));
  ring.use(new AesGcmCodec(generateDataKey()));
  t = performance.now();
  const rot = live.reencryptAll(k1, ring.current);
  const during = await writesWhile(rot);
  const moved = (await rot).rows;
  const secs = (performance.now() - t) / 1000;
  await live.dispose();
  // everything written before the switch (the N rows and the idle phase's writes) was under k1
  if (moved !== N + idle.length) throw new Error(`online rotation moved ${moved} of ${N + idle.length}`);
  out[`online rotation: ${N.toLocaleString('en')} readings re-encrypted (s)`] = secs.toFixed(1);
  out['online rotation: rows/s'] = (N / secs).toFixed(0);
  out['online rotation: write p50 / p99 / max, idle (ms)'] = `${pct(idle, 0.5)} / ${pct(idle, 0.99)} / ${idle.at(-1)!.toFixed(1)}`;
  out['online rotation: write p50 / p99 / max, rotating (ms)'] = `${pct(during, 0.5)} / ${pct(during, 0.99)} / ${during.at(-1)!.toFixed(1)}`;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

process.stdout.write(`security costs, ${new Date().toISOString()}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}\n`);
for (const [k, v] of Object.entries(out)) process.stdout.write(`  ${k.padEnd(62)} ${v}\n`);
