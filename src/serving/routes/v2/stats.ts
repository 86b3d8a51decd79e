/** Triton's statistics extension: `GET /v2/models/stats`, `GET /v2/models/{m}[/versions/{v}]/stats`. */
import type { FastifyPluginAsync } from 'fastify';
import { LsError } from '../../../core/errors.ts';
import { assertModelName, parseVersion } from '../../../repository/repository.ts';
import { hasModelControl } from '../../model-control.ts';

interface Params {
  m?: string;
  v?: string;
}

export const v2StatsRoutes: FastifyPluginAsync = async (app) => {
  const service = app.linesight.service;
  const handler = async (p: Params) => {
    if (!hasModelControl(service)) throw new LsError('LS_ERR_BAD_REQUEST', 'this server keeps no per-model statistics');
    if (p.m !== undefined) assertModelName(p.m);
    const version = p.v === undefined ? undefined : parseVersion(p.v);
    if (p.m !== undefined) await service.manifest(p.m, version); // 404 for unknown model/version
    return { model_stats: service.stats(p.m, version) };
  };
  app.get('/v2/models/stats', { config: { role: 'viewer' } }, async () => handler({}));
  app.get<{ Params: Params }>('/v2/models/:m/stats', { config: { role: 'viewer' } }, async (req) => handler(req.params));
  app.get<{ Params: Params }>('/v2/models/:m/versions/:v/stats', { config: { role: 'viewer' } }, async (req) => handler(req.params));
};
