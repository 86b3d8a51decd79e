/** Open Inference Protocol v2 health: `GET /v2/health/live`, `GET /v2/health/ready` (200 = true, 4xx = false, empty body). */
import type { FastifyPluginAsync } from 'fastify';
import { healthOf } from '../../../monitoring/health.ts';

export interface HealthRouteOptions {
  /** True once shutdown has begun: readiness turns false so load balancers move away. */
  readonly closing: () => boolean;
}

export const v2HealthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, opts) => {
  app.get('/v2/health/live', { config: { role: 'public' } }, async (_req, reply) => reply.code(200).send());
  app.get('/v2/health/ready', { config: { role: 'public' } }, async (_req, reply) => {
    const h = healthOf(app.linesight.service, opts.closing());
    return reply.code(h.ready ? 200 : 400).send();
  });
};
