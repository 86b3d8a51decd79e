/** Tensors as they cross the runtime boundary: a datatype (v2 names), a shape and row-major data. */
import type { Datatype } from '../repository/manifest.ts';

export type { Datatype };

export type TensorData =
  | Float32Array | Float64Array | Uint16Array /* FP16 bits, UINT16 */
  | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | string[];

export interface Tensor {
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** Name, datatype and shape of a model input or output; -1 marks a variable dimension. */
export interface IoInfo {
  readonly name: string;
  readonly datatype: Datatype | 'UNKNOWN';
  readonly shape: readonly number[];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The typed-array constructor that holds each v2 datatype. */
export const TYPED_ARRAY_OF: Record<Exclude<Datatype, 'BYTES'>, new (n: number) => Exclude<TensorData, string[]>> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** Bytes per element of each fixed-size datatype. */
export const BYTES_PER_ELEMENT: Record<Exclude<Datatype, 'BYTES'>, number> = {
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8, FP16: 2, FP32: 4, FP64: 8,
};
