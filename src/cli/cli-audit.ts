/**
 * Audit entries for what the command line changes: tokens, keys, MQTT users, and the model versions
 * that `train`, `finetune` and `optimize` write into the repository. The actor is `cli:<OS user>`.
 * The log is opened (and its chain verified) before the action, so an action never happens when it
 * cannot be recorded; the entry is appended after the action succeeded.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { AuditLog } from '../security/audit.ts';

/** Default data folder shared by `start`, the token file, the audit log and the key file. */
export const DEFAULT_DATA_DIR = './data';

export interface AuditOpts {
  data: string;
  auditFile?: string;
}

export const auditFileOf = (o: AuditOpts): string => o.auditFile ?? path.join(o.data, 'audit.log');

/** `--audit-file` for a model command (`train` already uses `--data` for its CSV). */
export function addAuditFileOption(c: Command): Command {
  return c.option('--audit-file <file>', 'audit log that records the new model version', path.join(DEFAULT_DATA_DIR, 'audit.log'));
}

export interface AuditEntryDraft {
  action: string;
  target: string;
  details?: unknown;
}

/**
 * Open the audit log before a long command does anything (a broken chain stops it at once), and
 * record its change once it is done.
 */
export async function openCliAudit(file: string): Promise<{ record(entry: AuditEntryDraft): Promise<void>; dispose(): Promise<void> }> {
  const log = await AuditLog.open(file);
  return {
    record: async (entry) => void (await log.append({ actor: cliUser(), ...entry })),
    dispose: () => log.dispose(),
  };
}

/** Run an action that must be audited in `file`: opened first, the entry appended once it succeeded. */
export async function withAuditFile<T>(file: string, run: () => Promise<{ result: T; entry: AuditEntryDraft }>): Promise<T> {
  const audit = await openCliAudit(file);
  try {
    const { result, entry } = await run();
    await audit.record(entry);
    return result;
  } finally {
    await audit.dispose();
  }
}

/** withAuditFile on the command's `--audit-file`, or `<data>/audit.log`. */
export function withAudit<T>(o: AuditOpts, run: () => Promise<{ result: T; entry: AuditEntryDraft }>): Promise<T> {
  return withAuditFile(auditFileOf(o), run);
}

/** `cli:<OS user>`: who acted, for token records and audit entries. */
export function cliUser(): string {
  let name = process.env.USER;
  try {
    name ??= os.userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  return `cli:${name ?? 'unknown'}`;
}
