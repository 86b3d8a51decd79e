/**
 * Prometheus metrics of LineSight (prom-client). One Registry per server, served by GET /metrics;
 * other areas register their own `linesight_*` metrics on `metrics.registry`.
 * Latencies are histograms (not summaries) so tail latency can be aggregated across servers.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets in seconds from 0.5 ms to 10 s: stage latencies on CPU span that range. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/** The pipeline stages whose latency is measured per request. */
export type Stage = 'queue' | 'preprocess' | 'inference' | 'postprocess' | 'total';

/** Metrics of the serving layer, on one registry shared with the rest of the process. */
export class Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'model' | 'version' | 'endpoint' | 'status'>;
  readonly stageSeconds: Record<Stage, Histogram<'model' | 'version'>>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly queueDepth: Gauge<'model' | 'version'>;
  readonly modelsLoaded: Gauge<'state'>;

  constructor(opts: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    this.registry = opts.registry ?? new Registry();
    const registers = [this.registry];
    // prom-client's default metrics include gauges named *_total, which promtool rejects; these few suffice.
    if (opts.defaultMetrics ?? true) registerProcessMetrics(registers);
    this.requests = new Counter({
      name: 'linesight_inference_requests_total',
      help: 'Inference requests by model, version, endpoint and HTTP status.',
      labelNames: ['model', 'version', 'endpoint', 'status'],
      registers,
    });
    const stage = (s: Stage, help: string) =>
      new Histogram({ name: `linesight_${s}_duration_seconds`, help, labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers });
    this.stageSeconds = {
      queue: stage('queue', 'Time a request waited in the dynamic batcher queue.'),
      preprocess: stage('preprocess', 'Time to decode and preprocess one input.'),
      inference: stage('inference', 'Time of the forward pass of the batch a request ran in.'),
      postprocess: stage('postprocess', 'Time to turn model outputs into a prediction and decision.'),
      total: stage('total', 'Total time of a request inside the server.'),
    };
    this.batchSize = new Histogram({
      name: 'linesight_batch_size',
      help: 'Samples per batch run by the dynamic batcher.',
      labelNames: ['model', 'version'],
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.queueDepth = new Gauge({ name: 'linesight_queue_depth', help: 'Requests waiting in the batcher queue.', labelNames: ['model', 'version'], registers });
    this.modelsLoaded = new Gauge({ name: 'linesight_models_loaded', help: 'Model versions by lifecycle state.', labelNames: ['state'], registers });
  }

  /** Record the per-stage timings of one request, in milliseconds. */
  observeTimings(model: string, version: number, t: Partial<Record<`${Stage}_ms`, number>>): void {
    const labels = { model, version: String(version) };
    for (const s of ['queue', 'preprocess', 'inference', 'postprocess', 'total'] as const) {
      const ms = t[`${s}_ms`];
      if (ms !== undefined && Number.isFinite(ms)) this.stageSeconds[s].observe(labels, ms / 1000);
    }
  }

  /** The Prometheus text exposition of every metric on the registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Resident memory, heap, CPU time and start time of this process. */
function registerProcessMetrics(registers: Registry[]): void {
  new Gauge({
    name: 'linesight_process_resident_memory_bytes',
    help: 'Resident set size of the server process.',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'linesight_process_heap_used_bytes',
    help: 'V8 heap in use.',
    registers,
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  let lastCpu = 0;
  new Counter({
    name: 'linesight_process_cpu_seconds_total',
    help: 'User plus system CPU time of the server process.',
    registers,
    collect() {
      const u = process.cpuUsage();
      const total = (u.user + u.system) / 1e6;
      if (total > lastCpu) this.inc(total - lastCpu);
      lastCpu = total;
    },
  });
  const start = Date.now() / 1000 - process.uptime();
  new Gauge({ name: 'linesight_process_start_time_seconds', help: 'Start time of the process since the Unix epoch.', registers }).set(start);
}
