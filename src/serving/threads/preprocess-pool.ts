/**
 * A pool of worker threads that decode and preprocess images, as an alternative to preprocessing on
 * the main thread with several images in flight. Requests go to the least busy thread.
 */
import { Worker } from 'node:worker_threads';
import { ERRORS, LsError, type ErrorCode } from '../../core/errors.ts';
import type { Disposable } from '../../core/dispose.ts';
import type { SampleData } from '../../pipeline/pre/image.ts';
import type { ImagePreprocess } from '../../repository/manifest.ts';

type Reply = { id: number; data?: SampleData; error?: { code: string; detail?: string; subject?: string } };

interface Slot {
  readonly worker: Worker;
  busy: number;
}

export class PreprocessPool implements Disposable {
  private readonly slots: Slot[];
  private readonly pending = new Map<number, { resolve(d: SampleData): void; reject(e: unknown): void }>();
  private nextId = 1;
  private closed = false;

  constructor(threads: number) {
    this.slots = Array.from({ length: Math.max(1, threads) }, () => {
      const worker = new Worker(new URL('./preprocess-worker.mjs', import.meta.url));
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (m: Reply) => {
        slot.busy--;
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.data) p.resolve(m.data);
        else {
          const code = (m.error && m.error.code in ERRORS ? m.error.code : 'LS_ERR_IMAGE_CORRUPT') as ErrorCode;
          p.reject(new LsError(code, m.error?.detail, m.error?.subject ? { subject: m.error.subject } : undefined));
        }
      });
      return slot;
    });
  }

  /** Decode and preprocess one image in a pool thread. */
  preprocess(bytes: Uint8Array, spec: ImagePreprocess, subject?: string): Promise<SampleData> {
    if (this.closed) return Promise.reject(new LsError('LS_ERR_SHUTTING_DOWN'));
    const slot = this.slots.reduce((a, s) => (s.busy < a.busy ? s : a));
    const id = this.nextId++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, bytes, spec, ...(subject ? { subject } : {}) });
    });
  }

  async dispose(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new LsError('LS_ERR_SHUTTING_DOWN'));
    this.pending.clear();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
