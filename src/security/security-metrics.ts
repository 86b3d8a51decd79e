/** Security events (failed logins, denied requests, rate-limited addresses) as Prometheus counters. */
import { Counter, type Registry } from 'prom-client';

/** What the auth plugin counts; `reason` says why (no_token, malformed, unknown, revoked, jwt..., role, line). */
export type SecurityEvent = 'auth_failed' | 'forbidden' | 'rate_limited';

/** A counter on the shared registry (re-used when a second plugin instance registers on the same registry). */
export function securityEventsCounter(registry: Registry): Counter<'event' | 'reason'> {
  const name = 'linesight_security_events_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'event' | 'reason'>;
  return new Counter({
    name,
    help: 'Security events: failed authentication, forbidden requests and rate-limited addresses',
    labelNames: ['event', 'reason'] as const,
    registers: [registry],
  });
}
