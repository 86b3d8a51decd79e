/** `GET /metrics`: the Prometheus text exposition of the server's registry. */
import type { FastifyPluginAsync } from 'fastify';

export const metricsRoutes: FastifyPluginAsync = async (app) => {
  const { metrics } = app.linesight;
  app.get('/metrics', { config: { role: 'viewer' } }, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()));
};
