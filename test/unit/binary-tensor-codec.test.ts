import { describe, expect, it } from 'vitest';
import { fromHalfBits, toHalfBits } from '../../src/core/half.ts';
import { decodeInferRequest, encodeInferResponse, splitBody, tensorToBytes } from '../../src/serving/protocol/tensor-codec.ts';
import { manifestSchema, type Manifest } from '../../src/repository/manifest.ts';

const manifest: Manifest = manifestSchema.parse({
  name: 'm', task: 'regression', max_batch_size: 4,
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [2] },
    { name: 'h', datatype: 'FP16', shape: [2] },
    { name: 's', datatype: 'BYTES', shape: [1] },
    { name: 'i', datatype: 'INT64', shape: [1] },
  ],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [2] }],
});

function binaryBody(header: object, chunks: Uint8Array[]): { body: Buffer; len: string } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...chunks]), len: String(json.length) };
}

function bytesElements(...xs: string[]): Buffer {
  return Buffer.concat(xs.map((s) => { const b = Buffer.from(s); const l = Buffer.alloc(4); l.writeUInt32LE(b.length); return Buffer.concat([l, b]); }));
}

describe('FP16', () => {
  it('round-trips representable values and rounds to nearest even', () => {
    for (const v of [0, 1, -2, 0.5, 65504, -1023 * 2 ** -24, 1.5, 3.140625]) expect(fromHalfBits(toHalfBits(v))).toBe(v);
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(Infinity)).toBe(0x7c00);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
    expect(fromHalfBits(toHalfBits(1 + 2 ** -11))).toBe(1); // tie -> even
    expect(fromHalfBits(toHalfBits(2 ** -24))).toBe(2 ** -24); // smallest subnormal
  });
});

describe('binary tensor data extension', () => {
  it('decodes raw little-endian tensors, FP16 bits and length-prefixed BYTES after the JSON header', () => {
    const x = new Float32Array([1.5, -2]);
    const h = new Uint16Array([toHalfBits(0.25), toHalfBits(-3)]);
    const s = bytesElements('abc');
    const { body, len } = binaryBody(
      {
        inputs: [
          { name: 'x', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8 } },
          { name: 'h', shape: [1, 2], datatype: 'FP16', parameters: { binary_data_size: 4 } },
          { name: 's', shape: [1, 1], datatype: 'BYTES', parameters: { binary_data_size: s.length } },
          { name: 'i', shape: [1, 1], datatype: 'INT64', data: [[-7]] },
        ],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      },
      [Buffer.from(x.buffer), Buffer.from(h.buffer), s],
    );
    // Prepend one byte so the binary part starts unaligned, as it does on the wire.
    const shifted = Buffer.concat([Buffer.from([0]), body]).subarray(1);
    const d = decodeInferRequest(shifted, len, manifest);
    expect([...(d.feeds.x!.data as Float32Array)]).toEqual([1.5, -2]);
    expect([...(d.feeds.h!.data as Uint16Array)].map(fromHalfBits)).toEqual([0.25, -3]);
    expect(d.feeds.s!.data).toEqual(['abc']);
    expect([...(d.feeds.i!.data as BigInt64Array)]).toEqual([-7n]);
    expect(d.outputs).toEqual([{ name: 'y', binary: true }]);
  });

  it.each([NaN, Infinity, -Infinity])('refuses binary FP32 %s and names its index; the largest finite floats pass', (bad) => {
    const body = (v: number) =>
      binaryBody({ inputs: [
        { name: 'x', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 16 } },
        { name: 'h', shape: [2, 2], datatype: 'FP16', data: [0, 0, 0, 0] },
        { name: 's', shape: [2, 1], datatype: 'BYTES', data: ['a', 'b'] },
        { name: 'i', shape: [2, 1], datatype: 'INT64', data: [1, 2] },
      ] }, [Buffer.from(new Float32Array([3.4028234663852886e38, -3.4028234663852886e38, 1e-45, v]).buffer)]);
    const ok = body(0);
    expect([...(decodeInferRequest(ok.body, ok.len, manifest).feeds.x!.data as Float32Array)]).toEqual([3.4028234663852886e38, -3.4028234663852886e38, Math.fround(1e-45), 0]);
    const b = body(bad);
    expect(() => decodeInferRequest(b.body, b.len, manifest)).toThrow(expect.objectContaining({ code: 'LS_ERR_TENSOR_NONFINITE', detail: expect.stringContaining('at index 3') }));
  });

  it('refuses a binary size that disagrees with the shape, and unclaimed trailing bytes', () => {
    const base = (size: number, extra = 0) =>
      binaryBody({ inputs: [
        { name: 'x', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: size } },
        { name: 'h', shape: [1, 2], datatype: 'FP16', data: [0, 0] },
        { name: 's', shape: [1, 1], datatype: 'BYTES', data: ['a'] },
        { name: 'i', shape: [1, 1], datatype: 'INT64', data: [1] },
      ] }, [Buffer.alloc(size + extra)]);
    const a = base(4);
    expect(() => decodeInferRequest(a.body, a.len, manifest)).toThrow(expect.objectContaining({ code: 'LS_ERR_TENSOR_SHAPE' }));
    const b = base(8, 3);
    expect(() => decodeInferRequest(b.body, b.len, manifest)).toThrow(expect.objectContaining({ code: 'LS_ERR_BAD_REQUEST' }));
    expect(() => splitBody(Buffer.from('{}'), '99')).toThrow(expect.objectContaining({ code: 'LS_ERR_BAD_REQUEST' }));
    expect(() => splitBody(Buffer.from('{}'), 'abc')).toThrow(expect.objectContaining({ code: 'LS_ERR_BAD_REQUEST' }));
  });

  it('refuses truncated BYTES elements', () => {
    const s = bytesElements('abcdef').subarray(0, 7);
    const { body, len } = binaryBody({ inputs: [
      { name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] },
      { name: 'h', shape: [1, 2], datatype: 'FP16', data: [0, 0] },
      { name: 's', shape: [1, 1], datatype: 'BYTES', parameters: { binary_data_size: s.length } },
      { name: 'i', shape: [1, 1], datatype: 'INT64', data: [1] },
    ] }, [s]);
    expect(() => decodeInferRequest(body, len, manifest)).toThrow(expect.objectContaining({ code: 'LS_ERR_TENSOR_SHAPE' }));
  });

  it('encodes binary outputs after the JSON with binary_data_size, JSON outputs inline', () => {
    const y = { datatype: 'FP32' as const, shape: [1, 2], data: new Float32Array([0.5, 2]) };
    const bin = encodeInferResponse({ model: 'm', version: 3, id: 'r1' }, { y }, { outputs: [{ name: 'y', binary: true }], binaryDefault: false });
    expect(bin.headerLength).toBeGreaterThan(0);
    const header = JSON.parse(bin.body.subarray(0, bin.headerLength).toString());
    expect(header).toEqual({ model_name: 'm', model_version: '3', id: 'r1', outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } }] });
    const tail = bin.body.subarray(bin.headerLength);
    expect([...new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + 8))]).toEqual([0.5, 2]);
    const json = encodeInferResponse({ model: 'm', version: 3 }, { y }, { outputs: undefined, binaryDefault: false });
    expect(json.headerLength).toBeUndefined();
    expect(JSON.parse(json.body.toString()).outputs[0].data).toEqual([0.5, 2]);
    expect([...tensorToBytes({ datatype: 'BYTES', shape: [1], data: ['hi'] })]).toEqual([2, 0, 0, 0, 104, 105]);
  });
});

