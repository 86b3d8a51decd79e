/** QA feedback (`POST /v1/feedback`) and the live accuracy it feeds (`GET /v1/accuracy`, with the machine models' live metrics). */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { parseWith } from '../../core/validate.ts';
import { assertLine, who, type LineHttpOptions } from './context.ts';

const feedbackBody = z.strictObject({
  part_id: z.string().min(1).max(128),
  true_label: z.string().min(1).max(128),
  by: z.string().min(1).max(128).optional(),
});

export function feedbackRoutes(o: LineHttpOptions): FastifyPluginAsync {
  return async (app) => {
    app.post('/v1/feedback', { config: { role: 'inspector' } }, async (req) => {
      const b = parseWith(feedbackBody, req.body);
      const part = await o.runtime.store.getPart(b.part_id);
      if (part) assertLine(req, part.line);
      // the principal is who acts; `by` (e.g. a QA station name) is recorded only when auth is off
      const by = req.principal && req.principal.id !== 'anonymous' ? req.principal.id : (b.by ?? who(req));
      const p = await o.runtime.feedback({ part_id: b.part_id, true_label: b.true_label, by });
      const all = await o.runtime.store.accuracy();
      o.runtime.stats.setAccuracy(all);
      const accuracy = all.find((a) => a.model === p.model && a.version === p.version);
      return { part: p, correct: p.label === b.true_label, accuracy };
    });

    // camera models against QA labels; machine models against the outcomes machines reported
    app.get('/v1/accuracy', { config: { role: 'viewer' } }, async () => ({ models: await o.runtime.store.accuracy(), machines: await o.runtime.machineMetrics() }));
  };
}
