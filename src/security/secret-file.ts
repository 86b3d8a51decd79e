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
