/** Open Inference Protocol v2 conformance and bad-input behaviour, in-process with app.inject(). */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type BuiltApp } from '../../src/serving/app.ts';
import { fromHalfBits } from '../../src/core/half.ts';
import { echoInputs, makeServingRepo } from './helpers/serving-repo.ts';

let built: BuiltApp;
const inject = (o: InjectOptions) => built.app.inject(o);

beforeAll(async () => {
  built = await buildApp({ repoDir: makeServingRepo({ tinyVersions: [1, 2], tinyConfig: { version_policy: { all: true }, dynamic_batching: { max_queue_delay_ms: 1 } } }) });
});
afterAll(async () => built.dispose());

function binaryRequest(header: object, chunks: Uint8Array[]) {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...chunks]), headerLength: String(json.length) };
}

describe('health and metadata', () => {
  it('live and ready answer 200 with an empty body', async () => {
    for (const url of ['/v2/health/live', '/v2/health/ready', '/v2/models/tiny/ready', '/v2/models/tiny/versions/1/ready']) {
      const r = await inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.body, url).toBe('');
    }
  });

  it('server metadata has name, version and extensions', async () => {
    const r = await inject({ method: 'GET', url: '/v2' });
    const b = r.json();
    expect(Object.keys(b).sort()).toEqual(['extensions', 'name', 'version']);
    expect(b.name).toBe('linesight');
    expect(typeof b.version).toBe('string');
    expect(b.extensions).toContain('binary_tensor_data');
    expect(b.extensions).toContain('model_repository');
    expect(b.extensions).toContain('statistics');
    expect(b.extensions).toContain('model_configuration');
  });

  it('model metadata lists versions as strings and tensors with -1 for the batch dimension', async () => {
    const b = (await inject({ method: 'GET', url: '/v2/models/tiny' })).json();
    expect(Object.keys(b).sort()).toEqual(['inputs', 'name', 'outputs', 'platform', 'versions']);
    expect(b.name).toBe('tiny');
    expect(b.versions).toEqual(['1', '2']);
    expect(b.platform).toBe('onnxruntime_onnx');
    expect(b.inputs).toEqual([{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }]);
    expect(b.outputs).toEqual([{ name: 'logits', datatype: 'FP32', shape: [-1, 3] }]);
    const v = (await inject({ method: 'GET', url: '/v2/models/tiny/versions/2' })).json();
    expect(v.versions).toEqual(['2']);
  });

  it('unknown model or version -> 404 with {error}', async () => {
    for (const url of ['/v2/models/nope', '/v2/models/tiny/versions/9', '/v2/models/nope/ready', '/v2/models/tiny/versions/9/ready']) {
      const r = await inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
      expect(typeof r.json().error, url).toBe('string');
    }
    const r = await inject({ method: 'POST', url: '/v2/models/tiny/versions/7/infer', payload: { inputs: [] } });
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('LS_ERR_VERSION_NOT_FOUND');
  });
});

