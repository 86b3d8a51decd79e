/** Size facts of an ONNX file: bytes, gzip bytes, parameter count, sparsity and operator inventory. */
import { gzipSync } from 'node:zlib';
import { opCounts } from '../onnx/check.ts';
import { elementsOf, graphOf } from '../onnx/graph.ts';
import { DataType, decodeModel, type TensorProto } from '../onnx/proto.ts';

/** What the size part of the report shows for one model file. */
export interface ModelStats {
  readonly file_bytes: number;
  /** gzip -9 of the file: what unstructured sparsity buys when shipping models to edge boxes. */
  readonly gzip_bytes: number;
  readonly params: number;
  readonly zero_params: number;
  readonly sparsity: number;
  readonly ops: Record<string, number>;
}

const PARAM_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.INT8, DataType.UINT8, DataType.INT32]);

/** Count the zeros of an initializer without decoding its element type twice. */
function zeros(t: TensorProto): number {
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  const n = elementsOf(t);
  if (!raw) {
    const vals = (t.floatData?.length ? t.floatData : t.int32Data) ?? [];
    return vals.filter((v) => v === 0).length;
  }
  const width = raw.length / Math.max(1, n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    let allZero = true;
    for (let b = 0; b < width; b++) {
      // -0.0 in float is a zero too: ignore the sign bit of the last byte.
      const byte = raw[i * width + b]! & (b === width - 1 && t.dataType !== DataType.INT8 && t.dataType !== DataType.UINT8 && t.dataType !== DataType.INT32 ? 0x7f : 0xff);
      if (byte !== 0) {
        allZero = false;
        break;
      }
    }
    if (allZero) z++;
  }
  return z;
}

/**
 * Parameters are the initializers that carry learned values; the scale and zero-point tensors of
 * quantization nodes and integer shape constants are not counted.
 */
export function modelStats(bytes: Uint8Array): ModelStats {
  const model = decodeModel(bytes);
  const g = graphOf(model);
  const overhead = new Set<string>();
  const dynamicScales = new Set<string>();
  for (const n of g.node ?? []) {
    if (n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear') for (const i of (n.input ?? []).slice(1)) overhead.add(i);
    if (n.opType === 'MatMulInteger') for (const i of (n.input ?? []).slice(2)) overhead.add(i);
    if (n.opType === 'DynamicQuantizeLinear') dynamicScales.add(n.output?.[1] ?? '');
  }
  // Dynamic quantization multiplies the activation scale by the per-column weight scales.
  for (const n of g.node ?? []) {
    if (n.opType === 'Mul' && dynamicScales.has(n.input?.[0] ?? '')) overhead.add(n.input?.[1] ?? '');
  }
  let params = 0;
  let zeroParams = 0;
  for (const t of g.initializer ?? []) {
    if (!PARAM_TYPES.has(t.dataType ?? 0) || overhead.has(t.name ?? '')) continue;
    params += elementsOf(t);
    zeroParams += zeros(t);
  }
  return {
    file_bytes: bytes.byteLength,
    gzip_bytes: gzipSync(bytes, { level: 9 }).byteLength,
    params,
    zero_params: zeroParams,
    sparsity: params ? zeroParams / params : 0,
    ops: opCounts(model),
  };
}

/** Operators that show onnxruntime runs integer kernels (after its graph optimizations). */
export const INTEGER_KERNELS: ReadonlySet<string> = new Set([
  'com.microsoft.QLinearConv', 'QLinearConv', 'com.microsoft.QGemm', 'QLinearMatMul', 'com.microsoft.DynamicQuantizeMatMul',
  'MatMulInteger', 'ConvInteger', 'com.microsoft.MatMulIntegerToFloat', 'com.microsoft.QLinearAdd',
  'com.microsoft.QLinearGlobalAveragePool', 'com.microsoft.QLinearAveragePool', 'com.microsoft.QLinearMul',
]);

/** Operator counts of an ONNX file written by onnxruntime's optimizer (its domain-qualified names). */
export function engineKernels(bytes: Uint8Array): Record<string, number> {
  return opCounts(decodeModel(bytes));
}

/** Count of integer kernels in an operator inventory. */
export function integerKernelCount(ops: Record<string, number>): number {
  return Object.entries(ops).reduce((a, [k, v]) => a + (INTEGER_KERNELS.has(k) ? v : 0), 0);
}

