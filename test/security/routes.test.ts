import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { setupSecurity, type Security } from '../../src/security/index.ts';
import { resolveInside, assertPlainRelative } from '../../src/security/paths.ts';
import { silentLogger } from '../../src/core/log.ts';
import { isLsError } from '../../src/core/errors.ts';
import { tinyImageClassifier, writeTinyRepo } from '../helpers/tiny-model.ts';
import { tempDir } from './helpers.ts';

describe('path checks', () => {
  it('refuse URLs, absolute paths, traversal and odd segments', () => {
    for (const bad of ['http://evil/model.onnx', 'file:///etc/passwd', 's3://b/k', '/etc/passwd', '../x', 'a/../../x', 'a//b', 'a\\..\\b', 'C:/x', 'a/./b', '', 'a\0b']) {
      expect(() => assertPlainRelative(bad), bad).toThrow(expect.objectContaining({ code: 'LS_ERR_PATH_TRAVERSAL' }));
    }
    expect(() => assertPlainRelative('tiny/1/model.onnx')).not.toThrow();
  });

  it('follow symlinks, also dangling ones and ones in parent folders', async () => {
    const tmp = tempDir();
    try {
      const root = path.join(tmp.dir, 'repo');
      mkdirSync(path.join(root, 'ok'), { recursive: true });
      mkdirSync(path.join(tmp.dir, 'outside'));
      symlinkSync(path.join(tmp.dir, 'outside'), path.join(root, 'escape'));
      symlinkSync(path.join(tmp.dir, 'nowhere', 'x'), path.join(root, 'dangling'));
      await expect(resolveInside(root, 'escape/model.onnx')).rejects.toMatchObject({ code: 'LS_ERR_PATH_TRAVERSAL' });
      await expect(resolveInside(root, 'dangling')).rejects.toMatchObject({ code: 'LS_ERR_PATH_TRAVERSAL' });
      expect(await resolveInside(root, 'ok/1/model.onnx')).toBe(path.join(root, 'ok', '1', 'model.onnx'));
    } finally {
      tmp.cleanup();
    }
  });
});

