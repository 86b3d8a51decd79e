/**
 * Per-version inference statistics in the shape of Triton's statistics extension
 * (`GET /v2/models[/{m}[/versions/{v}]]/stats`): counts and cumulative nanoseconds per stage.
 */

/** A count and the total time of those events, in nanoseconds (Triton's StatisticDuration). */
export interface Duration {
  count: number;
  ns: number;
}

export interface BatchStats {
  batch_size: number;
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
}

/** One model version's statistics, as Triton reports them. */
export interface ModelStats {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: { success: Duration; fail: Duration; queue: Duration; compute_input: Duration; compute_infer: Duration; compute_output: Duration };
  batch_stats: BatchStats[];
}

const zero = (): Duration => ({ count: 0, ns: 0 });
const add = (d: Duration, ms: number, n = 1): void => {
  d.count += n;
  d.ns += Math.round(ms * 1e6);
};

/** Accumulates the statistics of one served version. */
export class VersionStats {
  private readonly s: ModelStats;
  private readonly batches = new Map<number, BatchStats>();

  constructor(name: string, version: number) {
    this.s = {
      name, version: String(version), last_inference: 0, inference_count: 0, execution_count: 0,
      inference_stats: { success: zero(), fail: zero(), queue: zero(), compute_input: zero(), compute_infer: zero(), compute_output: zero() },
      batch_stats: [],
    };
  }

  /** One batch ran: time to stack inputs, run the model and split outputs (ms), for `samples` samples of `requests` requests. */
  batch(samples: number, requests: number, inputMs: number, inferMs: number, outputMs: number): void {
    this.s.execution_count++;
    this.s.inference_count += samples;
    const st = this.s.inference_stats;
    add(st.compute_input, inputMs, requests);
    add(st.compute_infer, inferMs, requests);
    add(st.compute_output, outputMs, requests);
    let b = this.batches.get(samples);
    if (!b) {
      b = { batch_size: samples, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.batches.set(samples, b);
    }
    add(b.compute_input, inputMs);
    add(b.compute_infer, inferMs);
    add(b.compute_output, outputMs);
  }

  /** One request finished (ok or not) after `totalMs`, of which `queueMs` waiting; `now` = wall clock ms. */
  request(ok: boolean, totalMs: number, queueMs: number | undefined, now: number): void {
    add(ok ? this.s.inference_stats.success : this.s.inference_stats.fail, totalMs);
    if (queueMs !== undefined) add(this.s.inference_stats.queue, queueMs);
    if (ok) this.s.last_inference = now;
  }

  /** A copy of the statistics, batch sizes ascending. */
  snapshot(): ModelStats {
    const copy = structuredClone(this.s);
    copy.batch_stats = [...this.batches.values()].sort((a, b) => a.batch_size - b.batch_size).map((b) => structuredClone(b));
    return copy;
  }
}
