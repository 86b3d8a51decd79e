/** Reading input files for CLI commands: every failure becomes an LsError naming the file. */
import { promises as fs } from 'node:fs';
import { LsError } from '../core/errors.ts';

export async function readInputFile(file: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LsError('LS_ERR_FILE_NOT_FOUND', undefined, { subject: file });
    throw new LsError('LS_ERR_FILE_READ', code ?? (e as Error).message, { subject: file });
  }
}

/** Read a file for a batch: an unreadable file becomes an error item instead of stopping the batch. */
export async function readBatchItem(file: string): Promise<{ bytes: Uint8Array; subject: string } | { error: LsError }> {
  try {
    return { bytes: await readInputFile(file), subject: file };
  } catch (e) {
    return { error: e as LsError };
  }
}
