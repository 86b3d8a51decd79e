/**
 * Roles and principals (contract 2): every route declares the least role it needs; a principal
 * may additionally be restricted to some production lines.
 */
import { LsError } from '../core/errors.ts';

/** Roles in increasing order of power: each role can do everything the previous one can. */
export const ROLES = ['viewer', 'inspector', 'engineer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a route may declare in `config.role`: a role, or `public` (health/live/ready only). */
export type RouteRole = Role | 'public';

/** Who is calling: `id` is the name written into audit entries and acknowledgements. */
export interface Principal {
  readonly id: string;
  readonly role: Role;
  /** When present, the principal may only act on these lines. */
  readonly lines?: readonly string[];
  /** How the principal authenticated. */
  readonly via?: 'token' | 'jwt' | 'none';
}

/** The principal used when authentication is switched off (`--insecure-no-auth`). */
export const ANONYMOUS_ADMIN: Principal = Object.freeze({ id: 'anonymous', role: 'admin', via: 'none' });

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && (ROLES as readonly string[]).includes(x);
}

/** Rank of a role (viewer = 0 ... admin = 3). */
export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** True when `have` is at least `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return roleRank(have) >= roleRank(need);
}

/** True when the principal may act on `line` (unscoped principals may act on every line). */
export function lineAllowed(p: Principal, line: string): boolean {
  return !p.lines || p.lines.includes(line);
}

/** Throw LS_ERR_FORBIDDEN unless the principal may act on `line`; for routes that derive the line themselves. */
export function assertLineAccess(p: Principal, line: string): void {
  if (!lineAllowed(p, line)) throw new LsError('LS_ERR_FORBIDDEN', `token is limited to lines ${p.lines!.join(', ')}`, { subject: line });
}

/** Throw LS_ERR_FORBIDDEN unless the principal has at least `need`. */
export function assertRole(p: Principal, need: Role): void {
  if (!roleAllows(p.role, need)) throw new LsError('LS_ERR_FORBIDDEN', `needs role ${need}, token has ${p.role}`, { subject: p.id });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Least role a caller needs for this route (contract 2). */
    role?: RouteRole;
    /** Name of the param, query or body field that holds the production line this request is about. */
    lineParam?: string;
  }
  interface FastifyRequest {
    /** The authenticated caller, set by the auth plugin before any handler runs. */
    principal?: Principal;
  }
}
