/** `linesight audit verify|list`: check the hash chain of the audit log and read it. */
import path from 'node:path';
import type { Command } from 'commander';
import { action } from '../context.ts';
import { AuditLog, verifyAuditLog } from '../../security/audit.ts';
import { DEFAULT_DATA_DIR } from '../cli-audit.ts';

export function register(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('verify')
    .description('check every entry of the audit log and its rotated segments; names the first edited, removed or reordered entry')
    .option('--data <dir>', 'data folder', DEFAULT_DATA_DIR)
    .option('--file <file>', 'audit log (default <data>/audit.log)')
    .option('--json', 'print JSON')
    .action(action(async (o: { data: string; file?: string; json?: boolean }) => {
      const file = o.file ?? path.join(o.data, 'audit.log');
      const r = await verifyAuditLog(file);
      if (o.json) process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
      else if (r.ok) process.stdout.write(`OK: ${r.entries} entries${r.segments ? ` in ${r.segments} rotated segment(s) and the active file` : ''}, chain intact; head ${r.head}\n`);
      else process.stdout.write(`TAMPERED: ${r.file} line ${r.line}${r.seq !== undefined ? ` (seq ${r.seq})` : ''}: ${r.reason}\n`);
      if (!r.ok) process.exitCode = 2;
    }));
  audit
    .command('list')
    .description('print the newest entries')
    .option('--data <dir>', 'data folder', DEFAULT_DATA_DIR)
    .option('--file <file>', 'audit log (default <data>/audit.log)')
    .option('--limit <n>', 'entries', '20')
    .option('--actor <who>', 'only this actor')
    .option('--action <action>', 'only this action')
    .action(action(async (o: { data: string; file?: string; limit: string; actor?: string; action?: string }) => {
      const log = await AuditLog.open(o.file ?? path.join(o.data, 'audit.log'));
      try {
        for (const e of await log.list({ limit: Number(o.limit) || 20, ...(o.actor ? { actor: o.actor } : {}), ...(o.action ? { action: o.action } : {}) })) {
          process.stdout.write(`${e.seq}\t${e.ts}\t${e.actor}\t${e.action}\t${e.target}${e.details !== undefined ? `\t${JSON.stringify(e.details)}` : ''}\n`);
        }
      } finally {
        await log.dispose();
      }
    }));
}
