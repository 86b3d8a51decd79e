import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { authPlugin } from '../../src/security/auth-plugin.ts';
import { FailureLimiter } from '../../src/security/failure-limiter.ts';
import { TokenStore } from '../../src/security/tokens.ts';
import { silentLogger } from '../../src/core/log.ts';
import { fakeClock, tempDir } from './helpers.ts';

/** A small app with one route per role and line-scoped routes, independent of the serving app. */
async function buildTestApp(tokens: TokenStore, opts: { registry?: Registry; limiter?: FailureLimiter; insecure?: boolean } = {}): Promise<FastifyInstance> {
  const app = Fastify();
  app.get('/health', { config: { role: 'public' } }, async () => ({ ok: true }));
  app.get('/read', { config: { role: 'viewer' } }, async (req) => ({ who: req.principal?.id, role: req.principal?.role }));
  app.post('/feedback', { config: { role: 'inspector' } }, async () => ({ ok: true }));
  app.post('/models/load', { config: { role: 'engineer' } }, async () => ({ ok: true }));
  app.post('/tokens', { config: { role: 'admin' } }, async () => ({ ok: true }));
  app.get('/lines/:line/summary', { config: { role: 'viewer', lineParam: 'line' } }, async () => ({ ok: true }));
  app.post('/ack', { config: { role: 'inspector', lineParam: 'line' } }, async () => ({ ok: true }));
  app.get('/q', { config: { role: 'viewer' } }, async (req) => ({ query: req.query }));
  app.post('/undeclared', async () => ({ ok: true }));
  await app.register(authPlugin, {
    tokens,
    log: silentLogger(),
    insecureNoAuth: opts.insecure ?? false,
    ...(opts.registry ? { registry: opts.registry } : {}),
    ...(opts.limiter ? { limiter: opts.limiter } : {}),
  });
  await app.ready();
  return app;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('auth plugin: refusals first', () => {
  let tmp: ReturnType<typeof tempDir>;
  let tokens: TokenStore;
  let app: FastifyInstance;
  let registry: Registry;
  beforeEach(async () => {
    tmp = tempDir();
    tokens = await TokenStore.open(path.join(tmp.dir, 'tokens.json'));
    registry = new Registry();
    app = await buildTestApp(tokens, { registry });
  });
  afterEach(async () => {
    await app.close();
    tmp.cleanup();
  });

  it('no token -> 401 with a stable code and WWW-Authenticate', async () => {
    for (const [method, url] of [['GET', '/read'], ['POST', '/feedback'], ['POST', '/models/load'], ['POST', '/tokens']] as const) {
      const r = await app.inject({ method, url });
      expect(r.statusCode, url).toBe(401);
      expect(r.json().code).toBe('LS_ERR_UNAUTHENTICATED');
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    }
  });

  it('garbage, forged and malformed tokens -> 401', async () => {
    const { token } = await tokens.create({ role: 'admin' });
    const forged = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    for (const t of ['nonsense', forged, 'lst_000000000000_' + 'A'.repeat(43), 'a.b.c']) {
      const r = await app.inject({ method: 'GET', url: '/read', headers: bearer(t) });
      expect(r.statusCode, t).toBe(401);
    }
    const r = await app.inject({ method: 'GET', url: '/read', headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(r.statusCode).toBe(401);
  });

  it('a valid token without the role -> 403, each role reaches exactly its level', async () => {
    const roles = ['viewer', 'inspector', 'engineer', 'admin'] as const;
    const routes = [['GET', '/read'], ['POST', '/feedback'], ['POST', '/models/load'], ['POST', '/tokens']] as const;
    for (const [i, role] of roles.entries()) {
      const { token } = await tokens.create({ role });
      for (const [j, [method, url]] of routes.entries()) {
        const r = await app.inject({ method, url, headers: bearer(token) });
        expect(r.statusCode, `${role} ${url}`).toBe(j <= i ? 200 : 403);
        if (j > i) expect(r.json().code).toBe('LS_ERR_FORBIDDEN');
      }
    }
  });

  it('a token for line A on line B -> 403 (path param and body), on line A -> 200', async () => {
    const { token } = await tokens.create({ role: 'inspector', lines: ['lineA'] });
    expect((await app.inject({ method: 'GET', url: '/lines/lineB/summary', headers: bearer(token) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/lines/lineA/summary', headers: bearer(token) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/ack', headers: bearer(token), payload: { line: 'lineB' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/ack', headers: bearer(token), payload: { line: 'lineA' } })).statusCode).toBe(200);
    // a scoped token must name its line; an unscoped one need not
    expect((await app.inject({ method: 'POST', url: '/ack', headers: bearer(token), payload: {} })).statusCode).toBe(403);
    const { token: all } = await tokens.create({ role: 'inspector' });
    expect((await app.inject({ method: 'POST', url: '/ack', headers: bearer(all), payload: { line: 'lineB' } })).statusCode).toBe(200);
  });

  it('a revoked token -> 401, also when another process (the CLI) revoked it in the file', async () => {
    const clock = fakeClock();
    await app.close();
    tokens = await TokenStore.open(tokens.file, { clock, recheckMs: 1000 });
    app = await buildTestApp(tokens);
    const { token, info } = await tokens.create({ role: 'viewer' });
    expect((await app.inject({ method: 'GET', url: '/read', headers: bearer(token) })).statusCode).toBe(200);
    const cli = await TokenStore.open(tokens.file);
    await cli.revoke(info.id);
    clock.advance(1000);
    const r = await app.inject({ method: 'GET', url: '/read', headers: bearer(token) });
    expect(r.statusCode).toBe(401);
    expect(r.json().error).toMatch(/revoked/);
  });

  it('a route that declares no role is admin-only', async () => {
    const { token: eng } = await tokens.create({ role: 'engineer' });
    const { token: adm } = await tokens.create({ role: 'admin' });
    expect((await app.inject({ method: 'POST', url: '/undeclared' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/undeclared', headers: bearer(eng) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/undeclared', headers: bearer(adm) })).statusCode).toBe(200);
  });

  it('unknown URLs: 401 without a token, 404 with any valid token', async () => {
    expect((await app.inject({ method: 'GET', url: '/no/such/route' })).statusCode).toBe(401);
    const { token } = await tokens.create({ role: 'viewer' });
    expect((await app.inject({ method: 'GET', url: '/no/such/route', headers: bearer(token) })).statusCode).toBe(404);
  });

  it('public routes need nothing; the principal is set for handlers', async () => {
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    const { token } = await tokens.create({ role: 'viewer', name: 'wall-screen' });
    expect((await app.inject({ method: 'GET', url: '/read', headers: bearer(token) })).json()).toEqual({ who: 'token:wall-screen', role: 'viewer' });
  });

  it('?access_token= works on GET only and is removed from the query handlers see', async () => {
    const { token } = await tokens.create({ role: 'admin' });
    const r = await app.inject({ method: 'GET', url: `/q?access_token=${token}&x=1` });
    expect(r.statusCode).toBe(200);
    expect(r.json().query).toEqual({ x: '1' });
    expect((await app.inject({ method: 'POST', url: `/tokens?access_token=${token}` })).statusCode).toBe(401);
  });

  it('counts security events in metrics', async () => {
    const { token } = await tokens.create({ role: 'viewer' });
    await app.inject({ method: 'GET', url: '/read' });
    await app.inject({ method: 'GET', url: '/read', headers: bearer('lst_bad') });
    await app.inject({ method: 'POST', url: '/tokens', headers: bearer(token) });
    const text = await registry.metrics();
    expect(text).toMatch(/linesight_security_events_total\{event="auth_failed",reason="no_token"\} 1/);
    expect(text).toMatch(/linesight_security_events_total\{event="auth_failed",reason="malformed"\} 1/);
    expect(text).toMatch(/linesight_security_events_total\{event="forbidden",reason="role"\} 1/);
  });
});

describe('auth plugin: rate limit on failures', () => {
  it('answers 429 to bad tokens from an address after N failures until the window passes; valid tokens keep working', async () => {
    const tmp = tempDir();
    const clock = fakeClock();
    const tokens = await TokenStore.open(path.join(tmp.dir, 'tokens.json'));
    const { token } = await tokens.create({ role: 'viewer' });
    const app = await buildTestApp(tokens, { limiter: new FailureLimiter({ maxFailures: 3, windowMs: 60_000, clock }) });
    try {
      for (let i = 0; i < 3; i++) expect((await app.inject({ method: 'GET', url: '/read', headers: bearer('lst_wrong') })).statusCode).toBe(401);
      const r = await app.inject({ method: 'GET', url: '/read', headers: bearer('lst_wrong_again') });
      expect(r.statusCode).toBe(429);
      expect(r.json().code).toBe('LS_ERR_RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      // a revoked or unknown token no longer learns why it failed
      expect((await app.inject({ method: 'GET', url: '/read', headers: bearer(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`) })).statusCode).toBe(429);
      expect((await app.inject({ method: 'GET', url: '/read', headers: bearer(token) })).statusCode).toBe(200);
      clock.advance(60_001);
      expect((await app.inject({ method: 'GET', url: '/read', headers: bearer('lst_wrong') })).statusCode).toBe(401);
    } finally {
      await app.close();
      tmp.cleanup();
    }
  });

  it('keeps memory bounded under a spray of addresses', () => {
    const l = new FailureLimiter({ maxTracked: 100 });
    for (let i = 0; i < 10_000; i++) l.fail(`10.0.${i >> 8}.${i & 255}`);
    expect(l.size).toBe(100);
  });
});

describe('auth plugin: insecure mode', () => {
  it('--insecure-no-auth makes every caller the anonymous admin', async () => {
    const tmp = tempDir();
    const tokens = await TokenStore.open(path.join(tmp.dir, 'tokens.json'));
    const app = await buildTestApp(tokens, { insecure: true });
    try {
      const r = await app.inject({ method: 'GET', url: '/read' });
      expect(r.json()).toEqual({ who: 'anonymous', role: 'admin' });
    } finally {
      await app.close();
      tmp.cleanup();
    }
  });
});
