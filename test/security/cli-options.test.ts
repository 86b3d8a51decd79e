import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { addSecurityOptions, securityOptionsFromFlags } from '../../src/security/cli-options.ts';
import { exposureWarnings } from '../../src/security/index.ts';
import { tempDir } from './helpers.ts';

describe('security flags for serve/start', () => {
  it('adds the flags a command lacks, keeps the ones it has, and maps them to setupSecurity options', async () => {
    const tmp = tempDir();
    try {
      const oidc = path.join(tmp.dir, 'oidc.yaml');
      writeFileSync(oidc, 'jwks_file: jwks.json\nissuer: https://idp\nrole_claim: groups\n');
      const cmd = new Command('start').exitOverride().option('--tls-cert <file>', 'own description');
      addSecurityOptions(cmd);
      expect(cmd.options.filter((o) => o.long === '--tls-cert')).toHaveLength(1);
      cmd.parse(['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-ca', 'ca.pem', '--require-signed-models', '--trusted-key', 'a.pub', 'b.pub', '--oidc', oidc, '--auth-max-failures', '5', '--audit-max-mb', '0.5'], { from: 'user' });
      const o = await securityOptionsFromFlags(cmd.opts());
      expect(o).toMatchObject({
        tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: 'ca.pem', requireSignedModels: true, trustedKeys: ['a.pub', 'b.pub'],
        oidc: { jwks_file: 'jwks.json', issuer: 'https://idp', role_claim: 'groups' }, limiter: { maxFailures: 5 }, auditMaxBytes: 524288,
      });
      // the default (64 MB) applies when the flag is not given
      const d = new Command('serve').exitOverride();
      addSecurityOptions(d);
      d.parse([], { from: 'user' });
      expect((await securityOptionsFromFlags(d.opts())).auditMaxBytes).toBe(64 * 1024 * 1024);
      expect(o.insecureNoAuth).toBeUndefined();
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses a bad value and an unreadable --oidc file with clear codes', async () => {
    await expect(securityOptionsFromFlags({ authMaxFailures: 'lots' })).rejects.toMatchObject({ code: 'LS_ERR_VALIDATION' });
    await expect(securityOptionsFromFlags({ auditMaxMb: '-1' })).rejects.toMatchObject({ code: 'LS_ERR_VALIDATION' });
    await expect(securityOptionsFromFlags({ oidc: '/nonexistent/oidc.yaml' })).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
  });
});

describe('exposure warnings', () => {
  it('warn about plain HTTP or no auth only when listening beyond this machine', () => {
    expect(exposureWarnings('127.0.0.1', false, true)).toEqual([]);
    expect(exposureWarnings('localhost', false, false)).toEqual([]);
    expect(exposureWarnings('0.0.0.0', true, false)).toEqual([]);
    expect(exposureWarnings('0.0.0.0', false, false)).toEqual([expect.stringMatching(/plain HTTP/)]);
    expect(exposureWarnings('10.1.2.3', true, true)).toEqual([expect.stringMatching(/authentication OFF/)]);
  });
});