describe('infer', () => {
  it('JSON request -> response with model_name, model_version, id and every output in order', async () => {
    const r = await inject({ method: 'POST', url: '/v2/models/echo/infer', payload: { id: 'req-7', inputs: echoInputs(2) } });
    expect(r.statusCode).toBe(200);
    const b = r.json();
    expect(Object.keys(b).sort()).toEqual(['id', 'model_name', 'model_version', 'outputs']);
    expect(b).toMatchObject({ model_name: 'echo', model_version: '1', id: 'req-7' });
    const byName = Object.fromEntries(b.outputs.map((o: { name: string }) => [o.name, o]));
    for (const o of b.outputs) expect(Object.keys(o).sort()).toEqual(['data', 'datatype', 'name', 'shape']);
    expect(byName.f32_out).toEqual({ name: 'f32_out', datatype: 'FP32', shape: [2, 4], data: [1.5, -2, 3.25, 0, 1.5, -2, 3.25, 0] });
    expect(byName.i64_out.data).toEqual([-5, 9007199254740991, -5, 9007199254740991]);
    expect(byName.h_out).toMatchObject({ datatype: 'FP16', data: [0.5, -1.25, 0.5, -1.25] });
    expect(byName.s_out).toMatchObject({ datatype: 'BYTES', data: ['héllo', 'héllo'] });
    expect(byName.b_out).toMatchObject({ datatype: 'BOOL', data: [true, false, true, false] });
    expect(byName.u8_out.data).toEqual([0, 128, 255, 0, 128, 255]);
  });

  it('returns only the requested outputs; a versioned path answers with that version', async () => {
    const img = { name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: new Array(64).fill(0.5) };
    const r1 = (await inject({ method: 'POST', url: '/v2/models/tiny/versions/1/infer', payload: { inputs: [img], outputs: [{ name: 'logits' }] } })).json();
    const r2 = (await inject({ method: 'POST', url: '/v2/models/tiny/versions/2/infer', payload: { inputs: [img] } })).json();
    const latest = (await inject({ method: 'POST', url: '/v2/models/tiny/infer', payload: { inputs: [img] } })).json();
    expect(r1.model_version).toBe('1');
    expect(r2.model_version).toBe('2');
    expect(latest.model_version).toBe('2');
    expect(r1.outputs.map((o: { name: string }) => o.name)).toEqual(['logits']);
    expect(r1.outputs[0].data).not.toEqual(r2.outputs[0].data);
  });

  it('binary tensor extension: binary inputs, binary_data_output, Inference-Header-Content-Length', async () => {
    const x = new Float32Array(64).fill(0.25);
    const { body, headerLength } = binaryRequest(
      { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } },
      [new Uint8Array(x.buffer)],
    );
    const r = await inject({ method: 'POST', url: '/v2/models/tiny/infer', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': headerLength }, payload: body });
    expect(r.statusCode).toBe(200);
    const hl = Number(r.headers['inference-header-content-length']);
    expect(hl).toBeGreaterThan(0);
    const raw = r.rawPayload;
    const header = JSON.parse(raw.subarray(0, hl).toString());
    expect(header.outputs).toEqual([{ name: 'logits', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } }]);
    expect(raw.length - hl).toBe(12);
    const json = (await inject({ method: 'POST', url: '/v2/models/tiny/infer', payload: { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: [...x] }] } })).json();
    const fromBinary = [...new Float32Array(raw.buffer.slice(raw.byteOffset + hl, raw.byteOffset + hl + 12))];
    fromBinary.forEach((v, i) => expect(v).toBeCloseTo(json.outputs[0].data[i], 5));
  });

  it('binary FP16 and BYTES outputs per output parameter', async () => {
    const r = await inject({
      method: 'POST', url: '/v2/models/echo/infer',
      payload: { inputs: echoInputs(1), outputs: [{ name: 'h_out', parameters: { binary_data: true } }, { name: 's_out', parameters: { binary_data: true } }, { name: 'f32_out' }] },
    });
    expect(r.statusCode).toBe(200);
    const hl = Number(r.headers['inference-header-content-length']);
    const header = JSON.parse(r.rawPayload.subarray(0, hl).toString());
    expect(header.outputs.map((o: { name: string }) => o.name)).toEqual(['h_out', 's_out', 'f32_out']);
    const tail = r.rawPayload.subarray(hl);
    expect(fromHalfBits(tail.readUInt16LE(0))).toBe(0.5);
    expect(fromHalfBits(tail.readUInt16LE(2))).toBe(-1.25);
    expect(tail.readUInt32LE(4)).toBe(Buffer.byteLength('héllo'));
    expect(tail.subarray(8, 8 + 6).toString()).toBe('héllo');
    expect(header.outputs[2].data).toEqual([1.5, -2, 3.25, 0]);
  });
});

describe('model configuration extension (Triton)', () => {
  it('GET /v2/models/{m}[/versions/{v}]/config gives config.yaml in Triton\'s JSON shape', async () => {
    const r = await inject({ method: 'GET', url: '/v2/models/tiny/config' });
    expect(r.statusCode).toBe(200);
    const c = r.json();
    expect(Object.keys(c).sort()).toEqual(['backend', 'dynamic_batching', 'input', 'instance_group', 'max_batch_size', 'name', 'output', 'parameters', 'platform', 'version_policy']);
    expect(c).toMatchObject({ name: 'tiny', platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 8, version_policy: { all: {} } });
    // dims without the batch dimension, as Triton gives them when max_batch_size > 0
    expect(c.input).toEqual([{ name: 'image', data_type: 'TYPE_FP32', dims: [1, 8, 8] }]);
    expect(c.output).toEqual([{ name: 'logits', data_type: 'TYPE_FP32', dims: [3] }]);
    expect(c.instance_group).toEqual([{ name: 'tiny', kind: 'KIND_CPU', count: 1 }]);
    expect(c.dynamic_batching).toEqual({ preferred_batch_size: [], max_queue_delay_microseconds: 1000, default_queue_policy: { default_timeout_microseconds: 10_000_000, max_queue_size: 256 } });
    const echo = (await inject({ method: 'GET', url: '/v2/models/echo/versions/1/config' })).json();
    expect(Object.fromEntries(echo.input.map((i: { name: string; data_type: string }) => [i.name, i.data_type]))).toEqual({
      f32: 'TYPE_FP32', i64: 'TYPE_INT64', h: 'TYPE_FP16', s: 'TYPE_STRING', b: 'TYPE_BOOL', u8: 'TYPE_UINT8', nf: 'TYPE_FP32',
    });
    expect((await inject({ method: 'GET', url: '/v2/models/ghost/config' })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/v2/models/tiny/versions/9/config' })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/v2/models/..%2F..%2Fetc/config' })).statusCode).toBe(400);
  });
});

