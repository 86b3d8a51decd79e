/**
 * The dynamic batcher (Triton's design): requests for one model version wait in a bounded queue
 * for at most `maxQueueDelayMs`, are merged into batches of up to `maxBatchSize` samples (dispatching
 * at once when a preferred size can be formed), and run on one of `instances` workers.
 * A full queue refuses with LS_ERR_QUEUE_FULL (503 + Retry-After) instead of growing memory;
 * a request still waiting after `timeoutMs` fails with LS_ERR_TIMEOUT.
 * All time goes through the injected Clock, so tests drive it with fake timers.
 */
import { LsError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Disposable } from '../core/dispose.ts';

/** Options of one batcher; `run` executes a merged batch on worker `instance`. */
export interface BatcherOptions<I, R> {
  /** Largest number of samples in one batch; 0 or 1 = no batching. */
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly preferredBatchSizes?: readonly number[];
  /** Most requests waiting (not yet running); more are refused. */
  readonly maxQueueSize: number;
  /** Per-request deadline from submission, in ms (0 = none). */
  readonly timeoutMs: number;
  /** Number of batches that may run at once (session instances). */
  readonly instances?: number;
  readonly clock?: Clock;
  /** Runs a batch; must return one result per item, in order. */
  readonly run: (items: readonly I[], instance: number) => Promise<R[]>;
  /** Called after each dispatch with the batch size in samples and the queue depth left. */
  readonly onBatch?: (samples: number, queueDepth: number) => void;
}

/** The result of one request and how long it waited and ran. */
export interface BatchOutcome<R> {
  readonly value: R;
  readonly queueMs: number;
  readonly runMs: number;
  /** Samples in the batch this request ran in. */
  readonly batchSamples: number;
}

interface Pending<I, R> {
  readonly item: I;
  readonly samples: number;
  readonly key: string;
  readonly enqueuedAt: number;
  timer: unknown;
  settled: boolean;
  resolve(o: BatchOutcome<R>): void;
  reject(e: unknown): void;
}

/** Dynamic batcher over items of type I producing results of type R. */
export class DynamicBatcher<I, R> implements Disposable {
  private readonly queue: Pending<I, R>[] = [];
  private readonly clock: Clock;
  private readonly instances: number;
  private readonly idle: number[] = [];
  private running = 0;
  private delayTimer: unknown = undefined;
  private closed = false;
  private drainWaiters: Array<() => void> = [];
  private nextInstance = 0;

  constructor(private readonly opts: BatcherOptions<I, R>) {
    this.clock = opts.clock ?? systemClock;
    this.instances = Math.max(1, opts.instances ?? 1);
    for (let i = 0; i < this.instances; i++) this.idle.push(i);
  }

  /** Requests waiting to run. */
  get depth(): number {
    return this.queue.length;
  }

  /** Batches running now. */
  get active(): number {
    return this.running;
  }

  /**
   * Queue one request of `samples` samples. Requests with different `key`s (e.g. different
   * non-batch shapes) are never merged into one batch.
   */
  submit(item: I, samples = 1, key = ''): Promise<BatchOutcome<R>> {
    if (this.closed) return Promise.reject(new LsError('LS_ERR_SHUTTING_DOWN'));
    if (this.queue.length >= this.opts.maxQueueSize) {
      return Promise.reject(new LsError('LS_ERR_QUEUE_FULL', `${this.queue.length} requests waiting`));
    }
    return new Promise<BatchOutcome<R>>((resolve, reject) => {
      const p: Pending<I, R> = { item, samples: Math.max(1, samples), key, enqueuedAt: this.clock.hrNow(), timer: undefined, settled: false, resolve, reject };
      if (this.opts.timeoutMs > 0) {
        p.timer = this.clock.setTimeout(() => this.expire(p), this.opts.timeoutMs);
      }
      this.queue.push(p);
      this.pump();
    });
  }

  /** Resolves when nothing is waiting or running (used before releasing sessions). */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  /** Refuse new requests, let queued and running ones finish, then resolve. */
  async dispose(): Promise<void> {
    this.closed = true;
    await this.drain();
    if (this.delayTimer !== undefined) this.clock.clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
  }

  private expire(p: Pending<I, R>): void {
    if (p.settled) return;
    const i = this.queue.indexOf(p);
    if (i >= 0) this.queue.splice(i, 1);
    // A request already running keeps its batch slot; only its answer is dropped.
    p.settled = true;
    p.reject(new LsError('LS_ERR_TIMEOUT', `no result after ${this.opts.timeoutMs} ms`));
    this.checkDrained();
  }

