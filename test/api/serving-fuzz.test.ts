/** 2,400 randomized malformed requests through app.inject: never a 5xx, and the server still answers. */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type BuiltApp } from '../../src/serving/app.ts';
import { echoInputs, makeServingRepo } from './helpers/serving-repo.ts';

let built: BuiltApp;
beforeAll(async () => {
  built = await buildApp({ repoDir: makeServingRepo(), bodyLimit: 256 * 1024, inferenceThreads: false });
});
afterAll(async () => built.dispose());

/** Deterministic PRNG so a failure can be replayed from its seed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const DATATYPES = ['BOOL', 'UINT8', 'INT8', 'INT32', 'INT64', 'UINT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'fp32', '', 'COMPLEX'];
const WEIRD: unknown[] = [null, true, -1, 0, 1e308, -1e-308, 'NaN', 'Infinity', '', 'x', [], {}, [[[]]], { __proto__: { a: 1 } }, '9'.repeat(30), 2 ** 53 + 2];
const PATHS = ['tiny', 'echo', 'ghost', '..%2F..%2Fetc', '%2e%2e%2fx', 'a%00b', 'x'.repeat(150), '%ZZ', 'tiny%2Fversions', '-1', 'tiny/versions/0', 'tiny/versions/abc', 'tiny/versions/99999999999', 'echo/versions/1'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function mutate(r: () => number, v: unknown, depth = 0): unknown {
  const k = r();
  if (depth > 3 || k < 0.2) return pick(r, WEIRD);
  if (Array.isArray(v)) {
    const a = [...v];
    const op = r();
    if (op < 0.3 && a.length) a.splice(Math.floor(r() * a.length), 1);
    else if (op < 0.6) a.push(pick(r, WEIRD));
    else if (a.length) { const i = Math.floor(r() * a.length); a[i] = mutate(r, a[i], depth + 1); }
    return a;
  }
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(o);
    const op = r();
    if (op < 0.25 && keys.length) delete o[pick(r, keys)];
    else if (op < 0.4) o[pick(r, ['shape', 'datatype', 'data', 'name', 'parameters', 'extra'])] = pick(r, WEIRD);
    else if (keys.length) { const key = pick(r, keys); o[key] = mutate(r, o[key], depth + 1); }
    return o;
  }
  if (typeof v === 'string') return r() < 0.5 ? pick(r, DATATYPES) : `${v}${pick(r, ['', '..', '\u0000', '☃'])}`;
  if (typeof v === 'number') return pick(r, [v + 1, -v, v * 1e6, 0.5, NaN]);
  return pick(r, WEIRD);
}

function randomRequest(r: () => number): InjectOptions {
  const kind = r();
  const model = pick(r, PATHS);
  if (kind < 0.45) {
    // v2 infer with a mutated JSON body
    const body = mutate(r, { id: 'f', inputs: echoInputs(1 + Math.floor(r() * 3)), outputs: r() < 0.3 ? [{ name: 'f32_out', parameters: { binary_data: r() < 0.5 } }] : undefined });
    const raw = r() < 0.1 ? JSON.stringify(body).slice(0, Math.floor(r() * 200)) : JSON.stringify(body);
    return { method: 'POST', url: `/v2/models/${model}/infer`, headers: { 'content-type': pick(r, ['application/json', 'application/octet-stream', 'text/plain']) }, payload: raw ?? '' };
  }
  if (kind < 0.6) {
    // binary extension with random header lengths and random tails
    const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [1, 1, 8, 8], datatype: pick(r, DATATYPES), parameters: { binary_data_size: Math.floor(r() * 400) - 50 } }] }));
    const tail = Buffer.alloc(Math.floor(r() * 300), Math.floor(r() * 256));
    const hl = pick(r, [String(json.length), String(json.length + Math.floor(r() * 50) - 25), '-3', 'abc', '1e3', '']);
    return { method: 'POST', url: `/v2/models/${pick(r, ['tiny', 'echo'])}/infer`, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': hl }, payload: Buffer.concat([json, tail]) };
  }
  if (kind < 0.8) {
    // inspect with random bytes (some with real magic numbers) and content types
    const magic = pick(r, [[0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0x42, 0x4d], [0x49, 0x49, 0x2a, 0], []]);
    const bytes = Buffer.concat([Buffer.from(magic), Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)))]);
    const q = pick(r, ['', '?part_id=a', '?part_id=../x', '?line=%00', '?version=abc', '?version=7', '?station=' + 'x'.repeat(100)]);
    return { method: 'POST', url: `/v1/inspect/${model}${q}`, headers: { 'content-type': pick(r, ['image/jpeg', 'image/png', 'image/bmp', 'image/tiff', 'application/json', 'multipart/form-data', 'image/']) }, payload: bytes };
  }
  const method = pick(r, ['GET', 'POST', 'PUT', 'DELETE'] as const);
  const url = pick(r, [`/v2/models/${model}`, `/v2/models/${model}/ready`, '/v2/repository/index', `/v2/repository/models/${model}/${pick(r, ['load', 'unload', 'explode'])}`, '/v2', '/v2/health/ready', '/metrics', `/v1/models/${model}`, '/%', '/v2/models/']);
  // never really unload: load/unload of valid names are exercised in their own tests
  const safeUrl = url.includes('/unload') && (url.includes('/tiny/') || url.includes('/echo/')) ? url.replace('/unload', '/load') : url;
  return { method, url: safeUrl, ...(method === 'POST' ? { payload: JSON.stringify(mutate(r, { ready: true })), headers: { 'content-type': 'application/json' } } : {}) };
}

describe('fuzz', () => {
  it('2,400 malformed requests: no 5xx, every error has {error, code}, the server still answers', async () => {
    const r = rng(20261203);
    const statuses = new Map<number, number>();
    const fivexx: string[] = [];
    for (let i = 0; i < 2400; i++) {
      const req = randomRequest(r);
      const res = await built.app.inject(req);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 500) fivexx.push(`${i} ${req.method} ${String(req.url)} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
      if (res.statusCode >= 400) {
        const b = res.json() as { error?: unknown; code?: unknown };
        expect(typeof b.error).toBe('string');
        expect(String(b.code)).toMatch(/^LS_ERR_/);
      }
    }
    expect(fivexx).toEqual([]);
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
    expect((await built.app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(200);
    const ok = await built.app.inject({ method: 'POST', url: '/v2/models/echo/infer', payload: { inputs: echoInputs(1) } });
    expect(ok.statusCode).toBe(200);
    // Random model names in URLs must not become metric label values (unbounded memory).
    const text = await built.metrics.text();
    const labels = new Set([...text.matchAll(/linesight_inference_requests_total\{model="([^"]*)"/g)].map((m) => m[1]));
    expect([...labels].every((l) => ['tiny', 'echo', '_unknown'].includes(l!))).toBe(true);
    expect(labels.has('_unknown')).toBe(true);
  }, 120_000);
});
