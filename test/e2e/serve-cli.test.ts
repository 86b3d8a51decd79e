/** `linesight serve` as a user runs it: secure by default, the first admin token works, Ctrl-C stops it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('linesight serve (CLI, real socket)', () => {
  let child: ChildProcess;
  let url: string;
  let out = '';
  const data = mkdtempSync(path.join(tmpdir(), 'ls-serve-'));

  beforeAll(async () => {
    child = spawn(process.execPath, ['bin/linesight.mjs', 'serve', '--port', '0', '--data', data, '--poll', '0', '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    url = await new Promise<string>((resolve, reject) => {
      const check = setInterval(() => {
        const m = /serving \d+ model version\(s\) at (http:\/\/\S+)/.exec(out);
        if (m) {
          clearInterval(check);
          resolve(m[1]!);
        }
      }, 50);
      child.once('exit', (code) => {
        clearInterval(check);
        reject(new Error(`serve exited with ${code}: ${out}`));
      });
    });
  }, 60_000);

  afterAll(() => {
    child.kill('SIGKILL');
  });

  it('tells where the first admin token is and keeps it owner-readable only', () => {
    expect(out).toContain(path.join(data, 'admin-token'));
    expect(statSync(path.join(data, 'admin-token')).mode & 0o077).toBe(0);
  });

  it('answers health without a token but refuses anonymous model control and inference', async () => {
    expect((await request(`${url}/v2/health/live`)).statusCode).toBe(200);
    const load = await request(`${url}/v2/repository/models/steel-surface/load`, { method: 'POST' });
    expect(load.statusCode).toBe(401);
    expect(((await load.body.json()) as { code: string }).code).toBe('LS_ERR_UNAUTHENTICATED');
    const inspect = await request(`${url}/v1/inspect/steel-surface`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync('test/fixtures/neu/scratches_1.jpg') });
    expect(inspect.statusCode).toBe(401);
  });

  it('inspects an image with the admin token', async () => {
    const token = readFileSync(path.join(data, 'admin-token'), 'utf8').trim();
    const r = await request(`${url}/v1/inspect/steel-surface?part_id=p-1`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${token}` },
      body: readFileSync('test/fixtures/neu/scratches_1.jpg'),
    });
    expect(r.statusCode).toBe(200);
    const body = (await r.body.json()) as { label: string; decision: string; part_id: string };
    expect(body).toMatchObject({ label: 'scratches', decision: 'REJECT', part_id: 'p-1' });
  });

  it('stops cleanly on SIGTERM', async () => {
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(out).toContain('shutting down');
  });
});
