/** Line scopes on the real line routes: a token for line A gets 403 for anything on line B. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { authPlugin } from '../../src/security/auth-plugin.ts';
import { TokenStore } from '../../src/security/tokens.ts';
import { AesGcmCodec, generateDataKey } from '../../src/security/crypto.ts';
import { partsRoutes } from '../../src/line/http/parts.ts';
import type { LineRuntime } from '../../src/line/runtime.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { installErrorHandling } from '../../src/serving/error-handler.ts';
import { systemClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/log.ts';
import { tempDir } from './helpers.ts';

describe('line-scoped tokens on /v1/parts', () => {
  const tmp = tempDir();
  let store: SqliteStore;
  let app: FastifyInstance;
  let lineA: string;
  let all: string;
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
  beforeAll(async () => {
    store = new SqliteStore({ file: path.join(tmp.dir, 'line.db'), codec: new AesGcmCodec(generateDataKey()) });
    const part = (id: string, line: string) => ({
      part_id: id, msg_id: `m-${id}`, line, station: `${line}-cam1`, ts: 1000, model: 'steel-surface', version: 1, label: 'scratches', probability: 0.9,
      outputs: { scratches: 0.9 }, decision: 'REJECT' as const, reason: 'test', latency_ms: 2, image: { bytes: png, content_type: 'image/png' },
    });
    await store.writeBatch({ parts: [part('a1', 'lineA'), part('b1', 'lineB')] });
    const tokens = await TokenStore.open(path.join(tmp.dir, 'tokens.json'));
    lineA = (await tokens.create({ role: 'viewer', lines: ['lineA'] })).token;
    all = (await tokens.create({ role: 'viewer' })).token;
    app = Fastify();
    installErrorHandling(app);
    await app.register(partsRoutes({ runtime: { store } as unknown as LineRuntime, clock: systemClock }));
    await app.register(authPlugin, { tokens, log: silentLogger() });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await store.dispose();
    tmp.cleanup();
  });
  const get = (url: string, token: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  it('refuses line B parts, images and lists to a line A token', async () => {
    expect((await get('/v1/parts/b1', lineA)).statusCode).toBe(403);
    expect((await get('/v1/parts/b1/image', lineA)).statusCode).toBe(403);
    expect((await get('/v1/parts/recent?line=lineB', lineA)).statusCode).toBe(403);
    // a scoped token must name its line on routes that declare one
    expect((await get('/v1/parts/recent', lineA)).statusCode).toBe(403);
  });

  it('serves line A to the line A token (image decrypted) and everything to an unscoped token', async () => {
    expect((await get('/v1/parts/a1', lineA)).json()).toMatchObject({ part_id: 'a1', line: 'lineA' });
    const img = await get('/v1/parts/a1/image', lineA);
    expect(img.statusCode).toBe(200);
    expect(Buffer.from(img.rawPayload).equals(Buffer.from(png))).toBe(true);
    expect((await get('/v1/parts/recent?line=lineA', lineA)).json().parts.map((p: { part_id: string }) => p.part_id)).toEqual(['a1']);
    expect((await get('/v1/parts/b1', all)).statusCode).toBe(200);
    expect((await get('/v1/parts/recent', all)).json().parts).toHaveLength(2);
  });
});
