/**
 * `linesight start` as a user runs it: a child process with the embedded broker, SQLite in a data
 * folder, auth on, the simulator publishing; the API answers with the admin token and refuses without;
 * a taken MQTT port gives one clear error; Ctrl-C (SIGINT) flushes and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFixtureRepo } from './line-fixtures.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-start-'));
const repo = writeFixtureRepo(dir);
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['bin/linesight.mjs', 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  return { child, out: () => out, err: () => err, exit: new Promise((r) => child.once('exit', (code) => r(code))) };
}

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('linesight start', () => {
  it('runs the whole line with the simulator, serves the API with auth, and stops cleanly on SIGINT', async () => {
    const data = path.join(dir, 'data');
    const p = run(['--port', '0', '--mqtt-port', '0', '--data', data, '--repo', repo, '--rate', '10', '--sensor-rate', '20', '--no-status', '--images', 'samples/neu']);
    await until(() => p.out().includes('LineSight is running'), `start (stderr: ${p.err().slice(-500)})`);
    const url = /dashboard: (http:\/\/[^\s/]+)\//.exec(p.out())![1]!;
    const mqttUrl = /MQTT:\s+(mqtt:\/\/\S+)/.exec(p.out())![1]!;
    const token = readFileSync(path.join(data, 'admin-token'), 'utf8').trim();
    expect((await fetch(`${url}/v1/line/summary`)).status).toBe(401);
    type Summary = { stations: Array<{ total: number }>; readings_total: number };
    let s: Summary | undefined;
    await until(async () => {
      s = (await (await fetch(`${url}/v1/line/summary`, { headers: { authorization: `Bearer ${token}` } })).json()) as Summary;
      return (s.stations[0]?.total ?? 0) >= 3 && s.readings_total >= 20;
    }, 'parts and readings flowing');
    expect(s!.stations[0]!.total).toBeGreaterThanOrEqual(3);
    // a second instance on the same MQTT port: one clear error naming the port and the option, exit 1
    const port = new URL(mqttUrl).port;
    const q = run(['--port', '0', '--mqtt-port', port, '--data', path.join(dir, 'data2'), '--repo', repo, '--no-simulator', '--no-status']);
    expect(await q.exit).toBe(1);
    expect(q.err()).toContain(`LS_ERR_PORT_IN_USE`);
    expect(q.err()).toContain(`--mqtt-port`);
    expect(q.err()).toContain(port);
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(0);
    expect(p.out()).toContain('stopped cleanly');
  }, 120_000);
});
