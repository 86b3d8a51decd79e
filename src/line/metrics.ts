/** Prometheus metrics of the line runtime, registered on the server's registry (names `linesight_line_*`). */
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

function get<M extends Metric>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

/** The line's counters and histograms; creating it twice on one registry reuses the metrics. */
export class LineMetrics {
  readonly messages: Counter<'kind'>;
  readonly deadLetters: Counter<'kind'>;
  readonly readingsStored: Counter;
  readonly parts: Counter<'station' | 'decision'>;
  readonly alerts: Counter<'severity'>;
  readonly batchSize: Histogram;
  readonly decisionLatency: Histogram<'kind'>;
  readonly pendingAcks: Gauge;

  constructor(readonly registry: Registry = new Registry()) {
    const r = [registry];
    this.messages = get(registry, 'linesight_line_messages_total', () => new Counter({ name: 'linesight_line_messages_total', help: 'MQTT messages received by the line, by kind', labelNames: ['kind'] as const, registers: r }));
    this.deadLetters = get(registry, 'linesight_line_dead_letters_total', () => new Counter({ name: 'linesight_line_dead_letters_total', help: 'Messages that could not be used, stored in the dead-letter table, by kind', labelNames: ['kind'] as const, registers: r }));
    this.readingsStored = get(registry, 'linesight_line_readings_stored_total', () => new Counter({ name: 'linesight_line_readings_stored_total', help: 'Sensor readings written to the store (duplicates excluded)', registers: r }));
    this.parts = get(registry, 'linesight_line_parts_total', () => new Counter({ name: 'linesight_line_parts_total', help: 'Parts inspected, by station and decision', labelNames: ['station', 'decision'] as const, registers: r }));
    this.alerts = get(registry, 'linesight_line_alerts_total', () => new Counter({ name: 'linesight_line_alerts_total', help: 'Alerts raised, by severity', labelNames: ['severity'] as const, registers: r }));
    this.batchSize = get(registry, 'linesight_line_sensor_batch_size', () => new Histogram({ name: 'linesight_line_sensor_batch_size', help: 'Sensor readings per model micro-batch', buckets: [1, 4, 16, 64, 128, 256, 512, 1024], registers: r }));
    this.decisionLatency = get(registry, 'linesight_line_decision_latency_seconds', () => new Histogram({ name: 'linesight_line_decision_latency_seconds', help: 'From message receipt to committed decision, by kind (sensors, image)', labelNames: ['kind'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: r }));
    this.pendingAcks = get(registry, 'linesight_line_pending_acks', () => new Gauge({ name: 'linesight_line_pending_acks', help: 'Messages received whose MQTT acknowledgement waits for the store', registers: r }));
  }
}
