/**
 * Execution providers and thread settings as they apply to a model: which providers the backend can
 * use here, which one a model's `execution.providers` list ends up on, and the threads in force.
 */
import type { Manifest } from '../repository/manifest.ts';
import type { InferenceBackend, ProviderInfo } from './backend.ts';

/** Where a model's provider list lands on this machine. */
export interface ProviderPlan {
  readonly requested: readonly string[];
  /** The provider sessions will run on. */
  readonly effective: string;
  /** Providers skipped, each with why. */
  readonly fallbacks: ReadonlyArray<{ provider: string; reason: string }>;
}

/** Resolve a requested provider list against what is available (the CPU is always the last resort). */
export function planProviders(requested: readonly string[], available: readonly ProviderInfo[]): ProviderPlan {
  const byName = new Map(available.map((p) => [p.name, p]));
  const fallbacks: Array<{ provider: string; reason: string }> = [];
  for (const p of requested) {
    const info = byName.get(p);
    if (info?.available) return { requested, effective: p, fallbacks };
    fallbacks.push({ provider: p, reason: info ? (info.note ?? 'unavailable') : 'unknown execution provider' });
  }
  return { requested, effective: 'cpu', fallbacks };
}

/** Thread settings of a model as onnxruntime will apply them. */
export interface ThreadSettings {
  /** Threads one session uses inside an operator; 'default' = onnxruntime's choice (one per physical core). */
  readonly intra_op: number | 'default';
  readonly inter_op: number | 'default';
  readonly instances: number;
  /** Threads that may be busy at once for this model (instances × intra-op). */
  readonly max_busy_threads: number;
}

/** The thread settings in force for a model config on a machine with `cores` cores. */
export function threadSettings(execution: Manifest['execution'], cores: number): ThreadSettings {
  const intra = execution.intra_op_threads || 'default';
  const inter = execution.inter_op_threads || 'default';
  const perSession = intra === 'default' ? cores : intra;
  return { intra_op: intra, inter_op: inter, instances: execution.instances, max_busy_threads: perSession * execution.instances };
}

/** Providers of a backend with a one-word verdict each, for `linesight doctor`. */
export function describeProviders(backend: InferenceBackend): Array<ProviderInfo & { status: 'available' | 'unavailable' }> {
  return backend.providers().map((p) => ({ ...p, status: p.available ? 'available' : 'unavailable' }));
}
