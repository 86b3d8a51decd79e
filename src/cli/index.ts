/** The `linesight` command line: thin wrappers over the same services the server uses. */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { commands } from './commands/index.ts';
import { reportError } from './context.ts';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

const program = new Command('linesight')
  .description('LineSight: run trained models next to production lines')
  .version(version)
  .showHelpAfterError();

for (const c of commands) c.register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  reportError(e);
}
