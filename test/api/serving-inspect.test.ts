/** POST /v1/inspect, the repository API, /v1/models and /metrics (checked with promtool). */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type BuiltApp } from '../../src/serving/app.ts';
import { EventBus, type LineEvent } from '../../src/line/events.ts';
import type { HttpInspection } from '../../src/serving/routes/inspect.ts';
import { makeServingRepo } from './helpers/serving-repo.ts';

let built: BuiltApp;
const events: LineEvent[] = [];
const stored: HttpInspection[] = [];
const audit: Array<{ actor: string; action: string; target: string }> = [];
let png: Buffer;
const jpeg = readFileSync(path.join(import.meta.dirname, '../fixtures/neu/crazing_14.jpg'));

beforeAll(async () => {
  const bus = new EventBus();
  bus.subscribe((e) => events.push(e));
  built = await buildApp({ repoDir: makeServingRepo(), inferenceThreads: false, bus, onInspection: (i) => void stored.push(i), audit: { append: (e) => void audit.push(e) } });
  png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 250, g: 250, b: 250 } } }).png().toBuffer();
});
afterAll(async () => built.dispose());

const inspect = (payload: Buffer | string, contentType?: string, query = '') =>
  built.app.inject({ method: 'POST', url: `/v1/inspect/tiny${query}`, payload, headers: contentType ? { 'content-type': contentType } : {} });

describe('POST /v1/inspect/{model}', () => {
  it('answers label, probabilities, decision, version and per-stage timings', async () => {
    const r = await inspect(jpeg, 'image/jpeg', '?part_id=P-1&line=L1&station=cam2');
    expect(r.statusCode).toBe(200);
    const b = r.json();
    expect(Object.keys(b).sort()).toEqual(['decision', 'label', 'model', 'part_id', 'probabilities', 'probability', 'reason', 'timings', 'top', 'version'].sort());
    expect(b).toMatchObject({ model: 'tiny', version: 1, part_id: 'P-1' });
    expect(['ok', 'scratch', 'dent']).toContain(b.label);
    const sum = Object.values(b.probabilities as Record<string, number>).reduce((a, x) => a + x, 0);
    expect(sum).toBeCloseTo(1, 5);
    expect(b.probability).toBe(b.probabilities[b.label]);
    expect(['PASS', 'REJECT', 'REVIEW']).toContain(b.decision);
    for (const k of ['queue_ms', 'preprocess_ms', 'inference_ms', 'postprocess_ms', 'total_ms']) expect(b.timings[k]).toBeGreaterThanOrEqual(0);
    expect(b.timings.total_ms).toBeGreaterThanOrEqual(b.timings.preprocess_ms);
  });

  it('hands the inspection with its image to onInspection and publishes it on the bus', async () => {
    events.length = 0;
    stored.length = 0;
    const r = await inspect(png, 'image/png', '?part_id=P-2&line=L1&station=cam1');
    expect(r.statusCode).toBe(200);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.contentType).toBe('image/png');
    expect(Buffer.compare(Buffer.from(stored[0]!.image), png)).toBe(0);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'inspection', part_id: 'P-2', line: 'L1', station: 'cam1', model: 'tiny', version: 1, has_image: true });
  });

  it.each([
    ['zero-byte image', Buffer.alloc(0), 'image/jpeg', 400, 'LS_ERR_IMAGE_EMPTY'],
    ['corrupt image', Buffer.from([0xff, 0xd8, 0xff, 0x00, 1, 2, 3, 4, 5]), 'image/jpeg', 400, 'LS_ERR_IMAGE_CORRUPT'],
    ['not an image at all', Buffer.from('hello world'), 'image/png', 415, 'LS_ERR_IMAGE_FORMAT'],
    ['wrong Content-Type', Buffer.from('{"a":1}'), 'application/json', 415, 'LS_ERR_CONTENT_TYPE'],
    ['text body', Buffer.from('x'), 'text/plain', 415, 'LS_ERR_CONTENT_TYPE'],
  ])('%s -> %i %s, then the next request works', async (_n, body, ct, status, code) => {
    const r = await inspect(body, ct);
    expect(r.statusCode).toBe(status);
    expect(r.json().code).toBe(code);
    expect((await inspect(png, 'image/png')).statusCode).toBe(200);
  });

  it('refuses bad query values and unknown models', async () => {
    expect((await inspect(png, 'image/png', '?part_id=../../x')).json().code).toBe('LS_ERR_VALIDATION');
    const r = await built.app.inject({ method: 'POST', url: '/v1/inspect/nope', payload: png, headers: { 'content-type': 'image/png' } });
    expect(r.statusCode).toBe(404);
    const t = await built.app.inject({ method: 'POST', url: '/v1/inspect/..%2Fetc', payload: png, headers: { 'content-type': 'image/png' } });
    expect(t.statusCode).toBe(400);
  });

  it('serves concurrent inspections (several images in flight) with consistent answers', async () => {
    const rs = await Promise.all(Array.from({ length: 12 }, () => inspect(jpeg, 'image/jpeg')));
    const labels = new Set(rs.map((r) => r.json().label));
    expect(rs.every((r) => r.statusCode === 200)).toBe(true);
    expect(labels.size).toBe(1);
  });
});

