/**
 * Reading and writing ONNX files through the ONNX protobuf schema (onnx-proto, protobufjs).
 * Every graph tool (export, quantize, prune, fp16, fine-tune) goes through here.
 */
import { createRequire } from 'node:module';
import type { onnx as OnnxNs } from 'onnx-proto';
import { LsError } from '../core/errors.ts';

const require = createRequire(import.meta.url);
/** The generated ONNX protobuf classes (ModelProto, GraphProto, NodeProto, TensorProto, ...). */
export const onnx: typeof OnnxNs = (require('onnx-proto') as { onnx: typeof OnnxNs }).onnx;
export type ModelProto = OnnxNs.ModelProto;
export type GraphProto = OnnxNs.IGraphProto;
export type NodeProto = OnnxNs.INodeProto;
export type TensorProto = OnnxNs.ITensorProto;
export type AttributeProto = OnnxNs.IAttributeProto;
export type ValueInfoProto = OnnxNs.IValueInfoProto;

export const DataType = onnx.TensorProto.DataType;

/** Decode an ONNX file; a file that is not ONNX gives LS_ERR_MODEL_CORRUPT. */
export function decodeModel(bytes: Uint8Array, subject?: string): ModelProto {
  if (bytes.byteLength === 0) throw new LsError('LS_ERR_MODEL_CORRUPT', 'the file is empty', { subject });
  let m: ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new LsError('LS_ERR_MODEL_CORRUPT', (e as Error).message, { subject });
  }
  if (!m.graph || !m.graph.node) throw new LsError('LS_ERR_MODEL_CORRUPT', 'no graph in the file', { subject });
  return m;
}

export function encodeModel(m: OnnxNs.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(m as Record<string, unknown>)).finish();
}

/** Number from a protobuf int64 (a Long object or a number). */
export function toNum(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** The float values of an initializer (FLOAT stored as raw_data or float_data). */
export function tensorToFloat32(t: TensorProto): Float32Array {
  const n = (t.dims ?? []).reduce<number>((a, d) => a * toNum(d), 1);
  if (t.dataType !== DataType.FLOAT) throw new LsError('LS_ERR_MODEL_UNSUPPORTED', `initializer ${t.name} is not float32 (type ${t.dataType})`);
  if (t.rawData && t.rawData.length) {
    const copy = new Uint8Array(t.rawData); // aligned copy
    return new Float32Array(copy.buffer, 0, n);
  }
  return Float32Array.from(t.floatData ?? []);
}

/** Build a TensorProto (raw little-endian data) from a typed array. */
export function makeTensor(
  name: string,
  dims: readonly number[],
  data: Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array | Uint16Array,
  dataType?: number,
): TensorProto {
  const type =
    dataType ??
    (data instanceof Float32Array ? DataType.FLOAT
      : data instanceof Int8Array ? DataType.INT8
      : data instanceof Uint8Array ? DataType.UINT8
      : data instanceof Int32Array ? DataType.INT32
      : data instanceof BigInt64Array ? DataType.INT64
      : DataType.FLOAT16);
  return {
    name,
    dims: [...dims],
    dataType: type,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  };
}

/** Build a NodeProto; attribute values are typed from their JS value. */
export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attrs: Readonly<Record<string, number | number[] | string | TensorProto>> = {},
  name?: string,
  domain?: string,
): NodeProto {
  const attribute: AttributeProto[] = Object.entries(attrs).map(([k, v]) => {
    const A = onnx.AttributeProto.AttributeType;
    if (typeof v === 'string') return { name: k, type: A.STRING, s: new TextEncoder().encode(v) };
    if (typeof v === 'number') return Number.isInteger(v) ? { name: k, type: A.INT, i: v } : { name: k, type: A.FLOAT, f: v };
    if (Array.isArray(v)) return v.every(Number.isInteger) ? { name: k, type: A.INTS, ints: v } : { name: k, type: A.FLOATS, floats: v };
    return { name: k, type: A.TENSOR, t: v };
  });
  return { opType, input: [...inputs], output: [...outputs], attribute, ...(name ? { name } : {}), ...(domain ? { domain } : {}) };
}

/** A graph input/output description; use -1 or a string for a variable dimension. */
export function makeValueInfo(name: string, elemType: number, shape: ReadonlyArray<number | string>): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d) => (typeof d === 'string' || d < 0 ? { dimParam: typeof d === 'string' ? d : 'batch' } : { dimValue: d })) },
      },
    },
  };
}

/** Attribute value by name (ints, floats, int, float, string). */
export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}
