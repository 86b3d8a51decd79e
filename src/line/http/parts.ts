/** Inspected parts: `GET /v1/parts/recent`, `GET /v1/parts/:id`, `GET /v1/parts/:id/image`. */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { LsError } from '../../core/errors.ts';
import { parseWith } from '../../core/validate.ts';
import { assertLine, who, type LineHttpOptions } from './context.ts';

const recentQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  station: z.string().min(1).max(64).optional(),
  line: z.string().min(1).max(64).optional(),
});
const idParams = z.strictObject({ id: z.string().min(1).max(128) });
const overrideBody = z.strictObject({ decision: z.enum(['PASS', 'REJECT', 'REVIEW']), reason: z.string().min(1).max(500) });

export function partsRoutes(o: LineHttpOptions): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/parts/recent', { config: { role: 'viewer', lineParam: 'line' } }, async (req) => {
      const q = parseWith(recentQuery, req.query);
      if (q.line) assertLine(req, q.line);
      return { parts: await o.runtime.store.recentParts({ limit: q.limit, station: q.station, line: q.line }) };
    });

    app.get('/v1/parts/:id', { config: { role: 'viewer' } }, async (req) => {
      const { id } = parseWith(idParams, req.params);
      const p = await o.runtime.store.getPart(id);
      if (!p) throw new LsError('LS_ERR_NOT_FOUND', `no part "${id}"`, { subject: id });
      assertLine(req, p.line);
      return p;
    });

    // a person overrides the automated decision of a part (e.g. QA releases a rejected part); audited
    app.post('/v1/parts/:id/decision', { config: { role: 'inspector' } }, async (req) => {
      const { id } = parseWith(idParams, req.params);
      const b = parseWith(overrideBody, req.body);
      const p = await o.runtime.store.getPart(id);
      if (!p) throw new LsError('LS_ERR_NOT_FOUND', `no part "${id}"`, { subject: id });
      assertLine(req, p.line);
      return o.runtime.overrideDecision({ part_id: id, decision: b.decision, reason: b.reason, by: who(req) });
    });

    app.get('/v1/parts/:id/image', { config: { role: 'viewer' } }, async (req, reply) => {
      const { id } = parseWith(idParams, req.params);
      const p = await o.runtime.store.getPart(id);
      if (!p) throw new LsError('LS_ERR_NOT_FOUND', `no part "${id}"`, { subject: id });
      assertLine(req, p.line);
      const img = await o.runtime.store.getPartImage(id);
      if (!img) throw new LsError('LS_ERR_NOT_FOUND', `part "${id}" has no stored image`, { subject: id });
      return reply.header('content-type', img.content_type).header('cache-control', 'private, max-age=3600').header('x-content-type-options', 'nosniff').send(Buffer.from(img.bytes));
    });
  };
}
