/** A preprocessing pool thread: image bytes + spec in, one sample's tensor data out (transferred). */
import { parentPort } from 'node:worker_threads';
import { isLsError } from '../../core/errors.ts';
import { preprocessImage } from '../../pipeline/pre/image.ts';
import type { ImagePreprocess } from '../../repository/manifest.ts';

const port = parentPort;
if (!port) throw new Error('preprocess-worker must run in a worker thread');

port.on('message', async (m: { id: number; bytes: Uint8Array; spec: ImagePreprocess; subject?: string }) => {
  try {
    const data = await preprocessImage(m.bytes, m.spec, m.subject);
    const buf = data.buffer as ArrayBuffer;
    port.postMessage({ id: m.id, data }, data.byteLength === buf.byteLength ? [buf] : []);
  } catch (e) {
    port.postMessage({ id: m.id, error: isLsError(e) ? { code: e.code, detail: e.detail, subject: e.subject } : { code: 'LS_ERR_IMAGE_CORRUPT', detail: (e as Error).message } });
  }
});
