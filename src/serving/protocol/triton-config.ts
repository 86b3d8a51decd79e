/**
 * config.yaml in the JSON shape of Triton's model configuration (`GET /v2/models/{m}/config`), so
 * Triton clients that read it (tritonclient's get_model_config, perf_analyzer) work unchanged.
 * Pure: a manifest in, a plain object out. Fields without a Triton counterpart (preprocessing,
 * decisions, labels) stay in LineSight's own endpoints.
 */
import type { Manifest, TensorSpec } from '../../repository/manifest.ts';

/** v2 datatype -> Triton's TYPE_* name. */
const TRITON_TYPE: Record<string, string> = {
  BOOL: 'TYPE_BOOL', UINT8: 'TYPE_UINT8', UINT16: 'TYPE_UINT16', UINT32: 'TYPE_UINT32', UINT64: 'TYPE_UINT64',
  INT8: 'TYPE_INT8', INT16: 'TYPE_INT16', INT32: 'TYPE_INT32', INT64: 'TYPE_INT64',
  FP16: 'TYPE_FP16', FP32: 'TYPE_FP32', FP64: 'TYPE_FP64', BYTES: 'TYPE_STRING',
};

export interface TritonTensorConfig {
  name: string;
  data_type: string;
  /** Without the batch dimension when max_batch_size > 0, as in Triton. */
  dims: number[];
}

export interface TritonModelConfig {
  name: string;
  platform: string;
  backend: string;
  max_batch_size: number;
  input: TritonTensorConfig[];
  output: TritonTensorConfig[];
  version_policy: { latest: { num_versions: number } } | { all: Record<string, never> } | { specific: { versions: number[] } };
  instance_group: Array<{ name: string; kind: 'KIND_CPU' | 'KIND_GPU'; count: number }>;
  dynamic_batching?: { preferred_batch_size: number[]; max_queue_delay_microseconds: number; default_queue_policy: { default_timeout_microseconds: number; max_queue_size: number } };
  parameters: Record<string, { string_value: string }>;
}

function tensor(s: TensorSpec): TritonTensorConfig {
  return { name: s.name, data_type: TRITON_TYPE[s.datatype] ?? `TYPE_${s.datatype}`, dims: [...s.shape] };
}

/** Triton's model configuration for a manifest. */
export function tritonModelConfig(m: Manifest): TritonModelConfig {
  const p = m.version_policy;
  const gpu = m.execution.providers.some((x) => x === 'cuda' || x === 'tensorrt');
  const b = m.dynamic_batching;
  return {
    name: m.name,
    platform: m.platform,
    backend: 'onnxruntime',
    max_batch_size: m.max_batch_size,
    input: m.inputs.map(tensor),
    output: m.outputs.map(tensor),
    version_policy: 'latest' in p ? { latest: { num_versions: p.latest } } : 'all' in p ? { all: {} } : { specific: { versions: [...p.specific] } },
    instance_group: [{ name: m.name, kind: gpu ? 'KIND_GPU' : 'KIND_CPU', count: m.execution.instances }],
    ...(m.max_batch_size > 0
      ? {
          dynamic_batching: {
            preferred_batch_size: [...b.preferred_batch_sizes],
            max_queue_delay_microseconds: Math.round(b.max_queue_delay_ms * 1000),
            default_queue_policy: { default_timeout_microseconds: b.timeout_ms * 1000, max_queue_size: b.max_queue_size },
          },
        }
      : {}),
    parameters: {
      intra_op_thread_count: { string_value: String(m.execution.intra_op_threads) },
      inter_op_thread_count: { string_value: String(m.execution.inter_op_threads) },
      execution_providers: { string_value: m.execution.providers.join(',') },
    },
  };
}
