/**
 * Which running LineSight processes hold a data key. A line marks its key file with
 * `<keyFile>.inuse-<pid>` while it runs; `keys rotate` refuses while another live
 * process holds the key, because that process would go on sealing new rows with the old key and
 * could not read rows sealed with the new one until it restarts (rotate it through
 * `POST /v1/keys/rotate` instead). Markers of processes that no longer exist are removed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Disposable } from '../core/dispose.ts';

const PREFIX = '.inuse-';

function markerOf(keyFile: string, pid: number): string {
  return `${keyFile}${PREFIX}${pid}`;
}

/** Is a process with this id alive (EPERM: alive, owned by someone else)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Mark `keyFile` as used by this process until the returned handle is disposed. */
export async function markKeyInUse(keyFile: string, pid = process.pid): Promise<Disposable> {
  const marker = markerOf(path.resolve(keyFile), pid);
  await fs.writeFile(marker, `${pid}\n`, { mode: 0o600 });
  return { dispose: () => fs.rm(marker, { force: true }) };
}

/** Ids of other live processes that hold `keyFile`; stale markers are removed on the way. */
export async function keyUsers(keyFile: string, self = process.pid): Promise<number[]> {
  const file = path.resolve(keyFile);
  const dir = path.dirname(file);
  const base = `${path.basename(file)}${PREFIX}`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const users: number[] = [];
  for (const n of names) {
    if (!n.startsWith(base)) continue;
    const pid = Number(n.slice(base.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === self) continue;
    if (alive(pid)) users.push(pid);
    else await fs.rm(path.join(dir, n), { force: true });
  }
  return users.sort((a, b) => a - b);
}
