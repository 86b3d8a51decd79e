import { describe, expect, it } from 'vitest';
import { assertSupported, opCounts } from '../../src/onnx/check.ts';
import { graphOf } from '../../src/onnx/graph.ts';
import { DataType, decodeModel, encodeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/proto.ts';
import { quantizeDynamic } from '../../src/onnx/quantize-dynamic.ts';
import { convNet, mlp, unknownOpModel } from './onnx-fixture.ts';

describe('what the graph tools accept', () => {
  it('accepts a conv net and an MLP', () => {
    expect(() => assertSupported(decodeModel(convNet({ batchNorm: true })))).not.toThrow();
    expect(() => assertSupported(decodeModel(mlp()))).not.toThrow();
    expect(opCounts(decodeModel(convNet({ batchNorm: true })))).toMatchObject({ Conv: 4, BatchNormalization: 4, Relu: 4, Gemm: 1 });
  });

  it('accepts tabular feature engineering (string categories, Equal/Cast/Concat) around the MLP', () => {
    const model = decodeModel(encodeModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'tabular',
        node: [
          makeNode('Equal', ['Type', 'cat_L'], ['is_l']),
          makeNode('Cast', ['is_l'], ['is_l_f'], { to: DataType.FLOAT }),
          makeNode('Concat', ['is_l_f', 'x'], ['features'], { axis: 1 }),
          makeNode('Gemm', ['features', 'w', 'b'], ['logits'], { transB: 1 }),
        ],
        initializer: [
          { name: 'cat_L', dims: [1], dataType: DataType.STRING, stringData: [new TextEncoder().encode('L')] },
          makeTensor('w', [1, 3], Float32Array.of(0.5, -1, 2)),
          makeTensor('b', [1], Float32Array.of(0.1)),
        ],
        input: [makeValueInfo('Type', DataType.STRING, ['batch', 1]), makeValueInfo('x', DataType.FLOAT, ['batch', 2])],
        output: [makeValueInfo('logits', DataType.FLOAT, ['batch', 1])],
      },
    }));
    expect(() => assertSupported(model)).not.toThrow();
    const q = decodeModel(encodeModel(model));
    expect(quantizeDynamic(q).quantized_nodes).toEqual({ Gemm: 1 });
  });

  it('refuses unknown operators, naming them, instead of converting half the graph', () => {
    expect(() => assertSupported(decodeModel(unknownOpModel()), 'x.onnx')).toThrow(
      expect.objectContaining({ code: 'LS_ERR_MODEL_UNSUPPORTED', message: expect.stringContaining('TopK'), subject: 'x.onnx' }),
    );
  });

  it('refuses custom-domain operators and already-quantized models', () => {
    const m = decodeModel(convNet());
    graphOf(m).node![0]!.domain = 'com.example';
    expect(() => assertSupported(m)).toThrow(expect.objectContaining({ code: 'LS_ERR_MODEL_UNSUPPORTED', message: expect.stringContaining('com.example.Conv') }));
    const q = decodeModel(mlp());
    quantizeDynamic(q);
    expect(() => assertSupported(decodeModel(encodeModel(q)))).toThrow(expect.objectContaining({ code: 'LS_ERR_MODEL_UNSUPPORTED', message: expect.stringContaining('already quantized') }));
  });

  it('refuses opsets older than 13 (per-axis quantization needs 13)', () => {
    const m = decodeModel(convNet());
    m.opsetImport![0]!.version = 11;
    expect(() => assertSupported(m)).toThrow(expect.objectContaining({ code: 'LS_ERR_MODEL_UNSUPPORTED', message: expect.stringContaining('opset 11') }));
  });

  it('gives LS_ERR_MODEL_CORRUPT for empty, garbage and truncated files', () => {
    expect(() => decodeModel(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'LS_ERR_MODEL_CORRUPT' }));
    expect(() => decodeModel(new TextEncoder().encode('this is not an onnx file at all'))).toThrow(expect.objectContaining({ code: 'LS_ERR_MODEL_CORRUPT' }));
    const full = convNet();
    expect(() => decodeModel(full.subarray(0, Math.floor(full.length / 2)))).toThrow(expect.objectContaining({ code: 'LS_ERR_MODEL_CORRUPT' }));
  });
});
