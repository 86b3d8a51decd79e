/** The config.yaml of a model trained on a table: features, labels, decision, metrics and data hash. */
import type { TabularModel } from './tabular.ts';
import type { ExportedModel } from './export-onnx.ts';
import type { TrainOptions } from './trainer.ts';

/** Facts about the run that go into config.yaml besides the model itself. */
export interface ManifestContext {
  readonly description?: string;
  readonly onThreshold: 'REJECT' | 'ALERT';
  readonly dataFile: string;
  readonly dataSha256: string;
  readonly dataRows: number;
  readonly trainedAt: string;
  readonly options: TrainOptions;
}

function round(x: number, digits = 6): number {
  return Number.isFinite(x) ? Number(x.toPrecision(digits)) : x;
}

function roundAll(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]));
}

/** The manifest (without name) for a trained tabular model. */
export function tabularManifest(m: TabularModel, ex: ExportedModel, ctx: ManifestContext): Record<string, unknown> {
  const binary = m.task === 'classification' && m.labels?.length === 2;
  const features = m.pre.features.map((f) =>
    f.type === 'numeric'
      ? { name: f.name, type: 'numeric', min: round(f.min), max: round(f.max) }
      : { name: f.name, type: 'categorical', categories: [...f.categories] },
  );
  const o = ctx.options;
  const { kind: _kind, ...metrics } = m.metrics;
  return {
    description: ctx.description ?? `${m.task} of "${m.target}" trained by linesight train on ${ctx.dataFile}`,
    task: m.task,
    max_batch_size: 1024,
    inputs: ex.inputs,
    outputs: ex.outputs,
    preprocess: { kind: 'tabular', features },
    postprocess: { output: ex.outputs[0]!.name, activation: m.task === 'regression' ? 'none' : binary ? 'sigmoid' : 'softmax', top_k: Math.min(3, m.labels?.length ?? 1) },
    ...(m.labels ? { labels: [...m.labels] } : {}),
    ...(binary && m.threshold !== undefined
      ? { decision: { reject_classes: [], min_probability: 0.5, threshold: round(m.threshold), positive_label: m.labels![1], on_threshold: ctx.onThreshold } }
      : {}),
    dynamic_batching: { max_queue_delay_ms: 1, preferred_batch_sizes: [], max_queue_size: 1024, timeout_ms: 10000 },
    metadata: {
      trained_by: 'linesight train',
      trained_at: ctx.trainedAt,
      target: m.target,
      data: { file: ctx.dataFile, sha256: ctx.dataSha256, rows: ctx.dataRows, train_rows: m.rows.train, validation_rows: m.rows.val, test_rows: m.rows.test },
      derived_features: m.pre.derived.map((d) => ({ name: d.name, op: d.op, a: d.a, b: d.b })),
      model: { kind: m.network.kind, hidden: m.network.kind === 'mlp' ? [...o.hidden] : [], optimizer: o.optimizer, lr: o.lr, schedule: o.schedule, batch_size: o.batchSize, l2: o.l2, balanced: o.balanced, seed: o.seed, epochs_run: m.history.length, best_epoch: m.bestEpoch },
      threshold_chosen_on: binary ? 'validation split, best F1' : undefined,
      test_metrics: roundAll(metrics),
    },
  };
}
