/**
 * Open Inference Protocol v2 tensors <-> LineSight tensors: JSON `data` (flat or nested) and the
 * binary tensor data extension (raw little-endian bytes after the JSON header; BYTES elements with a
 * 4-byte length prefix; FP16 as raw half bits). Every input is checked against the model's config:
 * name, datatype, rank, dimensions, data length and NaN/Inf. Pure.
 */
import { LsError } from '../../core/errors.ts';
import { formatZodIssues } from '../../core/validate.ts';
import type { Manifest, TensorSpec } from '../../repository/manifest.ts';
import { BYTES_PER_ELEMENT, TYPED_ARRAY_OF, elementCount, type Datatype, type Tensor, type TensorData } from '../../runtime/tensor.ts';
import { fromHalfBits, toHalfBits } from '../../core/half.ts';
import { inferRequestSchema, type InferInput, type InferOutput, type InferRequest, type InferResponse } from './v2-schema.ts';

/** Most elements one input may declare; larger shapes are refused before anything is allocated. */
export const MAX_ELEMENTS = 1 << 27;

/** A decoded infer request: validated JSON, the input tensors and which outputs to return how. */
export interface DecodedInfer {
  readonly request: InferRequest;
  readonly feeds: Record<string, Tensor>;
  /** Requested outputs (undefined = all) and whether each goes in binary. */
  readonly outputs: ReadonlyArray<{ name: string; binary: boolean }> | undefined;
  readonly binaryDefault: boolean;
}

const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  UINT8: [0, 255], INT8: [-128, 127], UINT16: [0, 65535], INT16: [-32768, 32767],
  UINT32: [0, 4294967295], INT32: [-2147483648, 2147483647],
};

/** Split a body into its JSON header and binary tail using Inference-Header-Content-Length. */
export function splitBody(body: Uint8Array, headerLength: string | undefined): { json: Uint8Array; binary: Uint8Array } {
  if (headerLength === undefined) return { json: body, binary: body.subarray(body.length) };
  if (!/^\d{1,10}$/.test(headerLength.trim())) throw new LsError('LS_ERR_BAD_REQUEST', 'Inference-Header-Content-Length must be a byte count');
  const n = Number(headerLength);
  if (n < 2 || n > body.length) throw new LsError('LS_ERR_BAD_REQUEST', `Inference-Header-Content-Length ${n} does not fit a body of ${body.length} bytes`);
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/** Parse and validate an infer request body against a model's config. */
export function decodeInferRequest(body: Uint8Array, headerLength: string | undefined, manifest: Manifest): DecodedInfer {
  const { json, binary } = splitBody(body, headerLength);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (e) {
    throw new LsError('LS_ERR_BAD_JSON', (e as Error).message.slice(0, 200));
  }
  const parsed = inferRequestSchema.safeParse(raw);
  if (!parsed.success) throw new LsError('LS_ERR_VALIDATION', formatZodIssues(parsed.error));
  const request = parsed.data;

  const feeds: Record<string, Tensor> = {};
  let cursor = 0;
  let batch: number | undefined;
  for (const input of request.inputs) {
    const spec = manifest.inputs.find((s) => s.name === input.name);
    if (!spec) throw new LsError('LS_ERR_VALIDATION', `unknown input "${input.name}" (the model takes: ${manifest.inputs.map((s) => s.name).join(', ')})`);
    if (feeds[input.name]) throw new LsError('LS_ERR_VALIDATION', `input "${input.name}" is given twice`);
    checkShape(input, spec, manifest);
    if (manifest.max_batch_size > 0) {
      if (batch !== undefined && input.shape[0] !== batch) throw new LsError('LS_ERR_TENSOR_SHAPE', `inputs disagree on the batch size (${batch} vs ${input.shape[0]})`);
      batch = input.shape[0];
    }
    const size = input.parameters?.binary_data_size;
    let data: TensorData;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw new LsError('LS_ERR_VALIDATION', `inputs.${input.name}.parameters.binary_data_size must be a byte count`);
      if (input.data !== undefined) throw new LsError('LS_ERR_VALIDATION', `input "${input.name}" has both data and binary_data_size`);
      if (cursor + size > binary.length) throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}" needs ${size} binary bytes, only ${binary.length - cursor} follow the JSON`);
      data = decodeBinary(binary.subarray(cursor, cursor + size), input);
      cursor += size;
    } else {
      if (input.data === undefined) throw new LsError('LS_ERR_VALIDATION', `input "${input.name}" has no data`);
      data = decodeJsonData(input.data, input);
    }
    if (!spec.allow_nonfinite) checkFinite(data, input);
    feeds[input.name] = { datatype: input.datatype, shape: input.shape, data };
  }
  if (cursor !== binary.length) throw new LsError('LS_ERR_BAD_REQUEST', `${binary.length - cursor} binary bytes are not claimed by any input`);
  const missing = manifest.inputs.filter((s) => !feeds[s.name]).map((s) => s.name);
  if (missing.length) throw new LsError('LS_ERR_VALIDATION', `missing input(s): ${missing.join(', ')}`);

  const binaryDefault = request.parameters?.binary_data_output === true;
  let outputs: Array<{ name: string; binary: boolean }> | undefined;
  // An empty `outputs` list means the same as none: every output.
  if (request.outputs && request.outputs.length > 0) {
    outputs = request.outputs.map((o) => {
      if (!manifest.outputs.some((s) => s.name === o.name)) {
        throw new LsError('LS_ERR_VALIDATION', `unknown output "${o.name}" (the model gives: ${manifest.outputs.map((s) => s.name).join(', ')})`);
      }
      const b = o.parameters?.binary_data;
      return { name: o.name, binary: typeof b === 'boolean' ? b : binaryDefault };
    });
  }
  return { request, feeds, outputs, binaryDefault };
}

