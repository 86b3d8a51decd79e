/** Alerts: `GET /v1/alerts?state=open|all` and `POST /v1/alerts/:id/ack` (records who and when). */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { LsError } from '../../core/errors.ts';
import { parseWith } from '../../core/validate.ts';
import { assertLine, lineVisible, who, type LineHttpOptions } from './context.ts';

const listQuery = z.strictObject({ state: z.enum(['open', 'all']).default('open'), limit: z.coerce.number().int().min(1).max(5000).default(200) });
const ackBody = z.strictObject({ by: z.string().min(1).max(128).optional() }).default({});

export function alertsRoutes(o: LineHttpOptions): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/alerts', { config: { role: 'viewer' } }, async (req) => {
      const q = parseWith(listQuery, req.query);
      return { alerts: (await o.runtime.store.listAlerts(q)).filter((a) => lineVisible(req, a.line)) };
    });

    app.post('/v1/alerts/:id/ack', { config: { role: 'inspector' } }, async (req) => {
      const { id } = parseWith(z.strictObject({ id: z.string().min(1).max(128) }), req.params);
      const b = parseWith(ackBody, req.body ?? {});
      const existing = await o.runtime.store.getAlert(id);
      if (!existing) throw new LsError('LS_ERR_NOT_FOUND', `no alert "${id}"`, { subject: id });
      assertLine(req, existing.line);
      const by = req.principal && req.principal.id !== 'anonymous' ? req.principal.id : (b.by ?? who(req));
      return o.runtime.alerts.ack(id, by);
    });
  };
}
