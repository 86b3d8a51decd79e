import { describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TokenStore } from '../../src/security/tokens.ts';
import { bootstrapAuth } from '../../src/security/bootstrap.ts';
import { silentLogger } from '../../src/core/log.ts';
import { fakeClock, tempDir } from './helpers.ts';

describe('token file', () => {
  it('stores only a hash, with mode 0600; the token is shown once', async () => {
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'tokens.json');
      const s = await TokenStore.open(file);
      const { token, info } = await s.create({ role: 'engineer', lines: ['lineA', 'lineA'], name: 'alice' });
      const text = readFileSync(file, 'utf8');
      expect(token.slice(17)).toHaveLength(43);
      expect(text).not.toContain(token.slice(17));
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(info).toMatchObject({ role: 'engineer', lines: ['lineA'], name: 'alice', revoked: false });
      expect(JSON.stringify(await s.list())).not.toMatch(/hash/);
      expect(await s.check(token)).toMatchObject({ ok: true, principal: { id: 'token:alice', role: 'engineer', lines: ['lineA'] } });
    } finally {
      tmp.cleanup();
    }
  });

  it('two processes changing the file at once lose nothing (file lock)', async () => {
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'tokens.json');
      const a = await TokenStore.open(file);
      const b = await TokenStore.open(file);
      const made = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).create({ role: 'viewer', name: `t${i}` })));
      await Promise.all(made.slice(0, 5).map((m, i) => (i % 2 ? b : a).revoke(m.info.id)));
      const fresh = await TokenStore.open(file);
      const all = await fresh.list();
      expect(all).toHaveLength(10);
      expect(all.filter((t) => t.revoked)).toHaveLength(5);
      for (const m of made.slice(0, 5)) expect(await fresh.check(m.token)).toEqual({ ok: false, reason: 'revoked' });
    } finally {
      tmp.cleanup();
    }
  });

  it('an expired token is refused', async () => {
    const tmp = tempDir();
    try {
      const clock = fakeClock();
      const s = await TokenStore.open(path.join(tmp.dir, 'tokens.json'), { clock });
      const { token, info } = await s.create({ role: 'viewer', expires_in_days: 1 });
      expect(info.expires_at).toBe(new Date(clock.now() + 86_400_000).toISOString());
      expect((await s.check(token)).ok).toBe(true);
      clock.advance(86_400_000);
      expect(await s.check(token)).toEqual({ ok: false, reason: 'expired' });
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses bad roles, bad line names and unknown ids with clear errors', async () => {
    const tmp = tempDir();
    try {
      const s = await TokenStore.open(path.join(tmp.dir, 'tokens.json'));
      await expect(s.create({ role: 'root' as never })).rejects.toThrow();
      await expect(s.create({ role: 'viewer', lines: ['../x'] })).rejects.toThrow();
      await expect(s.revoke('nope')).rejects.toMatchObject({ code: 'LS_ERR_NOT_FOUND' });
    } finally {
      tmp.cleanup();
    }
  });

  it('a corrupt token file stops the start with LS_ERR_SECURITY_CONFIG instead of allowing everyone', async () => {
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'tokens.json');
      writeFileSync(file, '{"version":1,"tokens":[{"id":"x"}]}');
      await expect(TokenStore.open(file)).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
      writeFileSync(file, 'not json');
      await expect(TokenStore.open(file)).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
    } finally {
      tmp.cleanup();
    }
  });
});

describe('first start', () => {
  it('creates one admin token in an owner-only file, prints the path not the token, and not again', async () => {
    const tmp = tempDir();
    try {
      const tokens = await TokenStore.open(path.join(tmp.dir, 'tokens.json'));
      const printed: string[] = [];
      const r = await bootstrapAuth({ tokens, dataDir: tmp.dir, log: silentLogger(), print: (l) => printed.push(l) });
      expect(r.adminTokenFile).toBe(path.join(tmp.dir, 'admin-token'));
      expect(statSync(r.adminTokenFile!).mode & 0o777).toBe(0o600);
      const token = readFileSync(r.adminTokenFile!, 'utf8').trim();
      expect(await tokens.check(token)).toMatchObject({ ok: true, principal: { role: 'admin' } });
      expect(printed.join('\n')).toContain(r.adminTokenFile!);
      expect(printed.join('\n')).not.toContain(token);
      const again = await bootstrapAuth({ tokens, dataDir: tmp.dir, log: silentLogger() });
      expect(again.adminTokenFile).toBeUndefined();
      expect((await tokens.list()).length).toBe(1);
    } finally {
      tmp.cleanup();
    }
  });

  it('--insecure-no-auth warns at every start', async () => {
    const printed: string[] = [];
    await bootstrapAuth({ dataDir: '/nonexistent', insecureNoAuth: true, log: silentLogger(), print: (l) => printed.push(l) });
    await bootstrapAuth({ dataDir: '/nonexistent', insecureNoAuth: true, log: silentLogger(), print: (l) => printed.push(l) });
    expect(printed.filter((l) => /AUTHENTICATION IS OFF/.test(l))).toHaveLength(2);
  });
});
