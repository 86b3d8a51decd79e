/**
 * Triton's model repository extension: `POST /v2/repository/index`,
 * `POST /v2/repository/models/{m}/load` and `.../unload`. Load/unload need the engineer role
 * and are written to the audit log when one is given.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { LsError } from '../../../core/errors.ts';
import { parseWith } from '../../../core/validate.ts';
import { assertModelName } from '../../../repository/repository.ts';
import type { AuditSink } from '../../model-manager.ts';
import { hasModelControl } from '../../model-control.ts';

export interface RepositoryRouteOptions {
  readonly audit?: AuditSink;
}

const indexBody = z.object({ ready: z.boolean().optional() }).optional();

/** The caller's id for audit entries (`anonymous` when auth is off). */
export function actorOf(req: FastifyRequest): string {
  return (req as FastifyRequest & { principal?: { id?: string } }).principal?.id ?? 'anonymous';
}

export const v2RepositoryRoutes: FastifyPluginAsync<RepositoryRouteOptions> = async (app, opts) => {
  const service = app.linesight.service;
  const control = () => {
    if (!hasModelControl(service)) throw new LsError('LS_ERR_BAD_REQUEST', 'this server does not manage its model repository');
    return service;
  };
  app.post('/v2/repository/index', { config: { role: 'viewer' } }, async (req) => {
    const body = parseWith(indexBody, req.body ?? undefined);
    return control().index({ ready: body?.ready ?? false });
  });
  for (const action of ['load', 'unload'] as const) {
    app.post<{ Params: { m: string } }>(`/v2/repository/models/:m/${action}`, { config: { role: 'engineer' } }, async (req, reply) => {
      const { m } = req.params;
      assertModelName(m);
      const c = control();
      let error: LsError | undefined;
      try {
        if (action === 'load') await c.loadModel(m);
        else await c.unloadModel(m);
      } catch (e) {
        error = e instanceof LsError ? e : new LsError('LS_ERR_INTERNAL', String(e));
      }
      await opts.audit?.append({ actor: actorOf(req), action: `model.${action}`, target: m, details: error ? { error: error.code } : { ok: true } });
      if (error) throw error;
      return reply.code(200).send({});
    });
  }
};
