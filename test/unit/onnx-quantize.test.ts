import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../src/onnx/proto.ts';
import { MIN_INT8_CONV_DEPTH, quantizeStatic } from '../../src/onnx/quantize.ts';
import { quantizeDynamic } from '../../src/onnx/quantize-dynamic.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { modelStats } from '../../src/optimize/stats.ts';
import { convNet, imageBatch, mlp, rng } from './onnx-fixture.ts';
import { DataType, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/proto.ts';
import { argmaxRows, engineOps, maxAbsDiff, run, spread } from './onnx-helpers.ts';

const S = 64;
const images = (n: number, seed: number) => ({ image: { datatype: 'FP32' as const, shape: [n, 1, S, S], data: imageBatch(n, S, seed) } });

async function quantized(method: 'minmax' | 'percentile') {
  const fp32 = convNet({ batchNorm: true, size: S, widths: [16, 24, 32, 48] });
  const model = decodeModel(fp32);
  const calibration = [0, 1, 2, 3].map((i) => images(8, 100 + i));
  const summary = await quantizeStatic(model, { calibration, method, backend: await getBackend(), intraOpThreads: 1 });
  return { fp32, int8: encodeModel(model), summary };
}

describe('static int8 quantization (QDQ U8S8)', () => {
  it('folds BatchNorm, absorbs ReLU and quantizes every Conv but the shallow first one, and the Gemm', async () => {
    const { summary } = await quantized('minmax');
    expect(summary.folded_batchnorm).toBe(4);
    // conv0 reads 1 channel × 3×3 = 9 values per output, below MIN_INT8_CONV_DEPTH: it stays float (no ReLU to absorb)
    expect(MIN_INT8_CONV_DEPTH).toBe(16);
    expect(summary.fused_relu).toBe(3);
    expect(summary.quantized_nodes).toMatchObject({ Conv: 3, Gemm: 1, MaxPool: 2, GlobalAveragePool: 1 });
    expect(summary.skipped).toEqual([{ node: 'conv0', reason: expect.stringMatching(/^shallow filter \(1×3×3 = 9 values per output, below 16\)/) }]);
  });

  it('quantizes the shallow conv too when asked (minConvDepth 0)', async () => {
    const model = decodeModel(convNet({ batchNorm: true, size: S, widths: [16, 24, 32, 48] }));
    const summary = await quantizeStatic(model, { calibration: [images(8, 100)], method: 'minmax', backend: await getBackend(), intraOpThreads: 1, minConvDepth: 0 });
    expect(summary.quantized_nodes).toMatchObject({ Conv: 4 });
    expect(summary.skipped).toEqual([]);
    expect((await engineOps(encodeModel(model)))['com.microsoft.QLinearConv']).toBe(4);
  });

  it('is fused by onnxruntime into integer kernels (QLinearConv, QGemm); only the shallow conv stays float', async () => {
    const { int8 } = await quantized('minmax');
    const ops = await engineOps(int8);
    expect(ops['com.microsoft.QLinearConv']).toBe(3);
    expect(ops['com.microsoft.QGemm']).toBe(1);
    const floatConvs = Object.entries(ops).filter(([k]) => /(^|\.)(Fused)?Conv$/.test(k)).reduce((a, [, n]) => a + n, 0);
    expect(floatConvs).toBe(1);
  });

  it('keeps outputs within tolerance of fp32 and the same top class', async () => {
    const { fp32, int8 } = await quantized('minmax');
    const x = images(16, 999);
    const a = await run(fp32, x);
    const b = await run(int8, x);
    expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(0.05 * spread(a.logits!));
    const agree = argmaxRows(a.logits!, 6).filter((c, i) => c === argmaxRows(b.logits!, 6)[i]).length;
    expect(agree).toBeGreaterThanOrEqual(15);
    // The embedding output stays float and close to fp32.
    expect(b.embedding!.length).toBe(a.embedding!.length);
    expect(maxAbsDiff(a.embedding!, b.embedding!)).toBeLessThan(0.05 * spread(a.embedding!));
  });

  it('percentile calibration also gives a working, fused model', async () => {
    const { fp32, int8, summary } = await quantized('percentile');
    expect(summary.calibration).toMatchObject({ method: 'percentile', percentile: 99.99, batches: 4 });
    expect((await engineOps(int8))['com.microsoft.QLinearConv']).toBe(3);
    const x = images(8, 5);
    const a = await run(fp32, x);
    const b = await run(int8, x);
    expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(0.1 * spread(a.logits!));
  });

  it('stores weights in 8 bits: the file shrinks to well under half', async () => {
    const { fp32, int8 } = await quantized('minmax');
    const ratio = modelStats(int8).file_bytes / modelStats(fp32).file_bytes;
    expect(ratio).toBeLessThan(0.4);
    expect(modelStats(int8).params).toBeGreaterThan(0.95 * modelStats(fp32).params);
  });

  it('refuses an empty calibration set', async () => {
    const model = decodeModel(convNet());
    await expect(quantizeStatic(model, { calibration: [], method: 'minmax', backend: await getBackend() })).rejects.toMatchObject({ code: 'LS_ERR_DATASET' });
  });
});

describe('static int8 on an MLP', () => {
  it('quantizes MatMul per tensor and a transB=0 Gemm, fused into QLinearMatMul and QGemm', async () => {
    const fp32 = mlp(16, 64, 2);
    const model = decodeModel(fp32);
    const rows = (seed: number) => ({ x: { datatype: 'FP32' as const, shape: [32, 16], data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37 + seed)) } });
    const summary = await quantizeStatic(model, { calibration: [rows(1), rows(2)], method: 'minmax', backend: await getBackend(), intraOpThreads: 1 });
    expect(summary.quantized_nodes).toMatchObject({ MatMul: 2, Gemm: 1 });
    const int8 = encodeModel(model);
    const ops = await engineOps(int8);
    expect(ops.QLinearMatMul).toBe(2);
    expect(ops['com.microsoft.QGemm']).toBe(1);
    const a = await run(fp32, rows(0.5));
    const b = await run(int8, rows(0.5));
    expect(maxAbsDiff(a.y!, b.y!)).toBeLessThan(0.05 * spread(a.y!));
  });
});

