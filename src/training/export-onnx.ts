/**
 * Export a trained tabular network as ONNX with its preprocessing inside the graph: one input per
 * raw feature (FP32 [N,1] numeric, STRING [N,1] categorical), derived features, one-hot
 * (Equal against string constants + Cast), standardisation, then Gemm (+ Relu) layers.
 */
import { GraphBuilder } from '../onnx/builder.ts';
import { DataType } from '../onnx/proto.ts';
import type { TensorSpec } from '../repository/manifest.ts';
import type { Network } from './models/network.ts';
import type { Preprocessor } from './preprocessing.ts';

/** Name of the score output: logits for classification, prediction for regression. */
export function outputNameFor(task: 'classification' | 'regression'): string {
  return task === 'classification' ? 'logits' : 'prediction';
}

/** The ONNX bytes and the inputs/outputs config.yaml declares for them. */
export interface ExportedModel {
  readonly onnx: Uint8Array;
  /** The config.yaml inputs/outputs (without the batch dimension). */
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
}

/** Equal accepts strings from opset 19 on. */
const STRING_EQUAL_OPSET = 19;

const ONNX_OP = { mul: 'Mul', sub: 'Sub', add: 'Add', div: 'Div' } as const;

/** Build the ONNX graph for preprocessing + network. */
export function exportTabularOnnx(pre: Preprocessor, net: Network, task: 'classification' | 'regression', graphName = 'linesight_tabular'): ExportedModel {
  const g = new GraphBuilder(graphName);
  const inputs: TensorSpec[] = [];
  const columns: string[] = [];
  const mean: number[] = [];
  const std: number[] = [];
  for (const f of pre.features) {
    if (f.type === 'numeric') {
      g.input(f.name, DataType.FLOAT, ['batch', 1]);
      inputs.push({ name: f.name, datatype: 'FP32', shape: [1], allow_nonfinite: false });
      columns.push(f.name);
      mean.push(f.mean);
      std.push(f.std);
    } else {
      g.input(f.name, DataType.STRING, ['batch', 1]);
      inputs.push({ name: f.name, datatype: 'BYTES', shape: [1], allow_nonfinite: false });
      // [N,1] == [K] broadcasts to [N,K]: the one-hot row of each sample.
      const eq = g.op('Equal', [f.name, g.strings(`cats_${f.name}`, f.categories)]);
      columns.push(g.op('Cast', [eq], { to: DataType.FLOAT }));
      for (const _ of f.categories) {
        mean.push(0);
        std.push(1);
      }
    }
  }
  for (const d of pre.derived) {
    columns.push(g.op(ONNX_OP[d.op], [d.a, d.b]));
    mean.push(d.mean);
    std.push(d.std);
  }
  let x = columns.length === 1 ? columns[0]! : g.op('Concat', columns, { axis: 1 });
  x = g.op('Sub', [x, g.floats('mean', [pre.width], mean)]);
  x = g.op('Div', [x, g.floats('std', [pre.width], std)]);
  const out = outputNameFor(task);
  net.layers.forEach((l, k) => {
    const last = k === net.layers.length - 1;
    const z = g.op('Gemm', [x, g.floats(`W${k}`, [l.inSize, l.outSize], l.W), g.floats(`b${k}`, [l.outSize], l.b)], {}, last ? out : undefined);
    x = last ? z : g.op('Relu', [z]);
  });
  g.output(out, DataType.FLOAT, ['batch', net.outputSize]);
  return {
    onnx: g.encode(STRING_EQUAL_OPSET),
    inputs,
    outputs: [{ name: out, datatype: 'FP32', shape: [net.outputSize], allow_nonfinite: false }],
  };
}
