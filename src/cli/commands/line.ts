/** `linesight line check|status|dead-letters|prune`: inspect the line configuration and the line's store. */
import type { Command } from 'commander';
import { openStore } from '../../store/open.ts';
import { loadLineConfig } from '../../line/line-config.ts';
import { action } from '../context.ts';

const DEFAULT_DB = './data/linesight.db';

async function withStore<T>(db: string, fn: (s: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const s = await openStore(db);
  try {
    return await fn(s);
  } finally {
    await s.dispose();
  }
}

export function register(program: Command): void {
  const line = program.command('line').description('line configuration and stored line data');

  line
    .command('check')
    .description('validate a line.yaml and show what it defines')
    .argument('[file]', 'line configuration', 'config/line.yaml')
    .action(action(async (file: string) => {
      const c = await loadLineConfig(file);
      for (const l of c.lines) {
        process.stdout.write(`line ${l.id}\n`);
        for (const s of l.stations) process.stdout.write(`  station ${s.id}: model ${s.model}${s.version ? `:${s.version}` : ''}, ${s.alerts.length} alert rule(s)\n`);
        for (const m of l.machines) process.stdout.write(`  machine ${m.id}: model ${m.model}, ${Object.keys(m.features).length} features, rule ${m.rule.type}\n`);
      }
      process.stdout.write(`${file} is valid\n`);
    }));

  line
    .command('status')
    .description('row counts of the line store')
    .option('--db <path|url>', 'SQLite file or postgres:// URL', DEFAULT_DB)
    .action(action(async (o: { db: string }) => {
      const c = await withStore(o.db, (s) => s.counts());
      for (const [k, v] of Object.entries(c)) process.stdout.write(`${k.padEnd(18)} ${v}\n`);
    }));

  line
    .command('dead-letters')
    .description('the latest messages that could not be used, with the reason')
    .option('--db <path|url>', 'SQLite file or postgres:// URL', DEFAULT_DB)
    .option('-n, --limit <n>', 'how many', '20')
    .action(action(async (o: { db: string; limit: string }) => {
      const rows = await withStore(o.db, (s) => s.deadLetters(Math.max(1, Math.min(10_000, Number(o.limit) || 20))));
      for (const d of rows) process.stdout.write(`${new Date(d.ts).toISOString()}  ${d.kind.padEnd(16)} ${d.topic}  ${d.reason}\n`);
      if (!rows.length) process.stdout.write('no dead letters\n');
    }));

  line
    .command('prune')
    .description('apply retention now: delete data older than --days and readings beyond --max-readings')
    .option('--db <path|url>', 'SQLite file or postgres:// URL', DEFAULT_DB)
    .option('--days <n>', 'keep this many days (0 = no age limit)', '30')
    .option('--max-readings <n>', 'keep at most this many readings (0 = no limit)', '0')
    .action(action(async (o: { db: string; days: string; maxReadings: string }) => {
      const days = Number(o.days);
      const max = Number(o.maxReadings);
      const r = await withStore(o.db, (s) => s.prune({ olderThanMs: days > 0 ? Date.now() - days * 86_400_000 : undefined, maxReadings: max > 0 ? max : undefined }));
      process.stdout.write(`deleted ${r.deleted} rows\n`);
    }));
}
