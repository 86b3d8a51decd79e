import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { JwtVerifier } from '../../src/security/jwt.ts';
import { authPlugin } from '../../src/security/auth-plugin.ts';
import { TokenStore } from '../../src/security/tokens.ts';
import { silentLogger } from '../../src/core/log.ts';
import { tempDir } from './helpers.ts';

describe('identity-provider JWTs (local JWKS file)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let key: CryptoKey;
  let otherKey: CryptoKey;
  let verifier: JwtVerifier;
  beforeAll(async () => {
    tmp = tempDir();
    const kp = await generateKeyPair('ES256');
    key = kp.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const file = path.join(tmp.dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [jwk] }));
    verifier = await JwtVerifier.create({ jwks_file: file, issuer: 'https://idp.plant', audience: 'linesight', role_claim: 'groups', role_map: { 'qa-team': 'inspector', 'ml-team': 'engineer' }, lines_claim: 'lines' });
  });
  afterAll(() => tmp.cleanup());

  const sign = (claims: Record<string, unknown>, opts: { k?: CryptoKey; iss?: string; aud?: string; exp?: string } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('alice').setIssuer(opts.iss ?? 'https://idp.plant')
      .setAudience(opts.aud ?? 'linesight').setIssuedAt().setExpirationTime(opts.exp ?? '5m').sign(opts.k ?? key);

  it('refuses wrong signer, issuer, audience, expired tokens and tokens without a mapped role', async () => {
    expect((await verifier.verify(await sign({ groups: ['qa-team'] }, { k: otherKey }))).ok).toBe(false);
    expect((await verifier.verify(await sign({ groups: ['qa-team'] }, { iss: 'https://evil' }))).ok).toBe(false);
    expect((await verifier.verify(await sign({ groups: ['qa-team'] }, { aud: 'other' }))).ok).toBe(false);
    expect((await verifier.verify(await sign({ groups: ['qa-team'] }, { exp: '-10m' }))).ok).toBe(false);
    expect(await verifier.verify(await sign({ groups: ['canteen'] }))).toMatchObject({ ok: false, reason: /no LineSight role/ });
  });

  it('maps the highest role of the claim and the line scope', async () => {
    const r = await verifier.verify(await sign({ groups: ['qa-team', 'ml-team'], lines: ['lineA'] }));
    expect(r).toMatchObject({ ok: true, principal: { id: 'jwt:alice', role: 'engineer', lines: ['lineA'], via: 'jwt' } });
  });

  it('works through the auth plugin next to API tokens', async () => {
    const tokens = await TokenStore.open(path.join(tmp.dir, 'tokens.json'));
    const app = Fastify();
    app.post('/feedback', { config: { role: 'inspector' } }, async (req) => ({ who: req.principal?.id }));
    app.post('/load', { config: { role: 'engineer' } }, async () => ({ ok: true }));
    await app.register(authPlugin, { tokens, jwt: verifier, log: silentLogger() });
    const jwt = await sign({ groups: ['qa-team'] });
    const h = { authorization: `Bearer ${jwt}` };
    expect((await app.inject({ method: 'POST', url: '/feedback', headers: h })).json()).toEqual({ who: 'jwt:alice' });
    expect((await app.inject({ method: 'POST', url: '/load', headers: h })).statusCode).toBe(403);
    const forged = await sign({ groups: ['ml-team'] }, { k: otherKey });
    expect((await app.inject({ method: 'POST', url: '/load', headers: { authorization: `Bearer ${forged}` } })).statusCode).toBe(401);
    await app.close();
  });

  it('fetches keys from a JWKS URL (the identity provider\'s endpoint)', async () => {
    const http = await import('node:http');
    const kp = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'remote-1', alg: 'ES256' };
    let fetched = 0;
    const server = http.createServer((_req, res) => {
      fetched++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const v = await JwtVerifier.create({ jwks_url: `http://127.0.0.1:${port}/certs`, issuer: 'https://idp.plant' });
      const jwt = await new SignJWT({ roles: ['viewer'] }).setProtectedHeader({ alg: 'ES256', kid: 'remote-1' }).setSubject('bob').setIssuer('https://idp.plant').setExpirationTime('5m').sign(kp.privateKey);
      expect(await v.verify(jwt)).toMatchObject({ ok: true, principal: { id: 'jwt:bob', role: 'viewer' } });
      expect(fetched).toBeGreaterThanOrEqual(1);
    } finally {
      server.close();
    }
    await expect(JwtVerifier.create({ jwks_url: 'http://idp.plant/certs' })).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG', message: expect.stringMatching(/https/) });
  });

  it('refuses a configuration with neither or both of jwks_url and jwks_file', async () => {
    await expect(JwtVerifier.create({})).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
    await expect(JwtVerifier.create({ jwks_file: 'a', jwks_url: 'https://x/jwks' })).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
  });
});
