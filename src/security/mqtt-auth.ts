/**
 * MQTT authentication and ACLs for the embedded broker (contract 7): users from a file with
 * scrypt-hashed passwords (or a client certificate whose CN names the user, with mutual TLS),
 * each allowed to publish and subscribe under listed topic prefixes only. The broker calls
 * authenticate / authorizePublish / authorizeSubscribe (src/connectors/mqtt/broker.ts adapts them to aedes).
 */
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { LsError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { formatZodIssues } from '../core/validate.ts';
import { FailureLimiter } from './failure-limiter.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { readSecretFile, withFileLock, writeSecretFile } from './secret-file.ts';

const prefix = z.string().min(1).max(256).refine((p) => p === '#' || !/[+#]/.test(p), 'a prefix has no wildcards ("#" alone allows everything)');
const userSchema = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,128}$/),
  /** scrypt hash (see passwords.ts); absent for certificate-only users. */
  password_hash: z.string().optional(),
  /** Accept a client certificate whose CN equals the username (mutual TLS). */
  allow_cert: z.boolean().default(false),
  publish: z.array(prefix).default([]),
  subscribe: z.array(prefix).default([]),
});
const usersFile = z.strictObject({ version: z.literal(1), users: z.array(userSchema) });
/** One MQTT user with its ACL. */
export type MqttUser = z.infer<typeof userSchema>;

/** The minimal view of an MQTT client the hooks need (aedes' Client fits). */
export interface MqttClientLike {
  readonly id: string;
  readonly conn?: unknown;
}

/** True when `topic` equals the prefix or lies below it (`a/b` covers `a/b` and `a/b/c`, not `a/bc`). */
export function underPrefix(topic: string, p: string): boolean {
  if (p === '#') return true;
  const base = p.endsWith('/') ? p.slice(0, -1) : p;
  return topic === base || topic.startsWith(`${base}/`);
}

/** A subscription filter is allowed when its fixed part lies under a prefix: wildcards may only follow the prefix. */
export function filterUnderPrefix(filter: string, p: string): boolean {
  if (p === '#') return true;
  return underPrefix(filter, p);
}

/** The broker's auth hooks over a set of users. */
/** Options of the MQTT auth hooks. */
export interface MqttAuthOptions {
  /** Failed logins per client address before further attempts are refused without checking (default 10 a minute). */
  limiter?: FailureLimiter;
  log?: Logger;
}

export class MqttAuth {
  private readonly users = new Map<string, MqttUser>();
  private readonly sessions = new WeakMap<object, MqttUser>();
  private readonly limiter: FailureLimiter;
  private readonly log: Logger | undefined;

  constructor(users: readonly MqttUser[] = [], opts: MqttAuthOptions = {}) {
    for (const u of users) this.users.set(u.username, u);
    this.limiter = opts.limiter ?? new FailureLimiter({ maxFailures: 10, windowMs: 60_000 });
    this.log = opts.log;
  }

  /** Load users from a JSON file (`linesight tokens mqtt-user` writes it); a missing file means no file users. */
  static async fromFile(file: string, opts: MqttAuthOptions = {}): Promise<MqttAuth> {
    return new MqttAuth(await readUsersFile(file), opts);
  }

  /** Add a user held only in memory (the server's own line runtime and simulator). */
  async addUser(username: string, password: string, acl: { publish: string[]; subscribe: string[] }): Promise<void> {
    this.users.set(username, userSchema.parse({ username, password_hash: await hashPassword(password), ...acl }));
  }

