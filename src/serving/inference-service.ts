/**
 * The inference service: what HTTP routes, MQTT ingestion and the line call to run a model.
 * Implementations: DirectInferenceService (one LoadedModel per version, no batching; CLI and tests)
 * and the serving layer's batched model manager (dynamic batching, lifecycle, metrics).
 */
import type { Disposable } from '../core/dispose.ts';
import type { Prediction } from '../pipeline/post/predict.ts';
import type { RawRow } from '../pipeline/pre/tabular.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Manifest } from '../repository/manifest.ts';

/** Per-stage latency of one request, in milliseconds. */
export interface RequestTimings {
  queue_ms: number;
  preprocess_ms: number;
  inference_ms: number;
  postprocess_ms: number;
  total_ms: number;
}

export interface InspectResult {
  readonly prediction: Prediction;
  readonly timings: RequestTimings;
}

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

export interface ModelVersionStatus {
  readonly name: string;
  readonly version: number;
  readonly state: ModelState;
  readonly reason?: string;
  readonly task?: Manifest['task'];
}

export interface InferenceService extends Disposable {
  /** One image through preprocess -> (batched) forward -> postprocess. */
  inspectImage(model: string, bytes: Uint8Array, opts?: { version?: number; subject?: string }): Promise<InspectResult>;
  /** Rows of raw columns through a tabular model. */
  predictRows(model: string, rows: readonly RawRow[], opts?: { version?: number }): Promise<Prediction[]>;
  /** Raw tensors in, raw tensors out (the v2 infer endpoint). */
  inferTensors(model: string, feeds: Readonly<Record<string, Tensor>>, opts?: { version?: number; outputs?: readonly string[] }): Promise<{ version: number; outputs: Record<string, Tensor> }>;
  /** The config of a model version (the newest ready one when version is omitted). */
  manifest(model: string, version?: number): Promise<Manifest>;
  /** State of every model version known to the service. */
  status(): readonly ModelVersionStatus[];
}
