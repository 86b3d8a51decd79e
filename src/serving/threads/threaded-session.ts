/**
 * An InferenceSession that runs in its own worker thread. onnxruntime-node's run() holds the calling
 * thread for the whole forward pass (measured: one event-loop tick during a 127 ms batch), so in
 * the server every session instance lives in a worker and the main thread stays free for HTTP,
 * image decoding and batching.
 */
import { Worker } from 'node:worker_threads';
import { LsError, ERRORS, type ErrorCode } from '../../core/errors.ts';
import type { InferenceBackend, InferenceSession, ProviderInfo, RunOptions, SessionOptions } from '../../runtime/backend.ts';
import type { IoInfo, Tensor } from '../../runtime/tensor.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const WORKER_URL = new URL('./session-worker.mjs', import.meta.url);

function toError(m: Extract<FromWorker, { type: 'error' }>): LsError {
  const code = (m.code in ERRORS ? m.code : 'LS_ERR_INFERENCE') as ErrorCode;
  return new LsError(code, m.detail ?? m.message, m.subject ? { subject: m.subject } : undefined);
}

export class ThreadedSession implements InferenceSession {
  private readonly pending = new Map<number, { resolve(o: Record<string, Tensor>): void; reject(e: unknown): void }>();
  private nextId = 1;
  private disposed = false;
  private exitError: LsError | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly inputs: readonly IoInfo[],
    readonly outputs: readonly IoInfo[],
    readonly provider: string,
  ) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ran') this.settle(m.id, (p) => p.resolve(m.outputs));
      else if (m.type === 'error' && m.id !== undefined) this.settle(m.id, (p) => p.reject(toError(m)));
    });
    worker.on('exit', () => {
      this.exitError = new LsError('LS_ERR_MODEL_NOT_READY', 'the inference thread stopped');
      for (const p of this.pending.values()) p.reject(this.exitError);
      this.pending.clear();
    });
  }

  /** Start a worker thread and load the model in it. */
  static async create(model: string | Uint8Array, options: SessionOptions = {}): Promise<ThreadedSession> {
    const worker = new Worker(WORKER_URL);
    const { onProviderFallback, ...plain } = options;
    let cleanup = () => {};
    try {
      const loaded = await new Promise<Extract<FromWorker, { type: 'loaded' }>>((resolve, reject) => {
        const onMessage = (m: FromWorker) => {
          if (m.type === 'loaded') resolve(m);
          else if (m.type === 'error') reject(toError(m));
        };
        const onError = (e: Error) => reject(new LsError('LS_ERR_MODEL_CORRUPT', e.message));
        const onExit = (c: number) => reject(new LsError('LS_ERR_MODEL_CORRUPT', `inference thread exited with code ${c}`));
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        cleanup = () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        worker.postMessage({ type: 'load', model, options: plain } satisfies ToWorker);
      });
      cleanup();
      for (const [p, why] of loaded.fallbacks) onProviderFallback?.(p, why);
      return new ThreadedSession(worker, loaded.inputs, loaded.outputs, loaded.provider);
    } catch (e) {
      cleanup();
      await worker.terminate();
      throw e;
    }
  }

  run(feeds: Readonly<Record<string, Tensor>>, outputNames?: readonly string[], opts?: RunOptions): Promise<Record<string, Tensor>> {
    if (this.disposed || this.exitError) return Promise.reject(this.exitError ?? new LsError('LS_ERR_MODEL_NOT_READY', 'the session was released'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Inputs are copied (structured clone), since they may be views into buffers the caller still
      // uses, unless the caller gives them up: then whole buffers move to the worker without a copy.
      const transfer = opts?.giveInputs ? movableBuffers(feeds) : [];
      this.worker.postMessage({ type: 'run', id, feeds: { ...feeds }, ...(outputNames ? { outputNames } : {}) } satisfies ToWorker, transfer);
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.exitError) return;
    await new Promise<void>((resolve) => {
      // A thread that does not confirm within 5 s (stuck in native code) is terminated anyway.
      const force = setTimeout(() => void this.worker.terminate(), 5000);
      this.worker.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'disposed') void this.worker.terminate();
      });
      this.worker.postMessage({ type: 'dispose' } satisfies ToWorker);
    });
  }

  private settle(id: number, fn: (p: { resolve(o: Record<string, Tensor>): void; reject(e: unknown): void }) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    fn(p);
  }
}

/** A backend whose sessions each run in their own worker thread, over the same engine. */
export class ThreadedBackend implements InferenceBackend {
  readonly name: string;
  readonly version: string;

  constructor(private readonly inner: InferenceBackend) {
    this.name = `${inner.name} (threaded)`;
    this.version = inner.version;
  }

  providers(): readonly ProviderInfo[] {
    return this.inner.providers();
  }

  async load(model: string | Uint8Array, options?: SessionOptions): Promise<InferenceSession> {
    // The worker loads on its own: hand it the bytes the wrapped backend vetted (signed models).
    const vetted = typeof model === 'string' && this.inner.readModel ? await this.inner.readModel(model) : model;
    return ThreadedSession.create(vetted, options);
  }
}

/** The input buffers that can move to another thread: plain ArrayBuffers that a tensor covers whole. */
export function movableBuffers(feeds: Readonly<Record<string, Tensor>>): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const t of Object.values(feeds)) {
    const d = t.data;
    if (Array.isArray(d) || !(d.buffer instanceof ArrayBuffer)) continue;
    if (d.byteOffset !== 0 || d.byteLength !== d.buffer.byteLength || out.includes(d.buffer)) continue;
    out.push(d.buffer);
  }
  return out;
}
