/**
 * API tokens: random, shown once, stored only as a SHA-256 hash in a JSON token file (mode 0600)
 * with their role, optional line scopes and a revoked flag. A token carries its id in clear
 * (`lst_<id>_<secret>`) so the check is one lookup and one constant-time compare; SHA-256 is
 * enough because the secret is 256 random bits (a slow hash only matters for guessable passwords).
 */
import { promises as fs } from 'node:fs';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { LsError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { formatZodIssues } from '../core/validate.ts';
import { ROLES, type Principal, type Role } from './roles.ts';
import { readSecretFile, withFileLock, writeSecretFile } from './secret-file.ts';

const TOKEN_RE = /^lst_([a-f0-9]{12})_([A-Za-z0-9_-]{43})$/;
const LINE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const tokenRecord = z.strictObject({
  id: z.string().regex(/^[a-f0-9]{12}$/),
  name: z.string().max(200),
  role: z.enum(ROLES),
  lines: z.array(z.string().regex(LINE_RE)).min(1).optional(),
  /** sha256(secret) in hex. */
  hash: z.string().regex(/^[a-f0-9]{64}$/),
  created_at: z.string(),
  created_by: z.string(),
  /** ISO time after which the token is refused; absent = no expiry. */
  expires_at: z.string().optional(),
  revoked: z.boolean().default(false),
  revoked_at: z.string().optional(),
  revoked_by: z.string().optional(),
});
const tokenFile = z.strictObject({ version: z.literal(1), tokens: z.array(tokenRecord) });

/** A stored token as listed to admins: everything but the hash. */
export type TokenInfo = Omit<z.infer<typeof tokenRecord>, 'hash'>;
type TokenRecord = z.infer<typeof tokenRecord>;

/** Options for a new token; `lines` restricts it to those production lines. */
export const createTokenSchema = z.strictObject({
  role: z.enum(ROLES),
  lines: z.array(z.string().regex(LINE_RE, 'line names: letters, digits, ".", "_", "-"')).min(1).max(100).optional(),
  name: z.string().min(1).max(200).optional(),
  /** Lifetime in days; absent = until revoked. */
  expires_in_days: z.number().positive().max(3650).optional(),
});
export type CreateTokenOptions = z.infer<typeof createTokenSchema>;

/** Why a token was not accepted (for metrics and logs; clients only ever see 401). */
export type TokenCheck = { ok: true; principal: Principal } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' };

function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The token file: read on open, re-read when another process (the CLI) changed it. */
export class TokenStore {
  private records: TokenRecord[] = [];
  private stamp = '';
  private checkedAt = Number.NEGATIVE_INFINITY;

  private constructor(
    readonly file: string,
    private readonly clock: Clock,
    private readonly recheckMs: number,
  ) {}

  /**
   * Open (or start) a token file; a missing file is an empty store, an invalid one an error.
   * `recheckMs`: how often a request looks whether another process changed the file (a CLI
   * revocation takes effect within this time; changes through this instance are immediate).
   */
  static async open(file: string, opts: { clock?: Clock; recheckMs?: number } = {}): Promise<TokenStore> {
    const s = new TokenStore(file, opts.clock ?? systemClock, opts.recheckMs ?? 1000);
    await s.reload(true);
    return s;
  }

  private async fileStamp(): Promise<string> {
    try {
      const st = await fs.stat(this.file);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return 'missing';
    }
  }

  /** Re-read the file when it changed since the last read (a revocation by the CLI takes effect at once). */
  private async reload(force = false): Promise<void> {
    this.checkedAt = this.clock.now();
    const stamp = await this.fileStamp();
    if (!force && stamp === this.stamp) return;
    const raw = await readSecretFile(this.file);
    if (!raw) {
      this.records = [];
      this.stamp = stamp;
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new LsError('LS_ERR_SECURITY_CONFIG', `token file is not JSON: ${(e as Error).message}`, { subject: this.file });
    }
    const parsed = tokenFile.safeParse(json);
    if (!parsed.success) throw new LsError('LS_ERR_SECURITY_CONFIG', formatZodIssues(parsed.error), { subject: this.file });
    this.records = parsed.data.tokens;
    this.stamp = stamp;
  }

  private async save(): Promise<void> {
    await writeSecretFile(this.file, `${JSON.stringify({ version: 1, tokens: this.records }, null, 2)}\n`);
    this.stamp = await this.fileStamp();
  }

  /** Create a token; the returned `token` string is the only time the secret exists outside the caller. */
  async create(opts: CreateTokenOptions, by = 'cli'): Promise<{ token: string; info: TokenInfo }> {
    const o = createTokenSchema.parse(opts);
    return withFileLock(this.file, () => this.createLocked(o, by));
  }

  private async createLocked(o: CreateTokenOptions, by: string): Promise<{ token: string; info: TokenInfo }> {
    await this.reload(true);
    let id: string;
    do id = randomBytes(6).toString('hex');
    while (this.records.some((r) => r.id === id));
    const secret = randomBytes(32).toString('base64url');
    const rec: TokenRecord = {
      id,
      name: o.name ?? `${o.role}-${id}`,
      role: o.role,
      ...(o.lines ? { lines: [...new Set(o.lines)] } : {}),
      hash: sha256hex(secret),
      ...(o.expires_in_days ? { expires_at: new Date(this.clock.now() + o.expires_in_days * 86_400_000).toISOString() } : {}),
      created_at: new Date(this.clock.now()).toISOString(),
      created_by: by,
      revoked: false,
    };
    this.records.push(rec);
    await this.save();
    return { token: `lst_${id}_${secret}`, info: strip(rec) };
  }

  /** All tokens (revoked ones too), without their hashes. */
  async list(): Promise<TokenInfo[]> {
    await this.reload();
    return this.records.map(strip);
  }

  /** Revoke a token by id; it fails every later check (also in a running server, which re-reads the file). */
  async revoke(id: string, by = 'cli'): Promise<TokenInfo> {
    return withFileLock(this.file, () => this.revokeLocked(id, by));
  }

  private async revokeLocked(id: string, by: string): Promise<TokenInfo> {
    await this.reload(true);
    const rec = this.records.find((r) => r.id === id);
    if (!rec) throw new LsError('LS_ERR_NOT_FOUND', `no token with id ${JSON.stringify(id.slice(0, 40))}`, { subject: 'token' });
    if (!rec.revoked) {
      rec.revoked = true;
      rec.revoked_at = new Date(this.clock.now()).toISOString();
      rec.revoked_by = by;
      await this.save();
    }
    return strip(rec);
  }

  /** True when at least one admin token is not revoked (first start creates one otherwise). */
  async hasActiveAdmin(): Promise<boolean> {
    await this.reload();
    return this.records.some((r) => r.role === 'admin' && !r.revoked);
  }

  /** Check a presented token. */
  async check(token: string): Promise<TokenCheck> {
    const m = TOKEN_RE.exec(token);
    if (!m) return { ok: false, reason: 'malformed' };
    // a stat per request would cost more than the check itself: look at the file at most every recheckMs
    if (this.clock.now() - this.checkedAt >= this.recheckMs) await this.reload();
    const rec = this.records.find((r) => r.id === m[1]);
    if (!rec) return { ok: false, reason: 'unknown' };
    const given = Buffer.from(sha256hex(m[2]!), 'hex');
    if (!timingSafeEqual(given, Buffer.from(rec.hash, 'hex'))) return { ok: false, reason: 'unknown' };
    if (rec.revoked) return { ok: false, reason: 'revoked' };
    if (rec.expires_at && Date.parse(rec.expires_at) <= this.clock.now()) return { ok: false, reason: 'expired' };
    return {
      ok: true,
      principal: Object.freeze({ id: `token:${rec.name}`, role: rec.role as Role, ...(rec.lines ? { lines: Object.freeze([...rec.lines]) } : {}), via: 'token' as const }),
    };
  }
}

function strip(r: TokenRecord): TokenInfo {
  const { hash: _hash, ...rest } = r;
  return { ...rest };
}
