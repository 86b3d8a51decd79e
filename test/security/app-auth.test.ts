/** The real serving app with the security plugin: anonymous and under-privileged requests are refused. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildApp, type BuiltApp } from '../../src/serving/app.ts';
import { setupSecurity, type Security } from '../../src/security/index.ts';
import { silentLogger } from '../../src/core/log.ts';
import { makeServingRepo } from '../api/helpers/serving-repo.ts';
import { tempDir } from './helpers.ts';

describe('serving app + security plugin', () => {
  let tmp: ReturnType<typeof tempDir>;
  let repo: string;
  let sec: Security;
  let built: BuiltApp;
  let admin: string;
  let viewer: string;
  let engineer: string;
  beforeAll(async () => {
    tmp = tempDir();
    repo = makeServingRepo();
    sec = await setupSecurity({ dataDir: path.join(tmp.dir, 'data'), repoDir: repo, log: silentLogger() });
    built = await buildApp({ repoDir: repo, plugins: [sec.plugin], audit: sec.audit });
    await built.app.ready();
    admin = readFileSync(sec.bootstrap.adminTokenFile!, 'utf8').trim();
    viewer = (await sec.tokens!.create({ role: 'viewer', name: 'screen' })).token;
    engineer = (await sec.tokens!.create({ role: 'engineer', name: 'eng' })).token;
  });
  afterAll(async () => {
    await built.dispose();
    await sec.dispose();
    rmSync(repo, { recursive: true, force: true });
    tmp.cleanup();
  });

  it('every route declares a role', () => {
    const missing = built.routes.filter((r) => !r.role);
    expect(missing).toEqual([]);
    expect(built.routes.length).toBeGreaterThan(10);
  });

  it('refuses every non-public route without a token (401), mutating ones included', async () => {
    const checked: string[] = [];
    for (const r of built.routes) {
      if (r.role === 'public') continue;
      const url = r.url.replace(/:[A-Za-z_]+/g, 'tiny').replace('*', 'x');
      const res = await built.app.inject({ method: r.method as 'GET', url, ...(r.method === 'GET' ? {} : { payload: {} }) });
      expect(res.statusCode, `${r.method} ${url}`).toBe(401);
      checked.push(`${r.method} ${url}`);
    }
    expect(checked).toContain('POST /v2/repository/models/tiny/unload');
    expect(checked).toContain('POST /v2/models/tiny/infer');
    expect(checked).toContain('POST /v1/tokens');
  });

  it('health stays public; a viewer may read but not unload; an engineer may, and it is audited with who', async () => {
    expect((await built.app.inject({ method: 'GET', url: '/v2/health/live' })).statusCode).toBe(200);
    expect((await built.app.inject({ method: 'GET', url: '/v2/models/tiny', headers: { authorization: `Bearer ${viewer}` } })).statusCode).toBe(200);
    const denied = await built.app.inject({ method: 'POST', url: '/v2/repository/models/tiny/unload', headers: { authorization: `Bearer ${viewer}` } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ code: 'LS_ERR_FORBIDDEN' });
    const ok = await built.app.inject({ method: 'POST', url: '/v2/repository/models/tiny/unload', headers: { authorization: `Bearer ${engineer}` } });
    expect(ok.statusCode).toBe(200);
    const entries = (await built.app.inject({ method: 'GET', url: '/v1/audit', headers: { authorization: `Bearer ${admin}` } })).json().entries as Array<{ actor: string; action: string }>;
    expect(entries.some((e) => e.actor === 'token:eng' && /unload/.test(e.action))).toBe(true);
  });

  it('path traversal in model names -> 400 on load, metadata and infer, even for an engineer', async () => {
    const h = { authorization: `Bearer ${engineer}` };
    for (const [method, url] of [
      ['POST', '/v2/repository/models/..%2F..%2Fetc%2Fpasswd/load'],
      ['GET', '/v2/models/..%2Fsecret'],
      ['POST', '/v2/models/..%2F..%2Ftmp%2Fx/infer'],
      ['POST', '/v2/repository/models/http%3A%2F%2Fevil.example%2Fm.onnx/load'],
    ] as const) {
      const r = await built.app.inject({ method, url, headers: h, ...(method === 'POST' ? { payload: {} } : {}) });
      expect(r.statusCode, `${method} ${url} ${r.body}`).toBe(400);
      expect(r.json().code, url).toMatch(/^LS_ERR_(MODEL_NAME|PATH_TRAVERSAL|VALIDATION|BAD_REQUEST)$/);
    }
    // an encoded ".." segment is folded away by the router: the request no longer names a model at all
    expect((await built.app.inject({ method: 'POST', url: '/v2/repository/models/%2e%2e/load', headers: h })).statusCode).toBe(404);
  });

  it('security events appear on the server\'s /metrics', async () => {
    await built.app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer lst_nope' } });
    const text = (await built.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${viewer}` } })).body;
    expect(text).toMatch(/linesight_security_events_total\{event="auth_failed",reason="malformed"\} [1-9]/);
    // the exposition with the security counters still passes promtool
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (r.error && !process.env.CI) return; // promtool not installed here
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});
