/** The entries of an audit log file (JSON lines), or [] when the file does not exist. */
import { existsSync, readFileSync } from 'node:fs';

export interface AuditLine {
  seq: number;
  actor: string;
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

export function auditEntries(file: string): AuditLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditLine);
}
