/** `GET /v1/spc/p-chart?station=&interval_s=60&points=50`: the defect-rate p-chart with Western Electric rule violations. */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { parseWith } from '../../core/validate.ts';
import { pChart, subgroupsFrom } from '../spc.ts';
import { assertLine, type LineHttpOptions } from './context.ts';

const query = z.strictObject({
  station: z.string().min(1).max(64).optional(),
  line: z.string().min(1).max(64).optional(),
  interval_s: z.coerce.number().int().min(1).max(86_400).default(60),
  points: z.coerce.number().int().min(2).max(500).default(50),
});

export function spcRoutes(o: LineHttpOptions): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/spc/p-chart', { config: { role: 'viewer', lineParam: 'line' } }, async (req) => {
      const q = parseWith(query, req.query);
      if (q.line) assertLine(req, q.line);
      const end = o.clock.now();
      const since = end - q.interval_s * q.points * 1000;
      const outcomes = await o.runtime.store.partOutcomes({ since, station: q.station, line: q.line });
      const chart = pChart(subgroupsFrom(outcomes, end, q.interval_s, q.points));
      return { station: q.station ?? null, line: q.line ?? null, interval_s: q.interval_s, ...chart };
    });
  };
}
