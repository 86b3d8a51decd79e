import { describe, expect, it } from 'vitest';
import { foldBatchNorm } from '../../src/onnx/fold-bn.ts';
import { graphOf, initializerMap, dimsOf } from '../../src/onnx/graph.ts';
import { decodeModel, encodeModel, tensorToFloat32 } from '../../src/onnx/proto.ts';
import { keptChannels, pruneStructured, pruneUnstructured, structuredPruneInputs } from '../../src/onnx/prune.ts';
import { channelMeans } from '../../src/onnx/calibrate.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { convertToFp16, convertWeightsToFp16, fromHalfBits, toHalfBits } from '../../src/onnx/fp16.ts';
import { DataType } from '../../src/onnx/proto.ts';
import { modelStats } from '../../src/optimize/stats.ts';
import { convNet, imageBatch } from './onnx-fixture.ts';
import { maxAbsDiff, run, spread } from './onnx-helpers.ts';

const S = 32;
const x = { image: { datatype: 'FP32' as const, shape: [4, 1, S, S], data: imageBatch(4, S, 3) } };

describe('BatchNormalization folding', () => {
  it('removes every BatchNormalization and keeps the outputs', async () => {
    const fp32 = convNet({ batchNorm: true, size: S });
    const m = decodeModel(fp32);
    expect(foldBatchNorm(graphOf(m))).toBe(4);
    expect(graphOf(m).node!.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    const a = await run(fp32, x);
    const b = await run(encodeModel(m), x);
    expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(1e-4 * Math.max(1, spread(a.logits!)));
  });
});

describe('unstructured magnitude pruning', () => {
  it('zeroes exactly the ratio of each layer, the smallest magnitudes first', async () => {
    const fp32 = convNet({ size: S });
    const m = decodeModel(fp32);
    const before = initializerMap(graphOf(decodeModel(fp32)));
    const summary = pruneUnstructured(m, 0.5);
    expect(summary.layers).toHaveLength(5);
    for (const l of summary.layers) expect(l.zeroed).toBe(Math.floor(l.total! * 0.5));
    // The largest weight of a layer survives, the smallest is gone.
    const w0 = tensorToFloat32(before.get('conv1.weight')!);
    const after = [...initializerMap(graphOf(m)).values()].find((t) => t.name?.startsWith('conv1.weight'))!;
    const w1 = tensorToFloat32(after);
    const iMax = w0.reduce((best, v, i) => (Math.abs(v) > Math.abs(w0[best]!) ? i : best), 0);
    const iMin = w0.reduce((best, v, i) => (Math.abs(v) < Math.abs(w0[best]!) ? i : best), 0);
    expect(w1[iMax]).toBe(w0[iMax]);
    expect(w1[iMin]).toBe(0);
  });

  it('reports the sparsity, shrinks the gzip size but not the file, and still runs', async () => {
    const fp32 = convNet({ size: S });
    const m = decodeModel(fp32);
    pruneUnstructured(m, 0.6);
    const pruned = encodeModel(m);
    const a = modelStats(fp32);
    const b = modelStats(pruned);
    expect(a.sparsity).toBe(0);
    expect(b.sparsity).toBeGreaterThan(0.55);
    expect(b.gzip_bytes).toBeLessThan(0.75 * a.gzip_bytes);
    expect(b.file_bytes).toBeGreaterThan(0.9 * a.file_bytes);
    const out = await run(pruned, x);
    expect(out.logits!.length).toBe(4 * 6);
    expect(out.logits!.every(Number.isFinite)).toBe(true);
  });

  it('refuses a ratio outside (0, 1)', () => {
    expect(() => pruneUnstructured(decodeModel(convNet()), 1)).toThrow(expect.objectContaining({ code: 'LS_ERR_VALIDATION' }));
  });
});

describe('structured channel pruning', () => {
  it('removes conv channels, rewrites the next conv and keeps the model outputs', async () => {
    const fp32 = convNet({ batchNorm: true, size: S, widths: [8, 16, 16, 24] });
    const m = decodeModel(fp32);
    const summary = pruneStructured(m, 0.25);
    expect(summary.layers.map((l) => [l.channels_before, l.channels_after])).toEqual([[8, 6], [16, 12], [16, 12]]);
    // The last conv feeds the embedding output: its channels are kept so the embedding keeps its size.
    expect(summary.skipped.map((s) => s.node)).toEqual(['conv3']);
    const inits = initializerMap(graphOf(m));
    const conv = (name: string) => graphOf(m).node!.find((n) => n.name === name)!;
    expect(dimsOf(inits.get(conv('conv1').input![1]!)!)).toEqual([12, 6, 3, 3]);
    expect(dimsOf(inits.get(conv('conv3').input![1]!)!)).toEqual([24, 12, 3, 3]);
    const pruned = encodeModel(m);
    expect(modelStats(pruned).params).toBeLessThan(modelStats(fp32).params * 0.75);
    const out = await run(pruned, x);
    expect(out.logits!.length).toBe(4 * 6);
    expect(out.embedding!.length).toBe(4 * 24);
  });

  it('removing channels whose weights are zero changes nothing', async () => {
    // Zero whole channels first: the L1 criterion must pick exactly those, so outputs stay equal.
    const fp32 = convNet({ size: S, widths: [8, 16, 16, 24] });
    const m = decodeModel(fp32);
    const g = graphOf(m);
    const inits = initializerMap(g);
    for (const name of ['conv0', 'conv1', 'conv2']) {
      const node = g.node!.find((n) => n.name === name)!;
      const w = inits.get(node.input![1]!)!;
      const b = inits.get(node.input![2]!)!;
      const wd = tensorToFloat32(w);
      const bd = tensorToFloat32(b);
      const cout = dimsOf(w)[0]!;
      const per = wd.length / cout;
      for (let c = 0; c < cout / 4; c++) {
        wd.fill(0, c * per, (c + 1) * per);
        bd[c] = 0;
      }
      w.rawData = new Uint8Array(wd.buffer.slice(0));
      b.rawData = new Uint8Array(bd.buffer.slice(0));
    }
    const zeroed = encodeModel(m);
    const m2 = decodeModel(zeroed);
    pruneStructured(m2, 0.25);
    const a = await run(zeroed, x);
    const b = await run(encodeModel(m2), x);
    expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(1e-4);
  });
});

describe('structured pruning options', () => {
  it('kept channels: exact ratio by default, rounded to a multiple when aligned, always at least one removed', () => {
    expect(keptChannels(24, 0.25, 1)).toBe(18);
    expect(keptChannels(24, 0.25, 8)).toBe(16);
    expect(keptChannels(32, 0.1, 8)).toBe(24);
    expect(keptChannels(8, 0.01, 1)).toBe(7);
    expect(keptChannels(2, 0.9, 1)).toBe(1);
  });

  it('bias correction: removed constant channels are replaced by their mean instead of zero', async () => {
    // In every prunable conv the channels that will be removed get zero weights and a positive bias:
    // after ReLU/MaxPool they are constant, so their L1 norm is smallest and replacing them by their
    // mean is exact away from the zero-padded borders (hence a larger input here).
    const size = 128;
    const input = { image: { datatype: 'FP32' as const, shape: [2, 1, size, size], data: imageBatch(2, size, 4) } };
    const m0 = decodeModel(convNet({ size, widths: [8, 16, 16, 24] }));
    const g = graphOf(m0);
    const inits = initializerMap(g);
    for (const [name, count] of [['conv0', 2], ['conv1', 4], ['conv2', 4]] as const) {
      const node = g.node!.find((n) => n.name === name)!;
      const w = inits.get(node.input![1]!)!;
      const b = inits.get(node.input![2]!)!;
      const wd = tensorToFloat32(w);
      const bd = tensorToFloat32(b);
      const per = wd.length / dimsOf(w)[0]!;
      for (let c = 0; c < count; c++) {
        wd.fill(0, c * per, (c + 1) * per);
        bd[c] = 0.8;
      }
      w.rawData = new Uint8Array(wd.buffer.slice(0));
      b.rawData = new Uint8Array(bd.buffer.slice(0));
    }
    const model = encodeModel(m0);
    const folded = decodeModel(model);
    const means = await channelMeans(folded, structuredPruneInputs(folded), [input], await getBackend());
    expect(means.get('pool1')![0]).toBeCloseTo(0.8, 5);
    const plain = decodeModel(model);
    pruneStructured(plain, 0.25);
    const corrected = decodeModel(model);
    const summary = pruneStructured(corrected, 0.25, { means });
    expect(summary.compensated).toBe(true);
    expect(summary.layers.map((l) => l.channels_after)).toEqual([6, 12, 12]);
    const ref = await run(model, input);
    const errPlain = maxAbsDiff(ref.embedding!, (await run(encodeModel(plain), input)).embedding!);
    const errCorrected = maxAbsDiff(ref.embedding!, (await run(encodeModel(corrected), input)).embedding!);
    expect(errCorrected).toBeLessThan(errPlain * 0.5);
  });
});

describe('fp16 weights', () => {
  it('converts numbers to IEEE binary16 and back', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(0)).toBe(0);
    expect(fromHalfBits(toHalfBits(0.1))).toBeCloseTo(0.1, 3);
    expect(fromHalfBits(toHalfBits(6e-6))).toBeCloseTo(6e-6, 7); // subnormal
    expect(fromHalfBits(0x3c01)).toBeCloseTo(1 + 1 / 1024, 9);
  });

  it('halves the weights and keeps outputs close, inputs and outputs stay float32', async () => {
    const fp32 = convNet({ batchNorm: true, size: S });
    const m = decodeModel(fp32);
    const summary = convertWeightsToFp16(m);
    expect(summary.converted_initializers).toBe(10);
    const half = encodeModel(m);
    expect(half.byteLength).toBeLessThan(0.6 * fp32.byteLength);
    const a = await run(fp32, x);
    const b = await run(half, x);
    expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(0.01 * spread(a.logits!));
  });

  it('whole-graph fp16: every initializer float16, float32 inputs/outputs kept, outputs close', async () => {
    const fp32 = convNet({ batchNorm: true, size: S });
    const m = decodeModel(fp32);
    const summary = convertToFp16(m);
    expect(summary.compute).toBe('float16');
    const g = graphOf(m);
    expect(g.initializer!.every((t) => t.dataType !== DataType.FLOAT)).toBe(true);
    expect(g.input!.map((i) => i.type?.tensorType?.elemType)).toEqual([DataType.FLOAT]);
    expect(g.output!.map((o) => o.type?.tensorType?.elemType)).toEqual([DataType.FLOAT, DataType.FLOAT]);
    expect(g.node!.filter((n) => n.opType === 'Cast')).toHaveLength(3);
    const half = encodeModel(m);
    const a = await run(fp32, x);
    const b = await run(half, x);
    expect(b.logits).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(0.02 * spread(a.logits!));
    expect(maxAbsDiff(a.embedding!, b.embedding!)).toBeLessThan(0.02 * spread(a.embedding!));
  });
});