describe('repository control', () => {
  it('index lists models with versions and states', async () => {
    const r = await built.app.inject({ method: 'POST', url: '/v2/repository/index', payload: {} });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual([
      { name: 'echo', version: '1', state: 'READY' },
      { name: 'tiny', version: '1', state: 'READY' },
    ]);
  });

  it('unload makes the model unavailable (503 on infer, 400 on ready), load brings it back; both audited', async () => {
    audit.length = 0;
    expect((await built.app.inject({ method: 'POST', url: '/v2/repository/models/tiny/unload' })).statusCode).toBe(200);
    expect((await built.app.inject({ method: 'GET', url: '/v2/models/tiny/ready' })).statusCode).toBe(400);
    const r = await inspect(png, 'image/png');
    expect(r.statusCode).toBe(503);
    expect(r.json().code).toBe('LS_ERR_MODEL_NOT_READY');
    expect(r.headers['retry-after']).toBe('1');
    const idx = (await built.app.inject({ method: 'POST', url: '/v2/repository/index', payload: { ready: true } })).json();
    expect(idx).toEqual([{ name: 'echo', version: '1', state: 'READY' }]);
    expect((await built.app.inject({ method: 'POST', url: '/v2/repository/models/tiny/load' })).statusCode).toBe(200);
    expect((await inspect(png, 'image/png')).statusCode).toBe(200);
    expect(audit.map((a) => `${a.actor} ${a.action} ${a.target}`)).toEqual(['anonymous model.unload tiny', 'anonymous model.load tiny']);
  });

  it('load of an unknown or traversal name fails cleanly', async () => {
    expect((await built.app.inject({ method: 'POST', url: '/v2/repository/models/ghost/load' })).statusCode).toBe(404);
    expect((await built.app.inject({ method: 'POST', url: '/v2/repository/models/..%2F..%2Fetc/load' })).statusCode).toBe(400);
  });

  it('GET /v1/models lists every version with its state', async () => {
    const b = (await built.app.inject({ method: 'GET', url: '/v1/models' })).json();
    expect(b.ready).toBe(true);
    expect(b.models).toContainEqual({ name: 'tiny', version: 1, state: 'READY', task: 'classification' });
  });

  it('every route declares a role (contract 2); only health/ready are public', () => {
    expect(built.routes.length).toBeGreaterThanOrEqual(14);
    expect(built.routes.filter((r) => !r.role)).toEqual([]);
    const pub = built.routes.filter((r) => r.role === 'public').map((r) => r.url);
    expect(pub.every((u) => /\/(live|ready)$/.test(u))).toBe(true);
    expect(built.routes.find((r) => r.url === '/v2/repository/models/:m/load')?.role).toBe('engineer');
  });
});

describe('GET /metrics', () => {
  it('exposes request counts, stage and batch-size histograms, queue depth and loaded models', async () => {
    const r = await built.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    const t = r.body;
    expect(t).toMatch(/linesight_inference_requests_total\{model="tiny",version="1",endpoint="inspect",status="200"\} \d+/);
    expect(t).toMatch(/linesight_inference_requests_total\{model="tiny",version="",endpoint="inspect",status="415"\} \d+/);
    for (const s of ['queue', 'preprocess', 'inference', 'postprocess', 'total']) expect(t).toContain(`linesight_${s}_duration_seconds_bucket{le="0.001",model="tiny",version="1"}`);
    expect(t).toContain('linesight_batch_size_bucket');
    expect(t).toContain('linesight_queue_depth{model="tiny",version="1"}');
    expect(t).toMatch(/linesight_models_loaded\{state="READY"\} 2/);
  });

  it('passes promtool check metrics', async () => {
    const promtool = '/usr/bin/promtool';
    if (!existsSync(promtool)) {
      if (process.env.CI) throw new Error('promtool is required in CI (Debian package prometheus)');
      console.warn('skipping: promtool not installed');
      return;
    }
    const body = (await built.app.inject({ method: 'GET', url: '/metrics' })).body;
    let out = '';
    let code = 0;
    try {
      out = execFileSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      code = err.status;
      out = `${err.stdout}${err.stderr}`;
    }
    expect(out).toBe('');
    expect(code).toBe(0);
  });
});
