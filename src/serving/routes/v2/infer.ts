/**
 * `POST /v2/models/{m}[/versions/{v}]/infer`: JSON tensors or the binary tensor data extension
 * (`Inference-Header-Content-Length`, `binary_data_size`, `binary_data_output`). The body is read
 * as bytes for every content type, since binary requests often arrive labelled application/json.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { LsError } from '../../../core/errors.ts';
import { assertModelName, parseVersion } from '../../../repository/repository.ts';
import { decodeInferRequest, encodeInferResponse } from '../../protocol/tensor-codec.ts';
import { servedVersionOf } from '../request-model.ts';

interface Params {
  m: string;
  v?: string;
}

export const v2InferRoutes: FastifyPluginAsync = async (app) => {
  const { service, metrics } = app.linesight;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const handler = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const t0 = performance.now();
    const { m } = req.params;
    assertModelName(m);
    const version = req.params.v === undefined ? undefined : parseVersion(req.params.v);
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new LsError('LS_ERR_BAD_JSON', 'the body is empty');
    const manifest = await service.manifest(m, version);
    const header = req.headers['inference-header-content-length'];
    const decoded = decodeInferRequest(body, Array.isArray(header) ? header[0] : header, manifest);
    const names = decoded.outputs?.map((o) => o.name);
    const r = await service.inferTensors(m, decoded.feeds, { version, ...(names ? { outputs: names } : {}) });
    servedVersionOf.set(req, r.version);
    const out = encodeInferResponse({ model: m, version: r.version, ...(decoded.request.id !== undefined ? { id: decoded.request.id } : {}) }, r.outputs, decoded);
    metrics.observeTimings(m, r.version, { total_ms: performance.now() - t0 });
    if (out.headerLength !== undefined) {
      reply.header('inference-header-content-length', String(out.headerLength)).type('application/octet-stream');
    } else {
      reply.type('application/json; charset=utf-8');
    }
    return reply.send(out.body);
  };
  const config = { role: 'inspector' as const, metricsEndpoint: 'v2_infer' };
  app.post<{ Params: Params }>('/v2/models/:m/infer', { config }, handler);
  app.post<{ Params: Params }>('/v2/models/:m/versions/:v/infer', { config }, handler);
};
