/**
 * Small ONNX models built in code for the graph-tool tests: a conv-bn-relu net shaped like the
 * bundled steel-surface model (random but seeded weights), an MLP, and a model with an unknown operator.
 */
import { DataType, encodeModel, makeNode, makeTensor, makeValueInfo, type NodeProto, type TensorProto } from '../../src/onnx/proto.ts';
import { mulberry32 } from '../../src/core/rng.ts';

/** A seeded PRNG (mulberry32) so fixtures are the same on every run. */
export const rng = mulberry32;

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

function randn(r: () => number, n: number, std: number): Float32Array {
  return Float32Array.from({ length: n }, () => normal(r) * std);
}

function modelOf(nodes: NodeProto[], inits: TensorProto[], inputs: ReturnType<typeof makeValueInfo>[], outputs: ReturnType<typeof makeValueInfo>[], opset = 17): Uint8Array {
  return encodeModel({
    irVersion: 8,
    producerName: 'linesight-test',
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: nodes, initializer: inits, input: inputs, output: outputs },
  });
}

export interface ConvNetOptions {
  readonly size?: number;
  readonly widths?: readonly number[];
  readonly classes?: number;
  readonly seed?: number;
  /** Leave BatchNormalization nodes in the graph (as a training export would). */
  readonly batchNorm?: boolean;
}

/**
 * conv(stride 2)-bn-relu, then [conv-bn-relu, maxpool] blocks, a last conv-bn-relu, global average pool,
 * flatten (output `embedding`) and a Gemm head (output `logits`). Input `image` [N, 1, size, size].
 */
export function convNet(o: ConvNetOptions = {}): Uint8Array {
  const size = o.size ?? 64;
  const widths = o.widths ?? [8, 16, 16, 24];
  const classes = o.classes ?? 6;
  const r = rng(o.seed ?? 7);
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let x = 'image';
  let cin = 1;
  widths.forEach((cout, i) => {
    const w = `conv${i}.weight`;
    inits.push(makeTensor(w, [cout, cin, 3, 3], randn(r, cout * cin * 9, Math.sqrt(2 / (cin * 9)))));
    const conv = `conv${i}`;
    const convIns = [x, w];
    if (!o.batchNorm) {
      inits.push(makeTensor(`conv${i}.bias`, [cout], randn(r, cout, 0.1)));
      convIns.push(`conv${i}.bias`);
    }
    nodes.push(makeNode('Conv', convIns, [conv], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: i === 0 ? [2, 2] : [1, 1] }, conv));
    let y = conv;
    if (o.batchNorm) {
      const p = `bn${i}`;
      inits.push(
        makeTensor(`${p}.gamma`, [cout], Float32Array.from({ length: cout }, () => 0.5 + r())),
        makeTensor(`${p}.beta`, [cout], randn(r, cout, 0.2)),
        makeTensor(`${p}.mean`, [cout], randn(r, cout, 0.2)),
        makeTensor(`${p}.var`, [cout], Float32Array.from({ length: cout }, () => 0.5 + r())),
      );
      nodes.push(makeNode('BatchNormalization', [conv, `${p}.gamma`, `${p}.beta`, `${p}.mean`, `${p}.var`], [p], { epsilon: 1e-5 }, p));
      y = p;
    }
    nodes.push(makeNode('Relu', [y], [`relu${i}`], {}, `relu${i}`));
    x = `relu${i}`;
    if (i > 0 && i < widths.length - 1) {
      nodes.push(makeNode('MaxPool', [x], [`pool${i}`], { kernel_shape: [2, 2], strides: [2, 2] }, `pool${i}`));
      x = `pool${i}`;
    }
    cin = cout;
  });
  nodes.push(makeNode('GlobalAveragePool', [x], ['gap'], {}, 'gap'));
  nodes.push(makeNode('Flatten', ['gap'], ['embedding'], { axis: 1 }, 'flatten'));
  inits.push(makeTensor('head.weight', [classes, cin], randn(r, classes * cin, Math.sqrt(1 / cin) * 3)));
  inits.push(makeTensor('head.bias', [classes], randn(r, classes, 0.1)));
  nodes.push(makeNode('Gemm', ['embedding', 'head.weight', 'head.bias'], ['logits'], { transB: 1 }, 'head'));
  return modelOf(
    nodes,
    inits,
    [makeValueInfo('image', DataType.FLOAT, ['batch', 1, size, size])],
    [makeValueInfo('logits', DataType.FLOAT, ['batch', classes]), makeValueInfo('embedding', DataType.FLOAT, ['batch', cin])],
  );
}

/** A MatMul-heavy MLP: x [N, features] → MatMul/Add/Relu ×2 → Gemm(transB=0) → y [N, outputs]. */
export function mlp(features = 16, hidden = 64, outputs = 2, seed = 3): Uint8Array {
  const r = rng(seed);
  const inits = [
    makeTensor('w1', [features, hidden], randn(r, features * hidden, Math.sqrt(2 / features))),
    makeTensor('b1', [hidden], randn(r, hidden, 0.1)),
    makeTensor('w2', [hidden, hidden], randn(r, hidden * hidden, Math.sqrt(2 / hidden))),
    makeTensor('b2', [hidden], randn(r, hidden, 0.1)),
    makeTensor('w3', [hidden, outputs], randn(r, hidden * outputs, Math.sqrt(1 / hidden))),
    makeTensor('b3', [outputs], randn(r, outputs, 0.1)),
  ];
  const nodes = [
    makeNode('MatMul', ['x', 'w1'], ['m1']),
    makeNode('Add', ['m1', 'b1'], ['a1']),
    makeNode('Relu', ['a1'], ['h1']),
    makeNode('MatMul', ['h1', 'w2'], ['m2']),
    makeNode('Add', ['m2', 'b2'], ['a2']),
    makeNode('Relu', ['a2'], ['h2']),
    makeNode('Gemm', ['h2', 'w3', 'b3'], ['y']),
  ];
  return modelOf(nodes, inits, [makeValueInfo('x', DataType.FLOAT, ['batch', features])], [makeValueInfo('y', DataType.FLOAT, ['batch', outputs])]);
}

/** A valid model using an operator the graph tools do not handle (TopK). */
export function unknownOpModel(): Uint8Array {
  const nodes = [
    makeNode('Relu', ['x'], ['r']),
    makeNode('TopK', ['r', 'k'], ['values', 'indices'], { axis: 1 }),
  ];
  return modelOf(
    nodes,
    [makeTensor('k', [1], BigInt64Array.of(2n))],
    [makeValueInfo('x', DataType.FLOAT, ['batch', 8])],
    [makeValueInfo('values', DataType.FLOAT, ['batch', 2]), makeValueInfo('indices', DataType.INT64, ['batch', 2])],
  );
}

/** A deterministic batch of inputs in [0, 1] shaped like images (smooth blobs plus noise). */
export function imageBatch(n: number, size: number, seed = 11): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n * size * size);
  for (let b = 0; b < n; b++) {
    const fx = 1 + r() * 6;
    const fy = 1 + r() * 6;
    const ph = r() * 6;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const v = 0.5 + 0.3 * Math.sin((fx * x) / size * 6.28 + ph) * Math.cos((fy * y) / size * 6.28) + (r() - 0.5) * 0.2;
        out[b * size * size + y * size + x] = Math.min(1, Math.max(0, v));
      }
  }
  return out;
}
