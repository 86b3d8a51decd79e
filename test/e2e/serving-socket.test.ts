/** End to end through a real socket: startServer on a free port, undici as the client (v2 JSON, binary, inspect, metrics). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/serving/server.ts';
import { makeServingRepo } from '../api/helpers/serving-repo.ts';

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ repoDir: makeServingRepo(), port: 0 });
});
afterAll(async () => server.dispose());

describe('serving over a real socket', () => {
  it('listens on 127.0.0.1 and answers health', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await request(`${server.url}/v2/health/ready`);
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('');
  });

  it('binary tensor infer round trip', async () => {
    const x = new Float32Array(2 * 64).fill(0.5);
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: 'image', shape: [2, 1, 8, 8], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }],
      outputs: [{ name: 'logits', parameters: { binary_data: true } }],
    }));
    const r = await request(`${server.url}/v2/models/tiny/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, Buffer.from(x.buffer)]),
    });
    expect(r.statusCode).toBe(200);
    const hl = Number(r.headers['inference-header-content-length']);
    const body = Buffer.from(await r.body.arrayBuffer());
    const meta = JSON.parse(body.subarray(0, hl).toString());
    expect(meta).toMatchObject({ model_name: 'tiny', model_version: '1', outputs: [{ name: 'logits', shape: [2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } }] });
    const logits = new Float32Array(body.buffer.slice(body.byteOffset + hl, body.byteOffset + hl + 24));
    expect(logits[0]).toBeCloseTo(logits[3]!, 6); // same input twice -> same row twice
  });

  it('inspect a JPEG and see it counted in /metrics', async () => {
    const jpeg = readFileSync(path.join(import.meta.dirname, '../fixtures/neu/scratches_1.jpg'));
    const r = await request(`${server.url}/v1/inspect/tiny?part_id=E2E-1`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg });
    expect(r.statusCode).toBe(200);
    const b = (await r.body.json()) as { part_id: string; version: number; timings: { total_ms: number } };
    expect(b.part_id).toBe('E2E-1');
    expect(b.version).toBe(1);
    const m = await request(`${server.url}/metrics`);
    expect(await m.body.text()).toMatch(/linesight_inference_requests_total\{model="tiny",version="1",endpoint="inspect",status="200"\} 1/);
  });

  it('a bad request over the wire gets a 4xx JSON error and the connection keeps working', async () => {
    const r = await request(`${server.url}/v2/models/tiny/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [' });
    expect(r.statusCode).toBe(400);
    expect(((await r.body.json()) as { code: string }).code).toBe('LS_ERR_BAD_JSON');
    const again = await request(`${server.url}/v2/health/live`);
    expect(again.statusCode).toBe(200);
    await again.body.dump();
  });
});

describe('serving over TLS', () => {
  it('startServer({ tls }) answers https with the given certificate', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tlsServer = await startServer({ repoDir: makeServingRepo(), port: 0, inferenceThreads: false, tls: { key: readFileSync(key), cert: readFileSync(cert) } });
    const agent = new Agent({ connect: { ca: readFileSync(cert) } });
    try {
      expect(tlsServer.url).toMatch(/^https:\/\//);
      const r = await request(`${tlsServer.url}/v2/models/tiny`, { dispatcher: agent });
      expect(r.statusCode).toBe(200);
      expect(((await r.body.json()) as { name: string }).name).toBe('tiny');
      await expect(request(`${tlsServer.url}/v2/health/live`)).rejects.toThrow(); // unknown CA is refused
    } finally {
      await agent.close();
      await tlsServer.dispose();
    }
  });
});
