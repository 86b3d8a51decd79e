/**
 * The security flags of `linesight serve` and `linesight start`, in one place: add them to a
 * command with `addSecurityOptions(cmd)` (flags the command already has are left alone) and turn
 * the parsed values into `setupSecurity` options with `securityOptionsFromFlags(opts)`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import YAML from 'yaml';
import { z } from 'zod';
import { LsError } from '../core/errors.ts';
import { parseWith } from '../core/validate.ts';
import type { SecurityOptions } from './index.ts';
import type { JwtOptions } from './jwt.ts';

const FLAGS: ReadonlyArray<readonly [flags: string, description: string, defaultValue?: string]> = [
  ['--insecure-no-auth', 'no authentication (every caller is admin); for an isolated lab bench only, warned at every start'],
  ['--tokens-file <file>', 'API token file (default <data>/tokens.json)'],
  ['--data-key-file <file>', 'AES-256 data key encrypting stored images and readings (else LINESIGHT_DATA_KEY)'],
  ['--tls-cert <file>', 'TLS certificate (PEM) for HTTPS and MQTT'],
  ['--tls-key <file>', 'TLS private key (PEM)'],
  ['--tls-ca <file>', 'CA certificate: clients must present a certificate it signed (mutual TLS)'],
  ['--mqtt-users-file <file>', 'users of the embedded MQTT broker (default <data>/mqtt-users.json)'],
  ['--require-signed-models', 'load only models signed by a --trusted-key (`linesight models sign`)'],
  ['--trusted-key <files...>', 'public keys (PEM) trusted for model signatures'],
  ['--oidc <file>', 'identity-provider settings (JSON or YAML: jwks_url or jwks_file, issuer, audience, role_claim, role_map, lines_claim)'],
  ['--auth-max-failures <n>', 'failed authentications per address and minute before 429', '10'],
  ['--audit-max-mb <mb>', 'rotate the audit log into numbered segments (audit.log.1, .2, ...) at this size; 0 = never', '64'],
];

/** Add the security flags a command does not define yet. */
export function addSecurityOptions(cmd: Command): Command {
  for (const [flags, description, def] of FLAGS) {
    const long = flags.split(' ')[0]!;
    if (cmd.options.some((o) => o.long === long)) continue;
    if (def === undefined) cmd.option(flags, description);
    else cmd.option(flags, description, def);
  }
  return cmd;
}

const flagsSchema = z.object({
  insecureNoAuth: z.boolean().optional(),
  tokensFile: z.string().min(1).optional(),
  dataKeyFile: z.string().min(1).optional(),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  tlsCa: z.string().min(1).optional(),
  mqttUsersFile: z.string().min(1).optional(),
  requireSignedModels: z.boolean().optional(),
  trustedKey: z.array(z.string().min(1)).optional(),
  oidc: z.string().min(1).optional(),
  authMaxFailures: z.coerce.number().int().min(1).max(100_000).optional(),
  auditMaxMb: z.coerce.number().min(0).max(1_000_000).optional(),
});

/** setupSecurity options from parsed flags (everything but log, dataDir, repoDir, registry, print). */
export async function securityOptionsFromFlags(raw: Record<string, unknown>): Promise<Omit<SecurityOptions, 'log'>> {
  const f = parseWith(flagsSchema, raw, 'LS_ERR_VALIDATION', 'security options');
  let oidc: JwtOptions | undefined;
  if (f.oidc) {
    try {
      oidc = YAML.parse(await readFile(f.oidc, 'utf8')) as JwtOptions;
    } catch (e) {
      throw new LsError('LS_ERR_SECURITY_CONFIG', `cannot read --oidc: ${(e as Error).message}`, { subject: f.oidc });
    }
  }
  return {
    ...(f.insecureNoAuth ? { insecureNoAuth: true } : {}),
    ...(f.tokensFile ? { tokensFile: f.tokensFile } : {}),
    ...(f.dataKeyFile ? { dataKeyFile: f.dataKeyFile } : {}),
    ...(f.tlsCert ? { tlsCert: f.tlsCert } : {}),
    ...(f.tlsKey ? { tlsKey: f.tlsKey } : {}),
    ...(f.tlsCa ? { tlsCa: f.tlsCa } : {}),
    ...(f.mqttUsersFile ? { mqttUsersFile: f.mqttUsersFile } : {}),
    ...(f.requireSignedModels ? { requireSignedModels: true } : {}),
    ...(f.trustedKey ? { trustedKeys: f.trustedKey } : {}),
    ...(oidc ? { oidc } : {}),
    ...(f.authMaxFailures ? { limiter: { maxFailures: f.authMaxFailures, windowMs: 60_000 } } : {}),
    ...(f.auditMaxMb !== undefined ? { auditMaxBytes: Math.round(f.auditMaxMb * 1024 * 1024) } : {}),
  };
}
