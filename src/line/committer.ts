/**
 * Group commit: every write of the line (sensor micro-batches, parts, alerts, dead letters) joins the
 * next store transaction; each caller's promise resolves when that transaction has committed, which
 * is when its MQTT message may be acknowledged. One transaction per event-loop turn instead of one
 * per message is what lets the store keep up with tens of thousands of readings per second.
 */
import type { Store, WriteBatch, WriteResult } from '../store/store.ts';

interface Waiter {
  resolve(r: WriteResult): void;
  reject(e: unknown): void;
}

/** A write batch being gathered: one growable list per kind of row. */
type PendingBatch = { [K in keyof WriteBatch]-?: Array<NonNullable<WriteBatch[K]>[number]> };

export class Committer {
  private pending: PendingBatch = Committer.empty();
  private waiters: Waiter[] = [];
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly onCommitted: (r: WriteResult) => void = () => undefined,
    private readonly schedule: (fn: () => void) => void = (fn) => setImmediate(fn),
  ) {}

  private static empty(): PendingBatch {
    return { readings: [], parts: [], decisions: [], alerts: [], deadLetters: [], feedback: [], machineTruth: [] };
  }

  /** Add writes to the next transaction; resolves with that transaction's result once committed. */
  write(b: WriteBatch): Promise<WriteResult> {
    const p = this.pending;
    if (b.readings) for (const x of b.readings) p.readings.push(x);
    if (b.parts) p.parts.push(...b.parts);
    if (b.decisions) p.decisions.push(...b.decisions);
    if (b.alerts) p.alerts.push(...b.alerts);
    if (b.deadLetters) p.deadLetters.push(...b.deadLetters);
    if (b.feedback) p.feedback.push(...b.feedback);
    if (b.machineTruth) p.machineTruth.push(...b.machineTruth);
    const done = new Promise<WriteResult>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => {
        this.running = this.running.then(() => this.flush());
      });
    }
    return done;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    const waiters = this.waiters;
    this.pending = Committer.empty();
    this.waiters = [];
    if (!waiters.length) return;
    try {
      const r = await this.store.writeBatch(batch);
      this.onCommitted(r);
      for (const w of waiters) w.resolve(r);
    } catch (e) {
      for (const w of waiters) w.reject(e);
    }
  }

  /** Wait until everything written so far has committed (or failed). */
  async drain(): Promise<void> {
    while (this.scheduled || this.waiters.length) {
      if (this.scheduled) await new Promise<void>((r) => setImmediate(r));
      await this.running;
    }
    await this.running;
  }
}
