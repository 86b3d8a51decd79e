/**
 * Security HTTP routes: the audit log (admin), token management (admin) and model upload
 * (engineer, into the configured repository folder only). Every mutation is audited with the caller.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { LsError } from '../core/errors.ts';
import { parseWith } from '../core/validate.ts';
import { decodeModel } from '../onnx/proto.ts';
import { assertModelName, parseManifest, parseVersion, ModelRepository } from '../repository/repository.ts';
import type { AuditLog } from './audit.ts';
import { resolveInside } from './paths.ts';
import { createTokenSchema, type TokenStore } from './tokens.ts';

export interface SecurityRoutesOptions {
  audit?: AuditLog;
  tokens?: TokenStore;
  /** Model repository for uploads; without it the upload route is not registered. */
  repoDir?: string;
  /** Largest model file accepted by upload, in bytes (default 512 MiB). */
  uploadLimitBytes?: number;
}

const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  after: z.coerce.number().int().min(0).optional(),
});
const idParam = z.strictObject({ id: z.string().regex(/^[a-f0-9]{12}$/, 'a token id is 12 hex digits') });
const UPLOAD_FILES = ['model.onnx', 'config.yaml', 'signature.json'] as const;
const uploadQuery = z.strictObject({
  file: z.enum(UPLOAD_FILES),
  version: z.string().regex(/^[1-9]\d{0,8}$/, 'a version is a positive integer').optional(),
});

function who(req: FastifyRequest): string {
  return req.principal?.id ?? 'anonymous';
}

/** Register with `app.register(securityRoutes, opts)`; each route declares its role for the auth plugin. */
export const securityRoutes: FastifyPluginAsync<SecurityRoutesOptions> = async (app, opts) => {
  if (opts.audit) {
    const audit = opts.audit;
    app.get('/v1/audit', { config: { role: 'admin' } }, async (req) => {
      const q = parseWith(auditQuery, req.query);
      return { entries: await audit.list(q) };
    });
    app.get('/v1/audit/verify', { config: { role: 'admin' } }, async () => audit.verify());
  }

  if (opts.tokens) {
    const tokens = opts.tokens;
    app.get('/v1/tokens', { config: { role: 'admin' } }, async () => ({ tokens: await tokens.list() }));
    app.post('/v1/tokens', { config: { role: 'admin' } }, async (req, reply) => {
      const body = parseWith(createTokenSchema, req.body ?? {});
      const { token, info } = await tokens.create(body, who(req));
      await opts.audit?.append({ actor: who(req), action: 'token.create', target: `token:${info.id}`, details: { role: info.role, lines: info.lines, name: info.name } });
      // the only time the token is ever shown
      return reply.code(201).header('cache-control', 'no-store').send({ token, ...info });
    });
    app.delete('/v1/tokens/:id', { config: { role: 'admin' } }, async (req) => {
      const { id } = parseWith(idParam, req.params);
      const info = await tokens.revoke(id, who(req));
      await opts.audit?.append({ actor: who(req), action: 'token.revoke', target: `token:${id}` });
      return info;
    });
  }

  if (opts.repoDir) {
    const repoDir = opts.repoDir;
    const limit = opts.uploadLimitBytes ?? 512 * 1024 * 1024;
    // raw bytes only in this plugin's scope: the JSON routes elsewhere keep their parsers and limits
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: limit }, (_req, body, done) => done(null, body));
    app.post('/v2/repository/models/:model/upload', { config: { role: 'engineer' }, bodyLimit: limit }, async (req, reply) => {
      const { model } = req.params as { model: string };
      assertModelName(model);
      const q = parseWith(uploadQuery, req.query);
      if (q.file !== 'config.yaml' && q.version === undefined) throw new LsError('LS_ERR_VALIDATION', `${q.file} needs ?version=N`, { subject: model });
      const version = q.version === undefined ? undefined : parseVersion(q.version);
      if (!Buffer.isBuffer(req.body)) throw new LsError('LS_ERR_CONTENT_TYPE', 'send the file as application/octet-stream');
      const bytes = req.body;
      if (bytes.length === 0) throw new LsError('LS_ERR_VALIDATION', 'empty file', { subject: q.file });
      if (q.file === 'model.onnx') decodeModel(bytes, `${model}/${version}/model.onnx`);
      if (q.file === 'config.yaml') parseManifest(bytes.toString('utf8'), `${model}/${version ?? ''}/config.yaml`.replace('//', '/'));
      if (q.file === 'signature.json') {
        try {
          JSON.parse(bytes.toString('utf8'));
        } catch {
          throw new LsError('LS_ERR_BAD_JSON', 'signature.json', { subject: model });
        }
      }
      const repo = await ModelRepository.open(repoDir);
      const rel = version === undefined ? `${model}/${q.file}` : `${model}/${version}/${q.file}`;
      const dest = await resolveInside(repo.root, rel);
      await fs.mkdir(path.dirname(dest), { recursive: true });
      // write beside the target and rename, so the poller never loads a half-written model
      const tmp = path.join(path.dirname(dest), `.upload-${randomBytes(6).toString('hex')}.tmp`);
      await fs.writeFile(tmp, bytes, { flag: 'wx' });
      await fs.rename(tmp, dest);
      await opts.audit?.append({ actor: who(req), action: 'model.upload', target: rel, details: { bytes: bytes.length } });
      return reply.code(201).send({ model, ...(version !== undefined ? { version } : {}), file: q.file, bytes: bytes.length });
    });
  }
};
