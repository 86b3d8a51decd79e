/** The embedded broker's port: a taken port is one clear error, unless the caller allowed moving aside. */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLine } from '../../src/line/app.ts';
import { writeFixtureRepo } from './line-fixtures.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-port-'));
const repo = writeFixtureRepo(dir);
const config = path.resolve('config/line.yaml');
const holders: net.Server[] = [];

async function holdPort(): Promise<number> {
  const s = net.createServer();
  holders.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

afterAll(() => {
  for (const s of holders) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded broker port', () => {
  it('a taken port the user chose fails with LS_ERR_PORT_IN_USE naming the port and the option', async () => {
    const port = await holdPort();
    const e = await startLine({ repoDir: repo, line: config, db: path.join(dir, 'a.db'), port: 0, mqttPort: port, simulator: false, dashboard: false }).then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'LS_ERR_PORT_IN_USE' });
    expect(String((e as Error).message)).toContain(String(port));
    expect(String((e as Error).message)).toContain('--mqtt-port');
  });

  it('with a fallback allowed, the broker moves to the next free port', async () => {
    const port = await holdPort();
    const line = await startLine({ repoDir: repo, line: config, db: path.join(dir, 'b.db'), port: 0, mqttPort: port, mqttPortFallback: 5, simulator: false, dashboard: false, clientId: 'port-test' });
    try {
      expect(Number(new URL(line.mqttUrl).port)).toBeGreaterThan(port);
    } finally {
      await line.dispose();
    }
  });
});
