/**
 * Optional sign-in through the plant's identity provider: JWTs verified against its JWKS
 * (remote URL with caching via jose's createRemoteJWKSet, or a local JWKS file for an air-gapped
 * plant and for tests), with a claim mapped to LineSight roles.
 */
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { LsError } from '../core/errors.ts';
import { parseWith } from '../core/validate.ts';
import { ROLES, roleRank, type Principal, type Role } from './roles.ts';

/** OIDC settings, validated once. */
export const jwtOptionsSchema = z.strictObject({
  /** JWKS endpoint of the identity provider: https (plain http only on this machine, where nobody can swap the keys in transit). */
  jwks_url: z.url({ protocol: /^https?$/ }).refine((u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(u), 'jwks_url must use https').optional(),
  /** A local JWKS file instead of a URL. */
  jwks_file: z.string().min(1).optional(),
  issuer: z.string().min(1).optional(),
  audience: z.string().min(1).optional(),
  /** Claim holding the user's roles or groups (string or array of strings). */
  role_claim: z.string().min(1).default('roles'),
  /** Claim value -> LineSight role; values that are role names map to themselves. */
  role_map: z.record(z.string(), z.enum(ROLES)).default({}),
  /** Optional claim with the lines the user may act on. */
  lines_claim: z.string().min(1).optional(),
  /** Allowed clock skew in seconds. */
  clock_tolerance_s: z.number().int().min(0).max(300).default(30),
  algorithms: z.array(z.string()).default(['RS256', 'ES256', 'EdDSA', 'PS256']),
}).refine((o) => Boolean(o.jwks_url) !== Boolean(o.jwks_file), { message: 'give exactly one of jwks_url or jwks_file' });
export type JwtOptions = z.input<typeof jwtOptionsSchema>;

/** Verifies identity-provider JWTs and maps them to principals. */
export class JwtVerifier {
  private constructor(
    private readonly opts: z.infer<typeof jwtOptionsSchema>,
    private readonly keys: JWTVerifyGetKey,
  ) {}

  static async create(input: JwtOptions): Promise<JwtVerifier> {
    const opts = parseWith(jwtOptionsSchema, input, 'LS_ERR_SECURITY_CONFIG', 'oidc');
    if (opts.jwks_url) return new JwtVerifier(opts, createRemoteJWKSet(new URL(opts.jwks_url)));
    let jwks: unknown;
    try {
      jwks = JSON.parse(await readFile(opts.jwks_file!, 'utf8'));
    } catch (e) {
      throw new LsError('LS_ERR_SECURITY_CONFIG', `JWKS file: ${(e as Error).message}`, { subject: opts.jwks_file });
    }
    const parsed = z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).safeParse(jwks);
    if (!parsed.success) throw new LsError('LS_ERR_SECURITY_CONFIG', 'JWKS file needs {"keys": [...]}', { subject: opts.jwks_file });
    return new JwtVerifier(opts, createLocalJWKSet(parsed.data as Parameters<typeof createLocalJWKSet>[0]));
  }

  /** Verify signature, expiry, issuer and audience, then map claims to a principal; failures are reasons, not throws. */
  async verify(token: string): Promise<{ ok: true; principal: Principal } | { ok: false; reason: string }> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        ...(this.opts.issuer ? { issuer: this.opts.issuer } : {}),
        ...(this.opts.audience ? { audience: this.opts.audience } : {}),
        algorithms: this.opts.algorithms,
        clockTolerance: this.opts.clock_tolerance_s,
      }));
    } catch (e) {
      return { ok: false, reason: `jwt: ${(e as { code?: string }).code ?? (e as Error).message}` };
    }
    const role = this.mapRole(payload[this.opts.role_claim]);
    if (!role) return { ok: false, reason: 'jwt: no LineSight role in claim' };
    const lines = this.opts.lines_claim ? stringList(payload[this.opts.lines_claim]) : undefined;
    const who = typeof payload.sub === 'string' ? payload.sub : 'unknown';
    return { ok: true, principal: Object.freeze({ id: `jwt:${who}`, role, ...(lines ? { lines: Object.freeze(lines) } : {}), via: 'jwt' as const }) };
  }

  /** The highest role any claim value maps to. */
  private mapRole(claim: unknown): Role | undefined {
    let best: Role | undefined;
    for (const v of stringList(claim) ?? []) {
      const r = this.opts.role_map[v] ?? ((ROLES as readonly string[]).includes(v) ? (v as Role) : undefined);
      if (r && (!best || roleRank(r) > roleRank(best))) best = r;
    }
    return best;
  }
}

function stringList(v: unknown): string[] | undefined {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return undefined;
}
