/**
 * Counts authentication failures per key (client address, or address + user for MQTT): after
 * `maxFailures` within `windowMs` the key is blocked until the window has passed. Only failures
 * count, so a busy dashboard with a valid token is never slowed down.
 */
import { systemClock, type Clock } from '../core/clock.ts';

export interface FailureLimiterOptions {
  maxFailures?: number;
  windowMs?: number;
  /** Addresses tracked at most; the oldest are forgotten first so memory stays bounded under a spray of addresses. */
  maxTracked?: number;
  clock?: Clock;
}

/** Counts authentication failures per key (client IP) in a fixed window. */
export class FailureLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxTracked: number;
  private readonly clock: Clock;
  private readonly entries = new Map<string, { count: number; since: number }>();

  constructor(opts: FailureLimiterOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 10;
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxTracked = opts.maxTracked ?? 10_000;
    this.clock = opts.clock ?? systemClock;
  }

  private current(key: string): { count: number; since: number } | undefined {
    const e = this.entries.get(key);
    if (e && this.clock.now() - e.since >= this.windowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Milliseconds until `key` may try again, or 0 when it is not blocked. */
  blockedFor(key: string): number {
    const e = this.current(key);
    if (!e || e.count < this.maxFailures) return 0;
    return Math.max(1, e.since + this.windowMs - this.clock.now());
  }

  /** Record one failure; true when this failure reached the limit (the key is blocked from now on). */
  fail(key: string): boolean {
    const e = this.current(key);
    if (e) {
      e.count += 1;
      return e.count === this.maxFailures;
    }
    if (this.entries.size >= this.maxTracked) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { count: 1, since: this.clock.now() });
    return this.maxFailures === 1;
  }

  /** Number of addresses currently tracked (for tests of the memory bound). */
  get size(): number {
    return this.entries.size;
  }
}
