/**
 * The Fastify plugin enforcing contract 2: every route declares `config.role`; a caller must
 * present a token (API token or identity-provider JWT) with at least that role, and a
 * line-scoped token may only touch its lines. 401 = no/invalid/revoked credentials,
 * 403 = authenticated but not allowed, 429 = a bad credential from an address over the failure limit.
 * Routes without a declared role are treated as admin-only (deny by default).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { ERRORS, type ErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { FailureLimiter, type FailureLimiterOptions } from './failure-limiter.ts';
import type { JwtVerifier } from './jwt.ts';
import { ANONYMOUS_ADMIN, lineAllowed, roleAllows, type Principal, type Role, type RouteRole } from './roles.ts';
import { securityEventsCounter } from './security-metrics.ts';
import type { TokenStore } from './tokens.ts';

export interface AuthPluginOptions {
  /** API tokens; required unless `insecureNoAuth`. */
  tokens?: TokenStore;
  /** Identity-provider JWTs, optional. */
  jwt?: JwtVerifier;
  /** Lab bench only: every caller is the anonymous admin. */
  insecureNoAuth?: boolean;
  limiter?: FailureLimiter | FailureLimiterOptions;
  /** Registry for the security counters (defaults to `app.linesight.metrics.registry` when the server decorated one). */
  registry?: Registry;
  log?: Logger;
  /** Whether `?access_token=` is accepted on GET/HEAD (browsers cannot set headers on EventSource or <img>). */
  allowQueryToken?: boolean;
}

interface LinesightDecoration {
  metrics?: { registry?: Registry };
}

/** Where a request carries its credential: `Authorization: Bearer`, else `?access_token=` on GET/HEAD. */
export function credentialOf(req: FastifyRequest, allowQuery: boolean): string | undefined {
  const query = req.query as Record<string, unknown> | undefined;
  const q = query?.access_token;
  // removed so route query schemas (often strict) never see the credential
  if (query && 'access_token' in query) delete query.access_token;
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1] : '';
  }
  if (allowQuery && (req.method === 'GET' || req.method === 'HEAD') && typeof q === 'string') return q;
  return undefined;
}

function deny(reply: FastifyReply, code: ErrorCode, detail: string): FastifyReply {
  const spec = ERRORS[code];
  if (code === 'LS_ERR_UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer realm="linesight"');
  return reply.code(spec.status).send({ error: `${spec.message}: ${detail}`, code });
}

/** Value of the route's line field, looked up in params, then query, then body. */
function lineOf(req: FastifyRequest, field: string): string | undefined {
  for (const src of [req.params, req.query, req.body]) {
    if (src && typeof src === 'object') {
      const v = (src as Record<string, unknown>)[field];
      if (typeof v === 'string' || typeof v === 'number') return String(v);
    }
  }
  return undefined;
}