function checkShape(input: InferInput, spec: TensorSpec, m: Manifest): void {
  const batched = m.max_batch_size > 0;
  const expected = batched ? [-1, ...spec.shape] : spec.shape;
  const shown = `[${expected.join(',')}]`;
  if (input.shape.length !== expected.length) {
    throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}" has rank ${input.shape.length}, the model expects rank ${expected.length} ${shown}`);
  }
  input.shape.forEach((d, k) => {
    const want = expected[k]!;
    if (want !== -1 && d !== want) throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}" shape [${input.shape.join(',')}] does not match ${shown}`);
  });
  if (batched && (input.shape[0]! < 1 || input.shape[0]! > m.max_batch_size)) {
    throw new LsError('LS_ERR_TENSOR_SHAPE', `batch size ${input.shape[0]} of input "${input.name}" is outside 1..${m.max_batch_size}`);
  }
  if (input.datatype !== spec.datatype) {
    throw new LsError('LS_ERR_TENSOR_DATATYPE', `input "${input.name}" is ${input.datatype}, the model expects ${spec.datatype}`);
  }
  if (elementCount(input.shape) > MAX_ELEMENTS) throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}" is too large`);
}

function decodeBinary(bytes: Uint8Array, input: InferInput): TensorData {
  const count = elementCount(input.shape);
  if (input.datatype === 'BYTES') {
    const out: string[] = [];
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let off = 0;
    while (off < bytes.length) {
      if (off + 4 > bytes.length) throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}": truncated BYTES length prefix`);
      const n = dv.getUint32(off, true);
      off += 4;
      if (off + n > bytes.length) throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}": BYTES element longer than the data`);
      out.push(Buffer.from(bytes.buffer, bytes.byteOffset + off, n).toString('utf8'));
      off += n;
    }
    if (out.length !== count) throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}" holds ${out.length} BYTES elements, shape [${input.shape.join(',')}] needs ${count}`);
    return out;
  }
  const dt = input.datatype;
  const bpe = BYTES_PER_ELEMENT[dt];
  if (bytes.length !== count * bpe) {
    throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}" has ${bytes.length} bytes, shape [${input.shape.join(',')}] of ${dt} needs ${count * bpe}`);
  }
  // Copy into a fresh, aligned buffer: the binary tail may start at any offset.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const Ctor = TYPED_ARRAY_OF[dt] as unknown as new (b: ArrayBuffer, o: number, n: number) => Exclude<TensorData, string[]>;
  const data = new Ctor(copy.buffer, 0, count);
  if (dt === 'BOOL') for (let i = 0; i < count; i++) if ((data as Uint8Array)[i]! > 1) throw new LsError('LS_ERR_TENSOR_DATATYPE', `input "${input.name}": BOOL bytes must be 0 or 1`);
  return data;
}

