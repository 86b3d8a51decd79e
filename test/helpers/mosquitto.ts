/**
 * A private Mosquitto (the Debian binary) on a free port, so tests never touch the machine's shared
 * broker. Tests that use it fail in CI when the binary is missing and are skipped with a reason otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** Is the binary here? Throws in CI when it is not (a missing service must fail there, not skip). */
export function haveMosquitto(what: string): boolean {
  const have = existsSync(MOSQUITTO);
  if (!have && process.env.CI) throw new Error(`${MOSQUITTO} is required in CI (Debian package mosquitto)`);
  if (!have) console.warn(`[${what}] skipped: ${MOSQUITTO} not found`);
  return have;
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Start Mosquitto with `listener port 127.0.0.1` plus `extra` config lines; resolves once it accepts connections. */
export async function startMosquitto(dir: string, port: number, extra: string[] = []): Promise<ChildProcess> {
  const conf = path.join(dir, `mosquitto-${port}.conf`);
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', ...extra, ''].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  for (let i = 0; i < 100 && !exited; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`mosquitto did not start on port ${port}${exited ? ` (exited; config ${conf})` : ''}`);
}
