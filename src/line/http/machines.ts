/** `GET /v1/machines/:id/history?minutes=`: failure probability and sensor values over time. */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { LsError } from '../../core/errors.ts';
import { parseWith } from '../../core/validate.ts';
import { assertLine, type LineHttpOptions } from './context.ts';

const query = z.strictObject({
  minutes: z.coerce.number().positive().max(7 * 24 * 60).default(15),
  limit: z.coerce.number().int().min(1).max(20_000).default(2000),
});

export function machinesRoutes(o: LineHttpOptions): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/machines/:id/history', { config: { role: 'viewer' } }, async (req) => {
      const { id } = parseWith(z.strictObject({ id: z.string().min(1).max(64) }), req.params);
      const q = parseWith(query, req.query);
      const line = o.runtime.config.lines.find((l) => l.machines.some((m) => m.id === id));
      if (!line) throw new LsError('LS_ERR_NOT_FOUND', `no machine "${id}" in line.yaml`, { subject: id });
      assertLine(req, line.id);
      const points = await o.runtime.store.machineHistory(id, o.clock.now() - q.minutes * 60_000, q.limit);
      return { machine: id, line: line.id, minutes: q.minutes, points };
    });
  };
}
