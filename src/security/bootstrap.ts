/**
 * First start: when auth is on and no admin token exists, make one and write it to a file only the
 * owner can read (0600), printing the path, never the token. `--insecure-no-auth` is for a lab bench
 * and says so in the log at every start.
 */
import path from 'node:path';
import type { Logger } from '../core/log.ts';
import type { TokenStore } from './tokens.ts';
import { writeSecretFile } from './secret-file.ts';

/** What bootstrap did, for the start banner. */
export interface BootstrapResult {
  /** Path of the file holding the new admin token, when one was created. */
  adminTokenFile?: string;
  insecure: boolean;
}

export const INSECURE_WARNING = 'AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this port can change models and line decisions. Use only on an isolated lab bench.';

/** Create the first admin token if needed. */
export async function bootstrapAuth(opts: { tokens?: TokenStore; dataDir: string; insecureNoAuth?: boolean; log: Logger; print?: (line: string) => void }): Promise<BootstrapResult> {
  if (opts.insecureNoAuth) {
    opts.log.warn({ security: 'insecure_no_auth' }, INSECURE_WARNING);
    opts.print?.(`WARNING: ${INSECURE_WARNING}`);
    return { insecure: true };
  }
  if (!opts.tokens || (await opts.tokens.hasActiveAdmin())) return { insecure: false };
  const { token, info } = await opts.tokens.create({ role: 'admin', name: 'bootstrap-admin' }, 'bootstrap');
  const file = path.resolve(opts.dataDir, 'admin-token');
  await writeSecretFile(file, `${token}\n`);
  opts.log.warn({ security: 'bootstrap', file, token_id: info.id }, 'created the first admin token');
  opts.print?.(`First start: an admin token was written to ${file} (readable only by you). Use it as "Authorization: Bearer <token>"; create more with \`linesight tokens create\`.`);
  return { adminTokenFile: file, insecure: false };
}
