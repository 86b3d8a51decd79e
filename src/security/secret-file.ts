/** Writing files that hold secrets: owner-only mode, atomic replace so a crash never leaves half a file. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LsError } from '../core/errors.ts';

/** Write `data` to `file` with mode 0600 via a temp file + rename (creating the folder with 0700). */
export async function writeSecretFile(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  // the process umask can only narrow 0600, but be explicit: the mode is the whole point of this file
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
}

/** Read a security file, turning "missing" into `undefined` and other failures into LS_ERR_SECURITY_CONFIG. */
export async function readSecretFile(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LsError('LS_ERR_SECURITY_CONFIG', (e as Error).message, { subject: file });
  }
}

/**
 * Run a read-modify-write of `file` under `<file>.lock` (created exclusively), so the server and the
 * CLI changing the same token or user file at once cannot lose each other's change (a lost revocation
 * would leave a token valid). A lock older than `staleMs` is from a crashed process and is taken over.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, opts: { waitMs?: number; staleMs?: number } = {}): Promise<T> {
  const lock = `${file}.lock`;
  const waitMs = opts.waitMs ?? 5000;
  const staleMs = opts.staleMs ?? 30_000;
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  const start = Date.now();
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    try {
      await (await fs.open(lock, 'wx', 0o600)).close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new LsError('LS_ERR_SECURITY_CONFIG', (e as Error).message, { subject: lock });
      const age = await fs.stat(lock).then((st) => Date.now() - st.mtimeMs, () => 0);
      if (age > staleMs) {
        await fs.rm(lock, { force: true });
        continue;
      }
      if (Date.now() - start > waitMs) throw new LsError('LS_ERR_SECURITY_CONFIG', `${file} is locked by another process (remove ${lock} if no linesight process is running)`, { subject: lock });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}