function decodeJsonData(raw: unknown, input: InferInput): TensorData {
  const count = elementCount(input.shape);
  let flat: unknown[];
  try {
    flat = Array.isArray(raw) ? (raw.flat(Infinity) as unknown[]) : [raw];
  } catch {
    throw new LsError('LS_ERR_VALIDATION', `input "${input.name}": data is nested too deeply`);
  }
  if (flat.length !== count) {
    throw new LsError('LS_ERR_TENSOR_SHAPE', `input "${input.name}" has ${flat.length} values, shape [${input.shape.join(',')}] needs ${count}`);
  }
  const dt = input.datatype;
  const bad = (i: number): never => {
    throw new LsError('LS_ERR_TENSOR_DATATYPE', `input "${input.name}": value ${JSON.stringify(flat[i])?.slice(0, 40)} at index ${i} is not ${dt}`);
  };
  if (dt === 'BYTES') return flat.map((v, i) => (typeof v === 'string' ? v : bad(i)));
  if (dt === 'BOOL') {
    const out = new Uint8Array(count);
    flat.forEach((v, i) => (out[i] = v === true || v === 1 ? 1 : v === false || v === 0 ? 0 : bad(i)));
    return out;
  }
  if (dt === 'FP16' || dt === 'FP32' || dt === 'FP64') {
    const out = dt === 'FP16' ? new Uint16Array(count) : dt === 'FP32' ? new Float32Array(count) : new Float64Array(count);
    flat.forEach((v, i) => {
      const n = typeof v === 'number' ? v : v === 'NaN' ? NaN : v === 'Infinity' || v === 'inf' ? Infinity : v === '-Infinity' || v === '-inf' ? -Infinity : bad(i);
      out[i] = dt === 'FP16' ? toHalfBits(n) : n;
    });
    return out;
  }
  if (dt === 'INT64' || dt === 'UINT64') {
    const out = dt === 'INT64' ? new BigInt64Array(count) : new BigUint64Array(count);
    const [lo, hi] = dt === 'INT64' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
    flat.forEach((v, i) => {
      let b: bigint;
      if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
      else if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) b = BigInt(v);
      else return bad(i);
      if (b < lo || b > hi) bad(i);
      out[i] = b;
    });
    return out;
  }
  const [lo, hi] = INT_RANGE[dt]!;
  const out = new TYPED_ARRAY_OF[dt](count) as Exclude<TensorData, string[] | BigInt64Array | BigUint64Array>;
  flat.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(i);
    out[i] = v as number;
  });
  return out;
}

function checkFinite(data: TensorData, input: InferInput): void {
  if (input.datatype === 'FP16') {
    const d = data as Uint16Array;
    for (let i = 0; i < d.length; i++) if ((d[i]! & 0x7c00) === 0x7c00) nonfinite(input, i);
  } else if (input.datatype === 'FP32') {
    // exponent bits all ones = Inf or NaN; an integer mask over the same bytes is 4x faster than Number.isFinite
    const f = data as Float32Array;
    const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
    for (let i = 0; i < u.length; i++) if ((u[i]! & 0x7f800000) === 0x7f800000) nonfinite(input, i);
  } else if (input.datatype === 'FP64') {
    const d = data as Float64Array;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) nonfinite(input, i);
  }
}

function nonfinite(input: InferInput, i: number): never {
  throw new LsError('LS_ERR_TENSOR_NONFINITE', `input "${input.name}" at index ${i} (set allow_nonfinite: true on the input in config.yaml to accept)`);
}

/** Tensor data as JSON values (FP16 bits -> numbers, 64-bit ints -> numbers, BOOL -> booleans). */
export function tensorToJson(t: Tensor): unknown[] {
  const d = t.data;
  if (Array.isArray(d)) return d;
  if (t.datatype === 'FP16') return Array.from(d as Uint16Array, fromHalfBits);
  if (t.datatype === 'BOOL') return Array.from(d as Uint8Array, (v) => v !== 0);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Array.from(d, Number);
  return Array.from(d as ArrayLike<number>);
}

/** Tensor data as raw bytes for the binary extension. */
export function tensorToBytes(t: Tensor): Uint8Array {
  const d = t.data;
  if (Array.isArray(d)) {
    const parts = d.map((s) => Buffer.from(s, 'utf8'));
    const out = Buffer.alloc(parts.reduce((a, p) => a + 4 + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.writeUInt32LE(p.length, off);
      p.copy(out, off + 4);
      off += 4 + p.length;
    }
    return out;
  }
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Build the response: JSON only, or JSON header + binary tail (then `headerLength` is set). */
export function encodeInferResponse(
  meta: { model: string; version: number; id?: string },
  tensors: Readonly<Record<string, Tensor>>,
  decoded: Pick<DecodedInfer, 'outputs' | 'binaryDefault'>,
): { body: Buffer; headerLength?: number } {
  const wanted = decoded.outputs ?? Object.keys(tensors).map((name) => ({ name, binary: decoded.binaryDefault }));
  const outputs: InferOutput[] = [];
  const chunks: Uint8Array[] = [];
  for (const o of wanted) {
    const t = tensors[o.name];
    if (!t) throw new LsError('LS_ERR_INFERENCE', `the model did not return output "${o.name}"`);
    if (o.binary) {
      const bytes = tensorToBytes(t);
      chunks.push(bytes);
      outputs.push({ name: o.name, datatype: t.datatype, shape: [...t.shape], parameters: { binary_data_size: bytes.byteLength } });
    } else {
      outputs.push({ name: o.name, datatype: t.datatype, shape: [...t.shape], data: tensorToJson(t) });
    }
  }
  const res: InferResponse = { model_name: meta.model, model_version: String(meta.version), ...(meta.id !== undefined ? { id: meta.id } : {}), outputs };
  const json = Buffer.from(JSON.stringify(res), 'utf8');
  if (chunks.length === 0) return { body: json };
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}
