/**
 * The worker thread of a ThreadedSession: owns one onnxruntime session and runs it, so the forward
 * pass (which blocks its thread for its whole duration) never stalls the HTTP event loop.
 */
import { parentPort } from 'node:worker_threads';
import { isLsError } from '../../core/errors.ts';
import type { InferenceSession } from '../../runtime/backend.ts';
import { getBackend } from '../../runtime/index.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('session-worker must run in a worker thread');
let session: InferenceSession | undefined;

function send(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(m, transfer);
}

function fail(e: unknown, id?: number): void {
  if (isLsError(e)) send({ type: 'error', id, code: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}), ...(e.subject ? { subject: e.subject } : {}) });
  else send({ type: 'error', id, code: 'LS_ERR_INFERENCE', message: (e as Error)?.message ?? String(e) });
}

port.on('message', async (m: ToWorker) => {
  if (m.type === 'load') {
    try {
      const fallbacks: Array<[string, string]> = [];
      session = await (await getBackend()).load(m.model, { ...m.options, onProviderFallback: (p, why) => fallbacks.push([p, why]) });
      send({ type: 'loaded', inputs: [...session.inputs], outputs: [...session.outputs], provider: session.provider, fallbacks });
    } catch (e) {
      fail(e);
    }
  } else if (m.type === 'run') {
    try {
      if (!session) throw new Error('no session loaded');
      const outputs = await session.run(m.feeds, m.outputNames);
      const transfer: ArrayBuffer[] = [];
      for (const t of Object.values(outputs) as Tensor[]) {
        const d = t.data;
        if (!Array.isArray(d) && d.buffer instanceof ArrayBuffer && !transfer.includes(d.buffer)) transfer.push(d.buffer);
      }
      send({ type: 'ran', id: m.id, outputs }, transfer);
    } catch (e) {
      fail(e, m.id);
    }
  } else if (m.type === 'dispose') {
    try {
      await session?.dispose();
    } finally {
      session = undefined;
      send({ type: 'disposed' });
      port.close();
    }
  }
});
