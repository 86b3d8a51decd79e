/**
 * What the graph tools can rewrite safely. A model with any other operator is refused as a whole
 * (LS_ERR_MODEL_UNSUPPORTED naming the operators) rather than being left half-converted.
 */
import { LsError } from '../core/errors.ts';
import { defaultOpset, graphOf, initializerMap } from './graph.ts';
import { DataType, type ModelProto } from './proto.ts';

/** Operators of the default ONNX domain the tools understand (as inputs; quantize/prune touch a subset). */
export const SUPPORTED_OPS: ReadonlySet<string> = new Set([
  'Conv', 'Gemm', 'MatMul', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh', 'HardSigmoid',
  'HardSwish', 'Softmax', 'LogSoftmax', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Flatten',
  'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat', 'Add', 'Sub', 'Mul', 'Div', 'Identity', 'Dropout',
  'Constant', 'Shape', 'Gather', 'Pad', 'ReduceMean', 'Erf', 'Sqrt', 'Pow', 'Exp', 'Log', 'Neg', 'Abs', 'Cast',
  // Feature engineering in tabular models (left as they are by every rewrite).
  'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Where', 'Min', 'Max',
  'ReduceSum', 'ReduceMax', 'Slice', 'Split', 'Expand', 'Tile', 'ConstantOfShape',
]);

/** Operators that mean a graph is already quantized. */
const QUANTIZED_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearConv', 'QLinearMatMul']);

/** The oldest opset the rewrites accept (per-axis QuantizeLinear needs 13). */
export const MIN_OPSET = 13;

/** A short inventory of a graph's operators. */
export function opCounts(model: ModelProto): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of graphOf(model).node ?? []) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : (n.opType ?? '?');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/**
 * Refuse models the tools cannot rewrite: graphs that are already quantized, operators outside
 * SUPPORTED_OPS or custom domains, opsets older than 13, non-float32 Conv/Gemm/MatMul weights.
 */
export function assertSupported(model: ModelProto, subject?: string): void {
  const g = graphOf(model);
  const quantized = [...new Set((g.node ?? []).map((n) => n.opType ?? '').filter((op) => QUANTIZED_OPS.has(op)))];
  if (quantized.length) {
    throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `the model is already quantized (${quantized.sort().join(', ')}); optimize its float version instead`, { subject });
  }
  const unknown = new Set<string>();
  for (const n of g.node ?? []) {
    const custom = n.domain && n.domain !== 'ai.onnx';
    if (custom || !SUPPORTED_OPS.has(n.opType ?? '')) unknown.add(custom ? `${n.domain}.${n.opType}` : (n.opType ?? '?'));
  }
  if (unknown.size) {
    throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `unsupported operator(s): ${[...unknown].sort().join(', ')}; nothing was written`, { subject });
  }
  const opset = defaultOpset(model);
  if (opset < MIN_OPSET) {
    throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `opset ${opset} is older than ${MIN_OPSET}; re-export the model with opset >= ${MIN_OPSET}`, { subject });
  }
  // Weights of the layers the tools rewrite must be float32 (float16/int8 weights mean an already converted model).
  const inits = initializerMap(g);
  const badTypes = new Set<string>();
  for (const n of g.node ?? []) {
    if (!['Conv', 'Gemm', 'MatMul'].includes(n.opType ?? '')) continue;
    for (const i of (n.input ?? []).slice(1)) {
      const t = inits.get(i);
      if (t && t.dataType !== DataType.FLOAT) badTypes.add(i);
    }
  }
  if (badTypes.size) {
    throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `weight(s) ${[...badTypes].slice(0, 5).join(', ')} are not float32: the model looks already converted`, { subject });
  }
}
