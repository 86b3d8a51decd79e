import { pino, type Logger } from 'pino';

export type { Logger };

/** The product logger: JSON lines on stderr (stdout is for command output). */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  const level = opts.level ?? process.env.LINESIGHT_LOG_LEVEL ?? 'info';
  return pino({ level, name: opts.name ?? 'linesight' }, pino.destination(2));
}

/** A logger that drops everything, for tests and quiet CLI commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