describe('JSON tensors', () => {
  const inputs = (over: Record<string, unknown> = {}) => ({
    inputs: [
      { name: 'x', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3, 4]] },
      { name: 'h', shape: [2, 2], datatype: 'FP16', data: [1, 2, 3, 4] },
      { name: 's', shape: [2, 1], datatype: 'BYTES', data: ['a', 'b'] },
      { name: 'i', shape: [2, 1], datatype: 'INT64', data: [1, '9223372036854775807'] },
    ].map((i) => (i.name === over.name ? { ...i, ...over } : i)),
  });
  const dec = (o: Record<string, unknown>) => decodeInferRequest(Buffer.from(JSON.stringify(inputs(o))), undefined, manifest);

  it('accepts nested and flat data and converts numbers to FP16 bits', () => {
    const d = dec({});
    expect([...(d.feeds.x!.data as Float32Array)]).toEqual([1, 2, 3, 4]);
    expect((d.feeds.h!.data as Uint16Array)[0]).toBe(0x3c00);
    expect((d.feeds.i!.data as BigInt64Array)[1]).toBe(9223372036854775807n);
  });

  it.each([
    [{ name: 'x', datatype: 'INT32' }, 'LS_ERR_TENSOR_DATATYPE'],
    [{ name: 'x', shape: [2, 3] }, 'LS_ERR_TENSOR_SHAPE'],
    [{ name: 'x', shape: [4] }, 'LS_ERR_TENSOR_SHAPE'],
    [{ name: 'x', data: [1, 2, 3] }, 'LS_ERR_TENSOR_SHAPE'],
    [{ name: 'x', data: [1, 2, 3, 'NaN'] }, 'LS_ERR_TENSOR_NONFINITE'],
    [{ name: 'x', data: [1, 2, 3, 'x'] }, 'LS_ERR_TENSOR_DATATYPE'],
    [{ name: 'x', shape: [5, 2], data: new Array(10).fill(0) }, 'LS_ERR_TENSOR_SHAPE'],
    [{ name: 'h', data: [1, 2, 3, 1e9] }, 'LS_ERR_TENSOR_NONFINITE'],
    [{ name: 'i', data: [1, 1.5] }, 'LS_ERR_TENSOR_DATATYPE'],
    [{ name: 's', data: ['a', 5] }, 'LS_ERR_TENSOR_DATATYPE'],
  ])('refuses %j with %s', (over, code) => {
    expect(() => dec(over)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses unknown inputs, missing inputs and unknown outputs', () => {
    const bad = (body: unknown) => () => decodeInferRequest(Buffer.from(JSON.stringify(body)), undefined, manifest);
    expect(bad({ ...inputs(), inputs: [...inputs().inputs, { name: 'zz', shape: [1], datatype: 'FP32', data: [1] }] })).toThrow(expect.objectContaining({ code: 'LS_ERR_VALIDATION' }));
    expect(bad({ inputs: inputs().inputs.slice(1) })).toThrow(expect.objectContaining({ code: 'LS_ERR_VALIDATION' }));
    expect(bad({ ...inputs(), outputs: [{ name: 'nope' }] })).toThrow(expect.objectContaining({ code: 'LS_ERR_VALIDATION' }));
    expect(() => decodeInferRequest(Buffer.from('{"inputs": ['), undefined, manifest)).toThrow(expect.objectContaining({ code: 'LS_ERR_BAD_JSON' }));
  });
});