const authPluginImpl: FastifyPluginAsync<AuthPluginOptions> = async (app: FastifyInstance, opts: AuthPluginOptions) => {
  if (!opts.insecureNoAuth && !opts.tokens && !opts.jwt) throw new Error('auth plugin needs tokens or jwt unless insecureNoAuth');
  const limiter = opts.limiter instanceof FailureLimiter ? opts.limiter : new FailureLimiter(opts.limiter);
  const deco = (app as unknown as { linesight?: LinesightDecoration }).linesight;
  const registry = opts.registry ?? deco?.metrics?.registry ?? new Registry();
  const events = securityEventsCounter(registry);
  const log = opts.log ?? app.log;
  const allowQuery = opts.allowQueryToken ?? true;
  const warned = new Set<string>();

  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', undefined);

  async function authenticate(cred: string): Promise<{ ok: true; principal: Principal } | { ok: false; reason: string }> {
    if (opts.tokens && cred.startsWith('lst_')) return opts.tokens.check(cred);
    if (opts.jwt && cred.split('.').length === 3) {
      const r = await opts.jwt.verify(cred);
      return r.ok ? r : { ok: false, reason: 'jwt_invalid' };
    }
    return { ok: false, reason: 'malformed' };
  }

  app.addHook('onRequest', async (req, reply) => {
    const cfg = req.routeOptions.config as { role?: RouteRole; url?: string } | undefined;
    if (cfg?.role === 'public') return;
    if (opts.insecureNoAuth) {
      req.principal = ANONYMOUS_ADMIN;
      return;
    }
    let need: Role;
    if (cfg?.role) need = cfg.role;
    else if (req.routeOptions.url === undefined) {
      // no route matched: any valid token may learn that it is a 404, anonymous callers may not probe
      need = 'viewer';
    } else {
      need = 'admin';
      const route = `${req.method} ${req.routeOptions.url}`;
      if (!warned.has(route)) {
        warned.add(route);
        log.warn({ route }, 'route declares no config.role; treating it as admin-only');
      }
    }
    const ip = req.ip;
    const cred = credentialOf(req, allowQuery);
    if (cred === undefined) {
      events.inc({ event: 'auth_failed', reason: 'no_token' });
      log.info({ security: 'auth_failed', reason: 'no_token', ip, url: req.routeOptions.url }, 'request without a token');
      return deny(reply, 'LS_ERR_UNAUTHENTICATED', 'no token');
    }
    const r = await authenticate(cred);
    if (!r.ok) {
      // An address over the failure limit gets 429 for every bad credential (and no hint why it was bad)
      // until the window ends. Valid tokens from that address keep working: a neighbour behind the same
      // NAT spraying bad tokens must not lock the QA stations out of the line.
      const wait = limiter.blockedFor(ip);
      if (wait > 0) {
        events.inc({ event: 'rate_limited', reason: 'auth_failures' });
        reply.header('retry-after', String(Math.ceil(wait / 1000)));
        return deny(reply, 'LS_ERR_RATE_LIMITED', `retry in ${Math.ceil(wait / 1000)} s`);
      }
      const nowBlocked = limiter.fail(ip);
      events.inc({ event: 'auth_failed', reason: r.reason });
      log.warn({ security: 'auth_failed', reason: r.reason, ip, url: req.routeOptions.url }, 'authentication failed');
      if (nowBlocked) log.warn({ security: 'rate_limited', ip, failures: limiter.maxFailures, window_ms: limiter.windowMs }, 'too many failed authentications: further bad credentials from this address get 429');
      return deny(reply, 'LS_ERR_UNAUTHENTICATED', r.reason === 'revoked' ? 'token revoked' : r.reason === 'expired' ? 'token expired' : 'invalid token');
    }
    req.principal = r.principal;
    if (!roleAllows(r.principal.role, need)) {
      events.inc({ event: 'forbidden', reason: 'role' });
      log.warn({ security: 'forbidden', reason: 'role', who: r.principal.id, need, ip, url: req.routeOptions.url }, 'role too low');
      return deny(reply, 'LS_ERR_FORBIDDEN', `needs role ${need}, token has ${r.principal.role}`);
    }
  });

  // Line scopes are checked after the body is parsed, because a POST may name its line in the body.
  app.addHook('preHandler', async (req, reply) => {
    const p = req.principal;
    const field = (req.routeOptions.config as { lineParam?: string } | undefined)?.lineParam;
    if (!p?.lines || !field) return;
    const line = lineOf(req, field);
    if (line !== undefined && lineAllowed(p, line)) return;
    events.inc({ event: 'forbidden', reason: 'line' });
    log.warn({ security: 'forbidden', reason: 'line', who: p.id, line, ip: req.ip, url: req.routeOptions.url }, 'line outside token scope');
    return deny(reply, 'LS_ERR_FORBIDDEN', line === undefined ? `token is limited to lines ${p.lines.join(', ')}; name the line in "${field}"` : `token is limited to lines ${p.lines.join(', ')}`);
  });
};

// Same as wrapping with fastify-plugin: the hooks apply to the whole app, not just an encapsulated child.
(authPluginImpl as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(authPluginImpl as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = 'linesight-auth';

/** Register with `app.register(authPlugin, opts)` before or after the routes: the hooks cover every route. */
export const authPlugin = authPluginImpl;
