/**
 * The inference backend interface. The rest of LineSight talks only to this;
 * onnxruntime-node is one implementation (runtime/onnx/), registered at start-up.
 */
import type { Disposable } from '../core/dispose.ts';
import type { IoInfo, Tensor } from './tensor.ts';

export interface SessionOptions {
  /** Execution providers in order of preference, e.g. ['cuda', 'cpu']. The CPU is always appended as fallback. */
  readonly providers?: readonly string[];
  readonly intraOpThreads?: number;
  readonly interOpThreads?: number;
  /** Write the graph as optimized by the engine here (to check which kernels were fused). */
  readonly optimizedModelPath?: string;
  /** Called once per provider that could not be used, with the reason. */
  readonly onProviderFallback?: (provider: string, reason: string) => void;
}

/** One loaded model, ready to run. Release it with dispose(). */
export interface InferenceSession extends Disposable {
  readonly inputs: readonly IoInfo[];
  readonly outputs: readonly IoInfo[];
  /** The provider the session actually runs on. */
  readonly provider: string;
  /**
   * `opts.giveInputs`: the caller hands over the input buffers and will not touch them again, so a
   * session in another thread may move them instead of copying (they are detached afterwards).
   */
  run(feeds: Readonly<Record<string, Tensor>>, outputNames?: readonly string[], opts?: RunOptions): Promise<Record<string, Tensor>>;
}

export interface RunOptions {
  readonly giveInputs?: boolean;
}

export interface ProviderInfo {
  readonly name: string;
  /** Whether this build can use it on this machine (bundled and, for GPUs, a device present). */
  readonly available: boolean;
  readonly note?: string;
}

export interface InferenceBackend {
  readonly name: string;
  readonly version: string;
  providers(): readonly ProviderInfo[];
  /**
   * The bytes to load for a model file, when this backend checks them first (e.g. signatures).
   * A backend that wraps this one but loads elsewhere (a worker thread) must load these bytes.
   */
  readModel?(modelPath: string): Promise<Uint8Array>;
  /** Load a model from a file path or its bytes. Throws LS_ERR_MODEL_CORRUPT for a broken file. */
  load(model: string | Uint8Array, options?: SessionOptions): Promise<InferenceSession>;
}

const backends = new Map<string, () => Promise<InferenceBackend>>();

/** Implementations register a factory under a name ('onnxruntime'). */
export function registerBackend(name: string, factory: () => Promise<InferenceBackend>): void {
  backends.set(name, factory);
}

export async function getBackend(name = 'onnxruntime'): Promise<InferenceBackend> {
  const f = backends.get(name);
  if (!f) throw new Error(`inference backend "${name}" is not registered (registered: ${[...backends.keys()].join(', ') || 'none'})`);
  return f();
}
