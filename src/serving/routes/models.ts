/** `GET /v1/models`: every model version the server knows, with its lifecycle state (for the dashboard). */
import type { FastifyPluginAsync } from 'fastify';
import { healthOf } from '../../monitoring/health.ts';

export const modelsRoutes: FastifyPluginAsync<{ closing: () => boolean }> = async (app, opts) => {
  app.get('/v1/models', { config: { role: 'viewer' } }, async () => {
    const h = healthOf(app.linesight.service, opts.closing());
    return { ready: h.ready, models: h.models };
  });
};
