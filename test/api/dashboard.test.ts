import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LsError } from '../../src/core/errors.ts';
import { dashboardPlugin } from '../../src/serving/routes/dashboard.ts';

let dir: string;
let app: FastifyInstance;
let routes: RouteOptions[];

async function build(distDir: string): Promise<FastifyInstance> {
  const a = Fastify();
  routes = [];
  a.addHook('onRoute', (r) => {
    routes.push(r);
  });
  // the serving app maps LsError to its status; mimic that contract here
  a.setErrorHandler((err, _req, reply) => {
    if (err instanceof LsError) return reply.code(err.status).send({ error: err.message, code: err.code });
    return reply.code(500).send({ error: String(err) });
  });
  await a.register(dashboardPlugin, { distDir });
  await a.ready();
  return a;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ls-dash-'));
});
afterEach(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('dashboard plugin', () => {
  it('answers / with a 503 text telling to run npm run build when web/dist is missing', async () => {
    app = await build(path.join(dir, 'nope'));
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('npm run build');
  });

  it('serves the page with no-cache and a CSP, and hashed assets as immutable', async () => {
    await mkdir(path.join(dir, 'assets'), { recursive: true });
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>LineSight</title>');
    await writeFile(path.join(dir, 'assets', 'index-Ab12_x.js'), 'console.log(1)');
    app = await build(dir);
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.body).toContain('<title>LineSight</title>');
    const js = await app.inject({ method: 'GET', url: '/assets/index-Ab12_x.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(String(js.headers['cache-control'])).toContain('immutable');
  });

  it('refuses unknown or escaping asset paths with LS_ERR_NOT_FOUND', async () => {
    await mkdir(path.join(dir, 'assets'), { recursive: true });
    await writeFile(path.join(dir, 'index.html'), 'x');
    await writeFile(path.join(dir, 'secret.txt'), 'TOP-SECRET-CONTENT');
    app = await build(dir);
    for (const url of ['/assets/missing.js', '/assets/..%2Fsecret.txt', '/assets/%2e%2e%2fsecret.txt', '/assets/.hidden']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().code, url).toBe('LS_ERR_NOT_FOUND');
      expect(res.body).not.toContain('TOP-SECRET-CONTENT');
    }
  });

  it('declares role public on every route it adds (the data comes from the protected API)', async () => {
    app = await build(dir);
    expect(routes.length).toBeGreaterThanOrEqual(3);
    for (const r of routes) expect((r.config as { role?: string } | undefined)?.role, r.url).toBe('public');
  });
});
