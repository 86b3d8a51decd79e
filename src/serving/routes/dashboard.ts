/**
 * Serves the dashboard (web/dist, built by `npm run build`) at `/`. The static shell is public —
 * it holds no data; everything it shows comes from the API, which enforces roles. Hashed assets
 * are cached for a year, the page itself is revalidated so a new build shows on the next load.
 * When web/dist is missing, `/` answers 503 with a plain-text hint to build it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { LsError } from '../../core/errors.ts';
import type {} from '../../security/roles.ts';

/** Default location of the built dashboard: <repo>/web/dist. */
export const DEFAULT_DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

export interface DashboardOptions {
  /** Folder with index.html and assets/ (default web/dist of this checkout). */
  readonly distDir?: string;
}

/** Vite's hashed asset names: letters, digits, `-`, `_`, `.`; anything else is not ours. */
const ASSET_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/**
 * The page may only talk to this server; images may be blob: URLs (token-authenticated image
 * fetches); uPlot sets inline styles on its elements.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const NOT_BUILT = [
  'The LineSight dashboard is not built yet.',
  '',
  'Run `npm run build` in the LineSight folder (npm ci runs it too), then reload this page.',
  'The API is available meanwhile: /v2, /v1 and /metrics.',
  '',
].join('\n');

async function exists(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Fastify plugin: GET / (the page) and GET /assets/:file (its scripts and styles). */
export const dashboardPlugin: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  const root = path.resolve(opts.distDir ?? DEFAULT_DASHBOARD_DIR);
  await app.register(fastifyStatic, { root, serve: false, decorateReply: true });

  const page = async (reply: FastifyReply): Promise<FastifyReply> => {
    if (!(await exists(path.join(root, 'index.html')))) {
      return reply.code(503).header('content-type', 'text/plain; charset=utf-8').header('retry-after', '30').send(NOT_BUILT);
    }
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .sendFile('index.html', root, { cacheControl: false });
  };

  app.get('/', { config: { role: 'public' } }, async (_req, reply) => page(reply));
  app.get('/index.html', { config: { role: 'public' } }, async (_req, reply) => page(reply));

  app.get<{ Params: { file: string } }>('/assets/:file', { config: { role: 'public' } }, async (req, reply) => {
    const file = req.params.file;
    if (!ASSET_RE.test(file) || file.includes('..') || !(await exists(path.join(root, 'assets', file)))) {
      throw new LsError('LS_ERR_NOT_FOUND', `no dashboard asset ${JSON.stringify(file.slice(0, 64))}`, { subject: req.url.slice(0, 200) });
    }
    return reply.header('x-content-type-options', 'nosniff').sendFile(path.join('assets', file), root, { immutable: true, maxAge: '365d' });
  });
};

export default dashboardPlugin;