describe('security routes through setupSecurity', () => {
  let tmp: ReturnType<typeof tempDir>;
  let sec: Security;
  let app: FastifyInstance;
  let admin: string;
  let engineer: string;
  let viewer: string;
  let repo: string;
  beforeEach(async () => {
    tmp = tempDir();
    repo = path.join(tmp.dir, 'models');
    writeTinyRepo(repo);
    // a secret next to the repository that no request may reach
    writeFileSync(path.join(tmp.dir, 'secret.txt'), 'top secret');
    sec = await setupSecurity({ dataDir: path.join(tmp.dir, 'data'), repoDir: repo, log: silentLogger() });
    admin = readFileSync(sec.bootstrap.adminTokenFile!, 'utf8').trim();
    engineer = (await sec.tokens!.create({ role: 'engineer', name: 'eng' })).token;
    viewer = (await sec.tokens!.create({ role: 'viewer', name: 'view' })).token;
    app = Fastify();
    app.setErrorHandler((e, _req, reply) => {
      if (isLsError(e)) return reply.code(e.status).send({ error: e.message, code: e.code });
      return reply.code((e as { statusCode?: number }).statusCode ?? 500).send({ error: (e as Error).message });
    });
    await app.register(sec.plugin);
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    await sec.dispose();
    tmp.cleanup();
  });
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  const upload = (url: string, t: string, body: Uint8Array | string = tinyImageClassifier(8, 3, 7)) =>
    app.inject({ method: 'POST', url, headers: { ...auth(t), 'content-type': 'application/octet-stream' }, payload: Buffer.from(body) });

  it('upload: anonymous 401, viewer 403, engineer 201 into the repository only', async () => {
    expect((await app.inject({ method: 'POST', url: '/v2/repository/models/tiny/upload?file=model.onnx&version=2', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from('x') })).statusCode).toBe(401);
    expect((await upload('/v2/repository/models/tiny/upload?file=model.onnx&version=2', viewer)).statusCode).toBe(403);
    const r = await upload('/v2/repository/models/tiny/upload?file=model.onnx&version=2', engineer);
    expect(r.statusCode).toBe(201);
    expect(existsSync(path.join(repo, 'tiny', '2', 'model.onnx'))).toBe(true);
    expect(readdirSync(path.join(repo, 'tiny', '2'))).toEqual(['model.onnx']);
  });

  it('upload: traversal in model names and file paths -> 400, nothing written or read outside', async () => {
    const before = readdirSync(tmp.dir).sort();
    for (const url of [
      '/v2/repository/models/..%2F..%2Fetc/upload?file=model.onnx&version=1',
      '/v2/repository/models/..%2Fsecret.txt/upload?file=config.yaml',
      '/v2/repository/models/tiny/upload?file=..%2F..%2Fsecret.txt&version=1',
      '/v2/repository/models/tiny/upload?file=model.onnx&version=..%2F..',
      '/v2/repository/models/tiny/upload?file=http%3A%2F%2Fevil%2Fm.onnx&version=1',
      '/v2/repository/models/.hidden/upload?file=model.onnx&version=1',
    ]) {
      const r = await upload(url, engineer);
      expect(r.statusCode, `${url} ${r.body}`).toBe(400);
      expect(r.json().code, url).toMatch(/^LS_ERR_(MODEL_NAME|PATH_TRAVERSAL|VALIDATION|VERSION_NOT_FOUND)$/);
    }
    expect(readdirSync(tmp.dir).sort()).toEqual(before);
    expect(readFileSync(path.join(tmp.dir, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('upload: a model folder that is a symlink out of the repository is refused', async () => {
    mkdirSync(path.join(tmp.dir, 'elsewhere'));
    symlinkSync(path.join(tmp.dir, 'elsewhere'), path.join(repo, 'linked'));
    const r = await upload('/v2/repository/models/linked/upload?file=model.onnx&version=1', engineer);
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('LS_ERR_PATH_TRAVERSAL');
    expect(readdirSync(path.join(tmp.dir, 'elsewhere'))).toEqual([]);
  });

  it('upload: a file that is not ONNX or a config that is invalid is refused before it is written', async () => {
    expect((await upload('/v2/repository/models/tiny/upload?file=model.onnx&version=3', engineer, 'not onnx')).json().code).toBe('LS_ERR_MODEL_CORRUPT');
    expect((await upload('/v2/repository/models/tiny/upload?file=config.yaml', engineer, 'task: nonsense')).json().code).toBe('LS_ERR_CONFIG_INVALID');
    expect(existsSync(path.join(repo, 'tiny', '3'))).toBe(false);
  });

  it('tokens: admin creates (shown once), lists and revokes; others get 403; every change is audited', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/tokens', headers: auth(engineer), payload: { role: 'viewer' } })).statusCode).toBe(403);
    const c = await app.inject({ method: 'POST', url: '/v1/tokens', headers: auth(admin), payload: { role: 'inspector', lines: ['lineA'], name: 'qa-1' } });
    expect(c.statusCode).toBe(201);
    const created = c.json();
    expect(created.token).toMatch(/^lst_/);
    const list = (await app.inject({ method: 'GET', url: '/v1/tokens', headers: auth(admin) })).json().tokens;
    expect(JSON.stringify(list)).not.toContain(created.token);
    expect((await app.inject({ method: 'POST', url: '/v1/tokens', headers: auth(admin), payload: { role: 'god' } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'DELETE', url: `/v1/tokens/${created.id}`, headers: auth(admin) })).json().revoked).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/v1/tokens', headers: auth(created.token) })).statusCode).toBe(401);
    const audit = await app.inject({ method: 'GET', url: '/v1/audit', headers: auth(admin) });
    expect(audit.json().entries.map((e: { action: string }) => e.action)).toEqual(['token.revoke', 'token.create']);
    expect(audit.json().entries[1].actor).toBe('token:bootstrap-admin');
    expect((await app.inject({ method: 'GET', url: '/v1/audit', headers: auth(engineer) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/v1/audit/verify', headers: auth(admin) })).json()).toMatchObject({ ok: true, entries: 2 });
  });
});
