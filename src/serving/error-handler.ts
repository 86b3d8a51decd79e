/**
 * One error shape for every route: LsError -> its status and `{ error, code }`; Fastify's own body
 * errors are mapped to catalogue codes (bad JSON 400, too large 413, wrong content type 415).
 * Also refuses paths that try to climb out of a folder (`..`, also URL-encoded) before routing.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LsError, isLsError, type ErrorCode } from '../core/errors.ts';

/** Codes whose answer should tell the client to retry shortly. */
const RETRY_CODES = new Set<ErrorCode>(['LS_ERR_QUEUE_FULL', 'LS_ERR_SHUTTING_DOWN', 'LS_ERR_MODEL_NOT_READY']);

/** Map anything thrown in a route to the LsError the client sees. */
export function toHttpError(err: unknown): LsError {
  if (isLsError(err)) return err;
  const e = err as Partial<FastifyError> & { message?: string };
  const code = e.code ?? '';
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) return new LsError('LS_ERR_PAYLOAD_TOO_LARGE');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e.statusCode === 415) return new LsError('LS_ERR_CONTENT_TYPE', e.message?.replace(/^Unsupported Media Type:?\s*/i, ''));
  if (e.validation) return new LsError('LS_ERR_VALIDATION', e.message);
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return new LsError('LS_ERR_BAD_JSON', e.message);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const mapped = new LsError('LS_ERR_BAD_REQUEST', e.message);
    return Object.assign(mapped, { status: e.statusCode });
  }
  return new LsError('LS_ERR_INTERNAL', undefined, { cause: err });
}

/** Send an LsError the standard way (used by the error handler and by hooks). */
export function sendError(reply: FastifyReply, err: LsError): FastifyReply {
  if (RETRY_CODES.has(err.code)) reply.header('retry-after', '1');
  return reply.code(err.status).type('application/json; charset=utf-8').send({ error: err.message, code: err.code });
}

/** True when a URL path (raw or decoded) contains a `..` segment or a backslash/NUL. */
export function isTraversalPath(url: string): boolean {
  const pathPart = url.split('?')[0] ?? '';
  let decoded = pathPart;
  for (let i = 0; i < 3; i++) {
    try {
      const next = decodeURIComponent(decoded);
      if (next === decoded) break;
      decoded = next;
    } catch {
      return true; // malformed escapes: refuse rather than guess
    }
  }
  return /(^|[/\\])\.\.([/\\]|$)/.test(decoded) || decoded.includes('\0') || decoded.includes('\\');
}

/** Install the error handler, the 404 handler and the path-traversal guard on an app. */
export function installErrorHandling(app: FastifyInstance): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (isTraversalPath(req.url)) return sendError(reply, new LsError('LS_ERR_PATH_TRAVERSAL', 'the URL contains ".."'));
  });
  app.setErrorHandler((error, req, reply) => {
    const err = toHttpError(error);
    if (err.status >= 500 && err.code !== 'LS_ERR_QUEUE_FULL' && err.code !== 'LS_ERR_MODEL_NOT_READY' && err.code !== 'LS_ERR_SHUTTING_DOWN') {
      req.log.error({ err: error, code: err.code }, 'request failed');
    }
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, new LsError('LS_ERR_NOT_FOUND', `${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`)));
}
