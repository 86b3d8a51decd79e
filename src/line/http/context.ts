/** What the line's HTTP plugins share: the runtime, the clock, and the caller's identity and line scope. */
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../../core/clock.ts';
import { LsError } from '../../core/errors.ts';
import type {} from '../../security/roles.ts';
import type { LineRuntime } from '../runtime.ts';

export interface LineHttpOptions {
  readonly runtime: LineRuntime;
  readonly clock: Clock;
}

/** Who is calling: the authenticated principal's id, or 'anonymous' when auth is off. */
export function who(req: FastifyRequest): string {
  return req.principal?.id ?? 'anonymous';
}

/** Lines the caller may see; undefined = every line. */
export function scope(req: FastifyRequest): readonly string[] | undefined {
  return req.principal?.lines;
}

/** LS_ERR_FORBIDDEN when the caller is limited to other lines. */
export function assertLine(req: FastifyRequest, line: string): void {
  const lines = scope(req);
  if (lines && !lines.includes(line)) throw new LsError('LS_ERR_FORBIDDEN', `token is limited to lines ${lines.join(', ')}`, { subject: line });
}

/** True when the caller may see `line`. */
export function lineVisible(req: FastifyRequest, line: string): boolean {
  const lines = scope(req);
  return !lines || lines.includes(line);
}
