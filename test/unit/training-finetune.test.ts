import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/onnx/builder.ts';
import { DataType, decodeModel } from '../../src/onnx/proto.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { FINETUNE_DEFAULTS, graftHead, trainHead } from '../../src/training/finetune.ts';
import { standardize } from '../../src/training/embeddings.ts';
import { predictScores } from '../../src/training/trainer.ts';
import { createRng } from '../../src/training/rng.ts';

/** A tiny "backbone": x [N,4] -> embedding [N,3] (Gemm + Relu) -> logits [N,2]. */
function backbone(): Uint8Array {
  const rng = createRng(1);
  const g = new GraphBuilder('backbone');
  g.input('x', DataType.FLOAT, ['batch', 4]);
  const h = g.op('Gemm', ['x', g.floats('W0', [4, 3], Array.from({ length: 12 }, () => rng.normal())), g.floats('b0', [3], [0.1, 0.2, 0.3])]);
  g.op('Relu', [h], {}, 'embedding');
  g.op('Gemm', ['embedding', g.floats('W1', [3, 2], [1, -1, 0.5, 0.5, -1, 1]), g.floats('b1', [2], [0, 0])], {}, 'logits');
  g.output('logits', DataType.FLOAT, ['batch', 2]);
  g.output('embedding', DataType.FLOAT, ['batch', 3]);
  return g.encode();
}

describe('fine-tuning head graft', () => {
  it('the grafted graph outputs the new head\'s logits (within 1e-5 of the trainer) and keeps the embedding', async () => {
    const bytes = backbone();
    const be = await getBackend();
    const base = await be.load(bytes);
    const rng = createRng(2);
    const n = 40;
    const x = Float32Array.from({ length: n * 4 }, () => rng.normal());
    const emb = (await base.run({ x: { datatype: 'FP32', shape: [n, 4], data: x } }, ['embedding'])).embedding!;
    await base.dispose();
    const data = Float64Array.from(emb.data as Float32Array);
    // three new classes, defined by which embedding dimension is largest
    const y = Array.from({ length: n }, (_, i) => {
      const r = data.subarray(i * 3, i * 3 + 3);
      return r.indexOf(Math.max(...r));
    });
    const labels = ['a', 'b', 'c'];
    for (const c of [0, 1, 2]) if (y.filter((v) => v === c).length < 2) y[c] = c; // keep every class present
    const head = trainHead({ data, rows: n, dim: 3, index: y.map((_, i) => i), failed: [] }, y, labels, { ...FINETUNE_DEFAULTS, epochs: 50 });
    const grafted = graftHead(bytes, head);
    const session = await be.load(grafted);
    try {
      expect(session.outputs.map((o) => o.name).sort()).toEqual(['embedding', 'logits']);
      const out = await session.run({ x: { datatype: 'FP32', shape: [n, 4], data: x } });
      expect(out.logits!.shape).toEqual([n, 3]);
      const want = predictScores(head.network, { data: standardize(data, n, 3, head), rows: n, cols: 3 });
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(Number(out.logits!.data[i]) - want[i]!) / Math.max(1, Math.abs(want[i]!)));
      expect(worst).toBeLessThan(1e-5);
      expect(Array.from(out.embedding!.data as Float32Array)).toEqual(Array.from(emb.data as Float32Array));
    } finally {
      await session.dispose();
    }
    // grafting onto a grafted model replaces the head instead of stacking a second one
    const twice = graftHead(grafted, head);
    const nodes = decodeModel(twice).graph!.node!.map((nd) => nd.name ?? '');
    expect(nodes.filter((nm) => nm.startsWith('finetune_head_')).length).toBe(4);
    const again = await be.load(twice);
    await again.dispose();
  });

  it('refuses a class with fewer than two images and a backbone without the embedding output', () => {
    const emb = { data: new Float64Array(6), rows: 3, dim: 2, index: [0, 1, 2], failed: [] };
    expect(() => trainHead(emb, [0, 0, 1], ['a', 'b'], FINETUNE_DEFAULTS)).toThrow(/class "b" has 1 usable image/);
    expect(() => graftHead(backbone(), { labels: ['a'], mean: new Float64Array(3), std: new Float64Array(3).fill(1), network: undefined as never, result: undefined as never, valAccuracy: NaN, rows: { train: 0, val: 0 } }, 'features')).toThrow(/no "features" output/);
  });
});
