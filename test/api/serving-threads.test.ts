/** Worker-thread preprocessing pool: same tensors as the main thread, same errors, usable by the server. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { preprocessImage } from '../../src/pipeline/pre/image.ts';
import { manifestSchema } from '../../src/repository/manifest.ts';
import { buildApp } from '../../src/serving/app.ts';
import { PreprocessPool } from '../../src/serving/threads/preprocess-pool.ts';
import { makeServingRepo } from './helpers/serving-repo.ts';

const jpeg = readFileSync(path.join(import.meta.dirname, '../fixtures/neu/inclusion_2.jpg'));
const spec = manifestSchema.parse({
  name: 'm', task: 'classification', inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 32, 32] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [2] }],
  preprocess: { kind: 'image', width: 32, height: 32, color: 'gray' },
}).preprocess;
if (spec.kind !== 'image') throw new Error('image spec expected');

const pool = new PreprocessPool(2);
afterAll(async () => pool.dispose());

describe('PreprocessPool', () => {
  it('gives bit-identical tensors to main-thread preprocessing', async () => {
    const [a, b] = await Promise.all([pool.preprocess(jpeg, spec), preprocessImage(jpeg, spec)]);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a.length).toBe(32 * 32);
    expect(Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(0);
  });

  it('reports corrupt and empty images with their codes, and keeps working', async () => {
    await expect(pool.preprocess(Buffer.from([0xff, 0xd8, 0xff, 1, 2, 3]), spec, 'p1')).rejects.toMatchObject({ code: 'LS_ERR_IMAGE_CORRUPT', subject: 'p1' });
    await expect(pool.preprocess(Buffer.alloc(0), spec)).rejects.toMatchObject({ code: 'LS_ERR_IMAGE_EMPTY' });
    const many = await Promise.all(Array.from({ length: 6 }, () => pool.preprocess(jpeg, spec)));
    expect(many.every((d) => d.length === 1024)).toBe(true);
  });

  it('serves /v1/inspect with preprocessing in worker threads', async () => {
    const built = await buildApp({ repoDir: makeServingRepo(), preprocessThreads: 1, inferenceThreads: false });
    try {
      const r = await built.app.inject({ method: 'POST', url: '/v1/inspect/tiny', headers: { 'content-type': 'image/jpeg' }, payload: jpeg });
      expect(r.statusCode).toBe(200);
      expect(r.json().model).toBe('tiny');
      const bad = await built.app.inject({ method: 'POST', url: '/v1/inspect/tiny', headers: { 'content-type': 'image/jpeg' }, payload: Buffer.from([0xff, 0xd8, 0xff, 0]) });
      expect(bad.statusCode).toBe(400);
    } finally {
      await built.dispose();
    }
  });
});

describe('ThreadedSession', () => {
  it('copies inputs by default and moves them only when the caller gives them up; both give the in-thread answer', async () => {
    const { ThreadedSession, movableBuffers } = await import('../../src/serving/threads/threaded-session.ts');
    const { getBackend } = await import('../../src/runtime/index.ts');
    const { tinyImageClassifier } = await import('../helpers/tiny-model.ts');
    const bytes = tinyImageClassifier(8, 3, 7);
    const threaded = await ThreadedSession.create(bytes, {});
    const direct = await (await getBackend()).load(bytes, {});
    try {
      const x = () => ({ image: { datatype: 'FP32' as const, shape: [2, 1, 8, 8], data: Float32Array.from({ length: 128 }, (_, i) => Math.sin(i)) } });
      const want = (await direct.run(x())).logits!.data as Float32Array;

      const kept = x();
      const a = await threaded.run(kept);
      expect(Array.from(a.logits!.data as Float32Array)).toEqual(Array.from(want));
      expect(kept.image.data.length).toBe(128); // still usable by the caller

      const given = x();
      expect(movableBuffers(given)).toEqual([given.image.data.buffer]);
      const b = await threaded.run(given, undefined, { giveInputs: true });
      expect(Array.from(b.logits!.data as Float32Array)).toEqual(Array.from(want));
      expect(given.image.data.byteLength).toBe(0); // moved to the session thread, not copied

      // a view into a larger buffer is never moved (the caller's other data lives there)
      const big = new Float32Array(256);
      const view = { image: { datatype: 'FP32' as const, shape: [2, 1, 8, 8], data: big.subarray(128) } };
      expect(movableBuffers(view)).toEqual([]);
      await threaded.run(view, undefined, { giveInputs: true });
      expect(big.length).toBe(256);
    } finally {
      await threaded.dispose();
      await direct.dispose();
    }
  });
});