  private maxSamples(): number {
    return Math.max(1, this.opts.maxBatchSize);
  }

  /** Samples that can be merged with the head of the queue, up to the batch limit. */
  private formable(): number {
    const head = this.queue[0];
    if (!head) return 0;
    const max = this.maxSamples();
    let n = 0;
    for (const p of this.queue) {
      if (p.key !== head.key) continue;
      if (n + p.samples > max) break;
      n += p.samples;
    }
    return Math.max(n, head.samples);
  }

  /** Dispatch as many batches as there are idle workers and ready batches. */
  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const head = this.queue[0]!;
      const n = this.formable();
      const waited = this.clock.hrNow() - head.enqueuedAt;
      const preferred = this.opts.preferredBatchSizes ?? [];
      const full = n >= this.maxSamples() || preferred.some((s) => s <= n);
      if (!full && waited < this.opts.maxQueueDelayMs && !this.closed) {
        this.armDelay(this.opts.maxQueueDelayMs - waited);
        return;
      }
      this.dispatch();
    }
  }

  private armDelay(ms: number): void {
    if (this.delayTimer !== undefined) return;
    this.delayTimer = this.clock.setTimeout(() => {
      this.delayTimer = undefined;
      this.pump();
    }, Math.max(0, ms));
  }

  /** Take the head's batch (largest preferred size if one fits, else as many as fit) and run it. */
  private dispatch(): void {
    const head = this.queue[0]!;
    const max = this.maxSamples();
    const available = this.formable();
    const preferred = [...(this.opts.preferredBatchSizes ?? [])].filter((s) => s <= available && s <= max).sort((a, b) => b - a);
    // A full batch first; else the largest preferred size that can be formed; else all there is.
    const limit = available >= max ? max : preferred[0] !== undefined ? Math.max(preferred[0], head.samples) : max;
    const batch: Pending<I, R>[] = [];
    let n = 0;
    for (let i = 0; i < this.queue.length; ) {
      const p = this.queue[i]!;
      if (p.key === head.key && (batch.length === 0 || n + p.samples <= limit)) {
        batch.push(p);
        n += p.samples;
        this.queue.splice(i, 1);
        if (n >= limit) break;
      } else {
        i++;
      }
    }
    if (this.delayTimer !== undefined && this.queue.length === 0) {
      this.clock.clearTimeout(this.delayTimer);
      this.delayTimer = undefined;
    }
    const instance = this.takeInstance();
    this.running++;
    this.opts.onBatch?.(n, this.queue.length);
    const started = this.clock.hrNow();
    for (const p of batch) if (p.timer !== undefined) this.clock.clearTimeout(p.timer);
    const live = batch.filter((p) => !p.settled);
    void this.execute(live, instance, started, n);
  }

  private takeInstance(): number {
    // Round-robin over idle workers so every session instance gets used.
    let idx = this.idle.findIndex((i) => i >= this.nextInstance);
    if (idx < 0) idx = 0;
    const inst = this.idle.splice(idx, 1)[0]!;
    this.nextInstance = (inst + 1) % this.instances;
    return inst;
  }

  private async execute(batch: Pending<I, R>[], instance: number, started: number, samples: number): Promise<void> {
    try {
      if (batch.length === 0) return;
      let results: R[];
      try {
        results = await this.opts.run(batch.map((p) => p.item), instance);
        if (results.length !== batch.length) throw new LsError('LS_ERR_INTERNAL', `batch returned ${results.length} results for ${batch.length} requests`);
      } catch (e) {
        for (const p of batch) this.settle(p, () => p.reject(e));
        return;
      }
      const runMs = this.clock.hrNow() - started;
      batch.forEach((p, i) => this.settle(p, () => p.resolve({ value: results[i]!, queueMs: started - p.enqueuedAt, runMs, batchSamples: samples })));
    } finally {
      this.running--;
      this.idle.push(instance);
      this.pump();
      this.checkDrained();
    }
  }

  private settle(p: Pending<I, R>, fn: () => void): void {
    if (p.settled) return;
    p.settled = true;
    fn();
  }

  private checkDrained(): void {
    if (this.queue.length === 0 && this.running === 0 && this.drainWaiters.length) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const r of w) r();
    }
  }
}