describe('statistics extension', () => {
  it('GET /v2/models/{m}/stats reports counts and durations per version in Triton\'s shape', async () => {
    const img = { inputs: [{ name: 'image', shape: [2, 1, 8, 8], datatype: 'FP32', data: new Array(128).fill(0.2) }] };
    expect((await inject({ method: 'POST', url: '/v2/models/tiny/versions/1/infer', payload: img })).statusCode).toBe(200);
    const b = (await inject({ method: 'GET', url: '/v2/models/tiny/versions/1/stats' })).json();
    expect(Object.keys(b)).toEqual(['model_stats']);
    expect(b.model_stats).toHaveLength(1);
    const s = b.model_stats[0];
    expect(Object.keys(s).sort()).toEqual(['batch_stats', 'execution_count', 'inference_count', 'inference_stats', 'last_inference', 'name', 'version']);
    expect(s).toMatchObject({ name: 'tiny', version: '1' });
    expect(s.inference_count).toBeGreaterThanOrEqual(2);
    expect(s.execution_count).toBeGreaterThanOrEqual(1);
    expect(s.last_inference).toBeGreaterThan(0);
    for (const k of ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output']) {
      expect(Object.keys(s.inference_stats[k]).sort()).toEqual(['count', 'ns']);
    }
    expect(s.inference_stats.success.count).toBeGreaterThanOrEqual(1);
    expect(s.batch_stats.some((x: { batch_size: number }) => x.batch_size === 2)).toBe(true);
    const all = (await inject({ method: 'GET', url: '/v2/models/stats' })).json();
    expect(all.model_stats.map((x: { name: string; version: string }) => `${x.name}:${x.version}`)).toEqual(['echo:1', 'tiny:1', 'tiny:2']);
    expect((await inject({ method: 'GET', url: '/v2/models/ghost/stats' })).statusCode).toBe(404);
  });
});

describe('bad input: 4xx, {error, code}, and the server answers the next request', () => {
  const img = (over: Record<string, unknown> = {}) => ({ inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: new Array(64).fill(0.1), ...over }] });
  const cases: Array<[string, InjectOptions, number, string]> = [
    ['malformed JSON', { method: 'POST', url: '/v2/models/tiny/infer', headers: { 'content-type': 'application/json' }, payload: '{"inputs": [' }, 400, 'LS_ERR_BAD_JSON'],
    ['empty body', { method: 'POST', url: '/v2/models/tiny/infer', headers: { 'content-type': 'application/json' }, payload: '' }, 400, 'LS_ERR_BAD_JSON'],
    ['not an object', { method: 'POST', url: '/v2/models/tiny/infer', payload: [1, 2] }, 400, 'LS_ERR_VALIDATION'],
    ['unknown model', { method: 'POST', url: '/v2/models/ghost/infer', payload: img() }, 404, 'LS_ERR_MODEL_NOT_FOUND'],
    ['wrong datatype', { method: 'POST', url: '/v2/models/tiny/infer', payload: img({ datatype: 'INT32', data: new Array(64).fill(1) }) }, 400, 'LS_ERR_TENSOR_DATATYPE'],
    ['shape vs data length', { method: 'POST', url: '/v2/models/tiny/infer', payload: img({ data: [1, 2, 3] }) }, 400, 'LS_ERR_TENSOR_SHAPE'],
    ['wrong rank', { method: 'POST', url: '/v2/models/tiny/infer', payload: img({ shape: [1, 64] }) }, 400, 'LS_ERR_TENSOR_SHAPE'],
    ['batch above max_batch_size', { method: 'POST', url: '/v2/models/tiny/infer', payload: img({ shape: [9, 1, 8, 8], data: new Array(9 * 64).fill(0) }) }, 400, 'LS_ERR_TENSOR_SHAPE'],
    ['NaN where forbidden', { method: 'POST', url: '/v2/models/tiny/infer', payload: img({ data: [...new Array(63).fill(0), 'NaN'] }) }, 400, 'LS_ERR_TENSOR_NONFINITE'],
    ['Infinity where forbidden', { method: 'POST', url: '/v2/models/tiny/infer', payload: img({ data: [...new Array(63).fill(0), '-Infinity'] }) }, 400, 'LS_ERR_TENSOR_NONFINITE'],
    ['path traversal (encoded)', { method: 'POST', url: '/v2/models/..%2F..%2Fetc/infer', payload: img() }, 400, 'LS_ERR_PATH_TRAVERSAL'],
    ['path traversal (double encoded)', { method: 'GET', url: '/v2/models/%252e%252e%252fetc' }, 400, 'LS_ERR_PATH_TRAVERSAL'],
    ['path traversal (backslash)', { method: 'GET', url: '/v2/models/..%5C..%5Cetc/ready' }, 400, 'LS_ERR_PATH_TRAVERSAL'],
    ['bad model name', { method: 'GET', url: '/v2/models/a%20b' }, 400, 'LS_ERR_MODEL_NAME'],
    ['bad binary header length', { method: 'POST', url: '/v2/models/tiny/infer', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '999999' }, payload: Buffer.from('{}') }, 400, 'LS_ERR_BAD_REQUEST'],
  ];
  it.each(cases)('%s', async (_name, req, status, code) => {
    const r = await inject(req);
    expect(r.statusCode).toBe(status);
    expect(r.json()).toMatchObject({ code });
    expect(typeof r.json().error).toBe('string');
    expect((await inject({ method: 'GET', url: '/v2/health/live' })).statusCode).toBe(200);
  });

  it('NaN is accepted on an input configured with allow_nonfinite', async () => {
    const r = await inject({ method: 'POST', url: '/v2/models/echo/infer', payload: { inputs: echoInputs(1), outputs: [{ name: 'nf_out' }] } });
    expect(r.statusCode).toBe(200);
    expect(r.json().outputs[0].data).toEqual([null]); // JSON has no NaN
  });

  it('body over the size limit -> 413', async () => {
    const small = await buildApp({ service: built.service, bodyLimit: 512 });
    try {
      const r = await small.app.inject({ method: 'POST', url: '/v2/models/tiny/infer', payload: img({ data: new Array(64).fill(0.123456789) }) });
      expect(r.statusCode).toBe(413);
      expect(r.json().code).toBe('LS_ERR_PAYLOAD_TOO_LARGE');
    } finally {
      await small.dispose();
    }
  });

  it('unknown route -> 404 {error, code}', async () => {
    const r = await inject({ method: 'GET', url: '/v2/nothing/here' });
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('LS_ERR_NOT_FOUND');
  });
});