describe('ReLU absorption keeps the ReLU where nothing quantized follows', () => {
  it('a ReLU read by a float op or exposed as a model output still clamps', async () => {
    // x → MatMul → ReLU → Sigmoid → y, and x → MatMul → ReLU (model output h) → MatMul → z.
    const r = rng(5);
    const w = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1);
    const fp32 = encodeModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'relu',
        node: [
          makeNode('MatMul', ['x', 'w1'], ['m1']),
          makeNode('Relu', ['m1'], ['r1']),
          makeNode('Sigmoid', ['r1'], ['y']),
          makeNode('MatMul', ['x', 'w2'], ['m2']),
          makeNode('Relu', ['m2'], ['h']),
          makeNode('MatMul', ['h', 'w3'], ['z']),
        ],
        initializer: [makeTensor('w1', [8, 8], w(64)), makeTensor('w2', [8, 8], w(64)), makeTensor('w3', [8, 4], w(32))],
        input: [makeValueInfo('x', DataType.FLOAT, ['batch', 8])],
        output: [makeValueInfo('y', DataType.FLOAT, ['batch', 8]), makeValueInfo('h', DataType.FLOAT, ['batch', 8]), makeValueInfo('z', DataType.FLOAT, ['batch', 4])],
      },
    });
    const rows = (seed: number) => ({ x: { datatype: 'FP32' as const, shape: [16, 8], data: Float32Array.from({ length: 128 }, (_, i) => Math.sin(i * 0.7 + seed) * 2) } });
    const model = decodeModel(fp32);
    const summary = await quantizeStatic(model, { calibration: [rows(1)], method: 'minmax', backend: await getBackend(), intraOpThreads: 1 });
    expect(summary.fused_relu).toBe(1);
    const a = await run(fp32, rows(2));
    const b = await run(encodeModel(model), rows(2));
    // Without the clamp, sigmoid of negative pre-activations would fall below 0.5 and h would go negative.
    expect(Math.min(...b.y!)).toBeGreaterThanOrEqual(0.5 - 1e-6);
    expect(Math.min(...b.h!)).toBeGreaterThanOrEqual(0);
    expect(maxAbsDiff(a.y!, b.y!)).toBeLessThan(0.05);
    expect(maxAbsDiff(a.h!, b.h!)).toBeLessThan(0.05 * spread(a.h!));
    expect(maxAbsDiff(a.z!, b.z!)).toBeLessThan(0.05 * spread(a.z!));
  });
});

describe('dynamic int8 quantization', () => {
  it('turns MatMul/Gemm into DynamicQuantizeMatMul with outputs close to fp32', async () => {
    const fp32 = mlp(16, 64, 2);
    const model = decodeModel(fp32);
    const summary = quantizeDynamic(model);
    expect(summary.quantized_nodes).toEqual({ MatMul: 2, Gemm: 1 });
    const int8 = encodeModel(model);
    expect((await engineOps(int8))['com.microsoft.DynamicQuantizeMatMul']).toBe(3);
    // Same learned parameters (scales and zero points are not counted), in 8 instead of 32 bits.
    expect(modelStats(int8).params).toBe(modelStats(fp32).params);
    expect(modelStats(int8).file_bytes).toBeLessThan(0.5 * modelStats(fp32).file_bytes);
    const x = { x: { datatype: 'FP32' as const, shape: [32, 16], data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37)) } };
    const a = await run(fp32, x);
    const b = await run(int8, x);
    expect(maxAbsDiff(a.y!, b.y!)).toBeLessThan(0.05 * spread(a.y!));
  });
});
