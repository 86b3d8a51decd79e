/**
 * `linesight start --data-key-file` as a user runs it: part images and readings land in SQLite
 * encrypted (LSE1 header, no image or reading bytes in clear), the API serves them decrypted to a
 * token holder, and after `linesight keys rotate` and a restart the same image is served; then
 * `POST /v1/keys/rotate` rotates again while the line keeps writing, and every row ends up under the new key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFixtureRepo } from '../e2e/line-fixtures.ts';
import { generateDataKey, writeKeyFile } from '../../src/security/crypto.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir('ls-sec-start-');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  tmp.cleanup();
});

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('linesight start with a data key', () => {
  it('stores images and readings encrypted, serves them decrypted, and still after a key rotation', async () => {
    const repo = writeFixtureRepo(tmp.dir);
    const data = path.join(tmp.dir, 'data');
    const keyFile = path.join(tmp.dir, 'data.key');
    await writeKeyFile(keyFile, generateDataKey());
    const start = async () => {
      const child = spawn(process.execPath, ['bin/linesight.mjs', 'start', '--port', '0', '--mqtt-port', '0', '--data', data, '--repo', repo, '--data-key-file', keyFile,
        '--rate', '10', '--sensor-rate', '20', '--no-status', '--images', 'samples/neu'], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const exit = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      await until(() => out.includes('LineSight is running'), `start (stderr: ${err.slice(-400)})`);
      return { child, exit, url: /dashboard: (http:\/\/[^\s/]+)\//.exec(out)![1]!, mqtt: /MQTT:\s+(mqtt:\/\/\S+)/.exec(out)![1]! };
    };
    const { child, exit, url, mqtt } = await start();
    // the embedded broker wants credentials: an anonymous device cannot publish readings or images
    await expect(connectAsync(mqtt, { reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/Bad username or password|Not authorized/i);
    const token = readFileSync(path.join(data, 'admin-token'), 'utf8').trim();
    const auth = { authorization: `Bearer ${token}` };
    let partId: string | undefined;
    await until(async () => {
      const r = (await (await fetch(`${url}/v1/parts/recent?limit=5`, { headers: auth })).json()) as { parts: Array<{ part_id: string; has_image: boolean }> };
      partId = r.parts.find((p) => p.has_image)?.part_id;
      return partId !== undefined;
    }, 'a stored part with an image');
    const img = await fetch(`${url}/v1/parts/${encodeURIComponent(partId!)}/image`, { headers: auth });
    expect(img.status).toBe(200);
    const served = Buffer.from(await img.arrayBuffer());
    child.kill('SIGINT');
    expect(await exit).toBe(0);

    const db = new Database(path.join(data, 'linesight.db'), { readonly: true });
    try {
      const part = db.prepare('SELECT key_id, image FROM parts WHERE part_id = ?').get(partId) as { key_id: string; image: Buffer };
      expect(part.image.subarray(0, 4).toString('ascii')).toBe('LSE1');
      expect(part.key_id).not.toBe('plain');
      // what the API served (a real image) is not what the disk holds
      expect(part.image.includes(served.subarray(0, 64))).toBe(false);
      const readings = db.prepare('SELECT key_id, vals FROM readings LIMIT 20').all() as Array<{ key_id: string; vals: Buffer }>;
      expect(readings.length).toBeGreaterThan(0);
      for (const r of readings) {
        expect(r.vals.subarray(0, 4).toString('ascii')).toBe('LSE1');
        expect(r.vals.toString('latin1')).not.toMatch(/torque|tool_wear/);
      }
    } finally {
      db.close();
    }

    // rotate the key while the line is stopped; after a restart the same image is served
    const rot = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, ['bin/linesight.mjs', 'keys', 'rotate', '--data', data, '--key-file', keyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
      let o = '';
      c.stdout!.on('data', (b: Buffer) => (o += b.toString()));
      c.once('exit', (code) => resolve({ code, out: o }));
    });
    expect(rot.code).toBe(0);
    expect(rot.out).toMatch(/retired [a-f0-9]{16}; rows re-encrypted: .*[1-9]\d* from [a-f0-9]{16}/);
    const again = await start();
    const img2 = await fetch(`${again.url}/v1/parts/${encodeURIComponent(partId!)}/image`, { headers: auth });
    expect(img2.status).toBe(200);
    expect(Buffer.from(await img2.arrayBuffer()).equals(served)).toBe(true);

    // the CLI refuses to rotate the key under the running line and points to the online route
    expect(readdirSync(path.dirname(keyFile)).filter((n) => n.startsWith('data.key.inuse-'))).toEqual([`data.key.inuse-${again.child.pid}`]);
    const refused = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, ['bin/linesight.mjs', 'keys', 'rotate', '--data', data, '--key-file', keyFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      let e = '';
      c.stderr!.on('data', (b: Buffer) => (e += b.toString()));
      c.once('exit', (code) => resolve({ code, err: e }));
    });
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/LS_ERR_KEY_IN_USE: a running LineSight holds this data key: pid \d+; rotate it through that line \(POST \/v1\/keys\/rotate/);

    // rotate again while the line runs and keeps writing: an inspector may not, an admin may;
    // afterwards every row is under the new key, the old image still reads the same, nothing stopped
    const recent = (await (await fetch(`${again.url}/v1/parts/recent?limit=1`, { headers: auth })).json()) as { parts: unknown[] };
    expect(recent.parts.length).toBe(1);
    const inspector = (await (await fetch(`${again.url}/v1/tokens`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'qa', role: 'inspector' }) })).json()) as { token: string };
    const denied = await fetch(`${again.url}/v1/keys/rotate`, { method: 'POST', headers: { authorization: `Bearer ${inspector.token}` } });
    expect(denied.status).toBe(403);
    const online = await fetch(`${again.url}/v1/keys/rotate`, { method: 'POST', headers: auth });
    expect(online.status).toBe(200);
    const rotated = (await online.json()) as { key_id: string; retired_key_id: string; rows: Record<string, number> };
    expect(rotated.key_id).toMatch(/^[a-f0-9]{16}$/);
    expect(rotated.retired_key_id).toMatch(/^[a-f0-9]{16}$/);
    expect(rotated.key_id).not.toBe(rotated.retired_key_id);
    expect(rotated.rows[rotated.retired_key_id]).toBeGreaterThan(0);
    // the line goes on writing under the new key
    const countNow = () => {
      const d = new Database(path.join(data, 'linesight.db'), { readonly: true });
      try {
        return (d.prepare('SELECT COUNT(*) AS n FROM readings WHERE key_id = ?').get(rotated.key_id) as { n: number }).n;
      } finally {
        d.close();
      }
    };
    const atRotation = countNow();
    await until(() => countNow() > atRotation + 20, 'readings written under the new key after the online rotation');
    const img3 = await fetch(`${again.url}/v1/parts/${encodeURIComponent(partId!)}/image`, { headers: auth });
    expect(Buffer.from(await img3.arrayBuffer()).equals(served)).toBe(true);
    const trail = (await (await fetch(`${again.url}/v1/audit?action=key.rotate&limit=1`, { headers: auth })).json()) as { entries: Array<{ actor: string; target: string }> };
    expect(trail.entries[0]).toMatchObject({ actor: expect.stringMatching(/^token:/), target: `key:${rotated.key_id}` });
    again.child.kill('SIGINT');
    expect(await again.exit).toBe(0);
    // a clean stop removes the line's mark on the key
    expect(readdirSync(path.dirname(keyFile)).filter((n) => n.startsWith('data.key.inuse-'))).toEqual([]);
    const db2 = new Database(path.join(data, 'linesight.db'), { readonly: true });
    try {
      const keys = db2.prepare('SELECT key_id, COUNT(*) AS n FROM (SELECT key_id FROM readings UNION ALL SELECT key_id FROM parts WHERE image IS NOT NULL) GROUP BY key_id').all() as Array<{ key_id: string; n: number }>;
      expect(keys.map((k) => k.key_id)).toEqual([rotated.key_id]);
    } finally {
      db2.close();
    }
    expect(readFileSync(keyFile, 'utf8').trim()).not.toBe('');
  }, 200_000);
});