  async authenticate(client: MqttClientLike, username: string | undefined, password: Uint8Array | string | undefined): Promise<boolean> {
    // each password check costs ~0.1 s of CPU by design: an address that keeps failing for a user is
    // refused before the check, so guessing cannot starve the line of CPU. Keyed by address and user,
    // so failures against one user never lock out the server's own clients on the same address.
    const addr = remoteAddress(client.conn);
    const key = `${addr}\u0000${username ?? '(certificate)'}`;
    if (this.limiter.blockedFor(key) > 0) {
      this.log?.warn({ security: 'rate_limited', protocol: 'mqtt', ip: addr, username }, 'MQTT login refused: too many failures');
      return false;
    }
    let user: MqttUser | undefined;
    if (username !== undefined && password !== undefined) {
      const u = this.users.get(username);
      const pw = typeof password === 'string' ? password : Buffer.from(password).toString('utf8');
      if (u?.password_hash && (await verifyPassword(pw, u.password_hash))) user = u;
    } else {
      const cn = certificateCn(client.conn);
      const u = cn === undefined ? undefined : this.users.get(cn);
      if (u?.allow_cert && (username === undefined || username === cn)) user = u;
    }
    if (!user) {
      this.limiter.fail(key);
      this.log?.warn({ security: 'auth_failed', protocol: 'mqtt', ip: addr, username, client: client.id }, 'MQTT login failed');
      return false;
    }
    this.sessions.set(client, user);
    return true;
  }

  authorizePublish(client: MqttClientLike | null, topic: string): boolean {
    // aedes publishes its own $SYS and will messages with a null client: those are the broker's own
    if (client === null) return true;
    const u = this.sessions.get(client);
    return Boolean(u && !topic.startsWith('$') && u.publish.some((p) => underPrefix(topic, p)));
  }

  authorizeSubscribe(client: MqttClientLike, filter: string): boolean {
    const u = this.sessions.get(client);
    return Boolean(u && !filter.startsWith('$') && u.subscribe.some((p) => filterUnderPrefix(filter, p)));
  }
}

/** The client's address (one key for the failure limiter); unknown transports share one bucket. */
function remoteAddress(conn: unknown): string {
  const a = (conn as { remoteAddress?: unknown } | undefined)?.remoteAddress;
  return typeof a === 'string' ? a : 'unknown';
}

/** The username a verified client certificate carries (its subject CN), if the connection is mutual TLS. */
function certificateCn(conn: unknown): string | undefined {
  const s = conn as Partial<TLSSocket> | undefined;
  if (!s || typeof s.getPeerCertificate !== 'function' || !s.authorized) return undefined;
  const cn = s.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' ? cn : Array.isArray(cn) ? cn[0] : undefined;
}

/** Read the users file; missing = no users. */
export async function readUsersFile(file: string): Promise<MqttUser[]> {
  const raw = await readSecretFile(file);
  if (!raw) return [];
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new LsError('LS_ERR_SECURITY_CONFIG', `MQTT users file is not JSON: ${(e as Error).message}`, { subject: file });
  }
  const r = usersFile.safeParse(json);
  if (!r.success) throw new LsError('LS_ERR_SECURITY_CONFIG', formatZodIssues(r.error), { subject: file });
  return r.data.users;
}

/** Add or replace a user in the users file (password hashed; file mode 0600). */
export async function setFileUser(file: string, user: { username: string; password?: string; allow_cert?: boolean; publish: string[]; subscribe: string[] }): Promise<MqttUser> {
  return withFileLock(file, async () => {
    const users = (await readUsersFile(file)).filter((u) => u.username !== user.username);
    const rec = userSchema.parse({
      username: user.username,
      ...(user.password ? { password_hash: await hashPassword(user.password) } : {}),
      allow_cert: user.allow_cert ?? false,
      publish: user.publish,
      subscribe: user.subscribe,
    });
    users.push(rec);
    await writeSecretFile(file, `${JSON.stringify({ version: 1, users }, null, 2)}\n`);
    return rec;
  });
}

/** Remove a user from the users file; true when it existed. */
export async function removeFileUser(file: string, username: string): Promise<boolean> {
  return withFileLock(file, async () => {
    const users = await readUsersFile(file);
    const rest = users.filter((u) => u.username !== username);
    if (rest.length !== users.length) await writeSecretFile(file, `${JSON.stringify({ version: 1, users: rest }, null, 2)}\n`);
    return rest.length !== users.length;
  });
}
