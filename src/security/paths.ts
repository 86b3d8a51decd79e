/**
 * Path checks for anything a request names (uploads, model files): no URLs, no absolute paths, no
 * traversal, and after resolving symlinks the result must still lie inside the allowed folder.
 * This is the hole TorchServe had (CVE-2023-43654: models registered from any URL).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LsError } from '../core/errors.ts';

/** Refuse URLs (`scheme://`, `file:`), absolute paths, `..`, backslashes, NUL and empty segments. */
export function assertPlainRelative(name: string, subject = name): void {
  const bad = (why: string): never => {
    throw new LsError('LS_ERR_PATH_TRAVERSAL', `${why}: ${JSON.stringify(name.slice(0, 120))}`, { subject });
  };
  if (name.length === 0 || name.length > 512) bad('empty or too long');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(name)) bad('URLs and drive letters are not accepted');
  if (name.includes('\0') || name.includes('\\')) bad('NUL or backslash in path');
  if (path.isAbsolute(name) || name.startsWith('/')) bad('absolute path');
  for (const seg of name.split('/')) if (seg === '' || seg === '.' || seg === '..') bad('empty, "." or ".." segment');
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolve `rel` below `root`, following symlinks of every existing ancestor: the result (or, for a
 * file not created yet, its deepest existing parent) must still be inside the real root.
 */
export async function resolveInside(root: string, rel: string): Promise<string> {
  assertPlainRelative(rel);
  const realRoot = await fs.realpath(root);
  const target = path.resolve(realRoot, rel);
  if (!inside(realRoot, target)) throw new LsError('LS_ERR_PATH_TRAVERSAL', rel, { subject: rel });
  let probe = target;
  for (;;) {
    try {
      const real = await fs.realpath(probe);
      if (!inside(realRoot, real)) throw new LsError('LS_ERR_PATH_TRAVERSAL', `${rel} leads outside through a symlink`, { subject: rel });
      return probe === target ? real : path.join(real, path.relative(probe, target));
    } catch (e) {
      if (e instanceof LsError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new LsError('LS_ERR_FILE_READ', (e as Error).message, { subject: rel });
      // a dangling symlink would be followed by a later write: refuse it rather than guess where it points
      if (await fs.lstat(probe).then(() => true, () => false)) throw new LsError('LS_ERR_PATH_TRAVERSAL', `${rel} passes through a dangling symlink`, { subject: rel });
      const parent = path.dirname(probe);
      if (parent === probe) throw new LsError('LS_ERR_PATH_TRAVERSAL', rel, { subject: rel });
      probe = parent;
    }
  }
}