describe('backpressure over HTTP', () => {
  it('a full queue answers 503 LS_ERR_QUEUE_FULL with Retry-After; the rest succeed', async () => {
    const small = await buildApp({
      repoDir: makeServingRepo({ tinyConfig: { max_batch_size: 1, dynamic_batching: { max_queue_size: 2, max_queue_delay_ms: 0 } } }),
      inferenceThreads: false,
    });
    try {
      const img = { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: new Array(64).fill(0.3) }] };
      const rs = await Promise.all(Array.from({ length: 24 }, () => small.app.inject({ method: 'POST', url: '/v2/models/tiny/infer', payload: img })));
      const full = rs.filter((r) => r.statusCode === 503);
      expect(full.length).toBeGreaterThan(0);
      for (const r of full) {
        expect(r.json().code).toBe('LS_ERR_QUEUE_FULL');
        expect(r.headers['retry-after']).toBe('1');
      }
      expect(rs.filter((r) => r.statusCode === 200).length + full.length).toBe(24);
    } finally {
      await small.dispose();
    }
  });
});

describe('dynamic batching over HTTP', () => {
  it('8 concurrent requests are merged into one batch of the preferred size 8', async () => {
    const app8 = await buildApp({
      repoDir: makeServingRepo({ tinyConfig: { max_batch_size: 16, dynamic_batching: { preferred_batch_sizes: [8], max_queue_delay_ms: 60_000 } } }),
      inferenceThreads: false,
    });
    try {
      const rs = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          app8.app.inject({ method: 'POST', url: '/v2/models/tiny/infer', payload: { inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: new Array(64).fill(i / 8) }] } }),
        ),
      );
      expect(rs.map((r) => r.statusCode)).toEqual(new Array(8).fill(200));
      // each request got its own row back, not a neighbour's
      const firsts = rs.map((r) => r.json().outputs[0].data[0] as number);
      expect(new Set(firsts).size).toBe(8);
      // the model is linear in its input, so the rows must be in request order (strictly monotonic)
      const diffs = firsts.slice(1).map((v, i) => Math.sign(v - firsts[i]!));
      expect(new Set(diffs).size).toBe(1);
      const text = await app8.metrics.text();
      expect(text).toMatch(/linesight_batch_size_count\{model="tiny",version="1"\} 1\n/);
      expect(text).toMatch(/linesight_batch_size_sum\{model="tiny",version="1"\} 8\n/);
    } finally {
      await app8.dispose();
    }
  });
});
