/**
 * The schema of `models/<name>/config.yaml`: what a model is, what it expects,
 * how to preprocess its input, how to turn its output into a decision, and how to run it.
 */
import { z } from 'zod';

export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

const tensorSpec = z.strictObject({
  name: z.string().min(1),
  datatype: z.enum(DATATYPES),
  /** Dimensions without the batch dimension when max_batch_size > 0; -1 = variable. */
  shape: z.array(z.number().int().min(-1)),
  /** Whether NaN/Inf are refused for this input (serving checks it). */
  allow_nonfinite: z.boolean().default(false),
});
export type TensorSpec = z.infer<typeof tensorSpec>;

const imagePreprocess = z.strictObject({
  kind: z.literal('image'),
  /** `opencv`: bit-exact cv2 INTER_LINEAR + BT.601 luma on sRGB values; `fast`: libvips (sharp) native. */
  mode: z.enum(['opencv', 'fast']).default('opencv'),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  color: z.enum(['gray', 'rgb', 'bgr']).default('gray'),
  /** Multiplied into each 0..255 value before mean/std, e.g. 1/255 as torchvision ToTensor does. */
  scale: z.number().positive().default(1 / 255),
  mean: z.array(z.number()).default([0]),
  std: z.array(z.number().positive()).default([1]),
  layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
  dtype: z.enum(['float32', 'uint8']).default('float32'),
});
export type ImagePreprocess = z.infer<typeof imagePreprocess>;

const tabularFeature = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['numeric', 'categorical']).default('numeric'),
  /** For categorical features: the categories seen in training. */
  categories: z.array(z.string()).optional(),
  /** Plausible range, for data checks and dead-lettering of impossible readings. */
  min: z.number().optional(),
  max: z.number().optional(),
});
export type TabularFeature = z.infer<typeof tabularFeature>;

const tabularPreprocess = z.strictObject({
  kind: z.literal('tabular'),
  features: z.array(tabularFeature).min(1),
});

const noPreprocess = z.strictObject({ kind: z.literal('none') });

export const preprocessSchema = z.discriminatedUnion('kind', [imagePreprocess, tabularPreprocess, noPreprocess]);
export type Preprocess = z.infer<typeof preprocessSchema>;

const postprocess = z.strictObject({
  /** Which model output carries the scores. */
  output: z.string().min(1),
  /** `softmax` when the output is logits, `sigmoid` for one binary logit, `none` when it is already probabilities. */
  activation: z.enum(['softmax', 'sigmoid', 'none']).default('softmax'),
  top_k: z.number().int().positive().default(3),
});

/**
 * Decision rules, first match wins:
 * - `reject_classes`: REJECT when the top class is one of these with probability >= min_probability;
 * - `review_below`: REVIEW (send to a person) when the top probability is below this;
 * - `threshold`: for a score (binary probability or regression value), REJECT/ALERT when score >= threshold.
 * Everything else is PASS.
 */
const decision = z.strictObject({
  reject_classes: z.array(z.string()).default([]),
  min_probability: z.number().min(0).max(1).default(0.5),
  review_below: z.number().min(0).max(1).optional(),
  threshold: z.number().optional(),
  positive_label: z.string().optional(),
  /** What a score at or above `threshold` means: a part to reject, or a machine to alert on. */
  on_threshold: z.enum(['REJECT', 'ALERT']).default('REJECT'),
});
export type DecisionConfig = z.infer<typeof decision>;

const execution = z.strictObject({
  /** Execution providers in order of preference; the CPU is always the last fallback. */
  providers: z.array(z.string()).default(['cpu']),
  intra_op_threads: z.number().int().min(0).default(0),
  inter_op_threads: z.number().int().min(0).default(0),
  /** Number of session instances serving this model version in parallel. */
  instances: z.number().int().positive().default(1),
});

const dynamicBatching = z.strictObject({
  max_queue_delay_ms: z.number().min(0).default(2),
  preferred_batch_sizes: z.array(z.number().int().positive()).default([]),
  max_queue_size: z.number().int().positive().default(256),
  timeout_ms: z.number().int().positive().default(10_000),
});

const versionPolicy = z.union([
  z.strictObject({ latest: z.number().int().positive() }),
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({ specific: z.array(z.number().int().positive()).min(1) }),
]);
export type VersionPolicy = z.infer<typeof versionPolicy>;

export const TASKS = ['classification', 'regression', 'anomaly'] as const;
export type Task = (typeof TASKS)[number];

export const manifestSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(''),
  task: z.enum(TASKS),
  platform: z.literal('onnxruntime_onnx').default('onnxruntime_onnx'),
  /** Largest batch the model takes; 0 = the model has no batch dimension. */
  max_batch_size: z.number().int().min(0).default(32),
  inputs: z.array(tensorSpec).min(1),
  outputs: z.array(tensorSpec).min(1),
  preprocess: preprocessSchema.default({ kind: 'none' }),
  postprocess: postprocess.optional(),
  labels: z.array(z.string()).optional(),
  decision: decision.default({ reject_classes: [], min_probability: 0.5, on_threshold: 'REJECT' }),
  execution: execution.default({ providers: ['cpu'], intra_op_threads: 0, inter_op_threads: 0, instances: 1 }),
  dynamic_batching: dynamicBatching.default({ max_queue_delay_ms: 2, preferred_batch_sizes: [], max_queue_size: 256, timeout_ms: 10_000 }),
  version_policy: versionPolicy.default({ latest: 1 }),
  /** Free-form facts recorded by the tool that made the model (training data hash, metrics...). */
  metadata: z.record(z.string(), z.unknown()).default({}),
});

/** A validated, frozen model configuration. */
export type Manifest = z.infer<typeof manifestSchema>;
