/**
 * The live event stream (`GET /v1/events`) on a real socket with an injected clock: the latest stats
 * first, events as the line publishes them, a heartbeat comment when the clock says 15 s passed,
 * and events of other lines hidden from a line-scoped caller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.ts';
import { EventBus } from '../../src/line/events.ts';
import { linePlugins } from '../../src/line/http/index.ts';
import { parseLineConfig } from '../../src/line/line-config.ts';
import { LineRuntime } from '../../src/line/runtime.ts';
import { buildApp, type BuiltApp } from '../../src/serving/app.ts';
import type { InferenceService } from '../../src/serving/inference-service.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

/** A clock whose timers run only when the test advances it. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  return {
    now: () => now,
    hrNow: () => now,
    setTimeout: (fn, ms) => {
      const id = next++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (h) => void timers.delete(h as number),
    advance(ms: number) {
      now += ms;
      for (const [id, t] of [...timers]) {
        if (t.at <= now) {
          timers.delete(id);
          t.fn();
        }
      }
    },
  };
}

const service = { status: () => [], dispose: async () => undefined } as unknown as InferenceService;
const clock = manualClock();
const bus = new EventBus();
let built: BuiltApp | undefined;
let url: string;
let runtime: LineRuntime;

beforeAll(async () => {
  const config = parseLineConfig({ lines: [{ id: 'line1', stations: [{ id: 'cam1', model: 'x' }] }, { id: 'line2', stations: [{ id: 'cam9', model: 'x' }] }] });
  runtime = new LineRuntime({ config, service, store: new SqliteStore({ file: ':memory:' }), bus, clock });
  // stands in for the auth plugin: `?as=line1` makes the caller a line-scoped viewer
  const fakeAuth = async (app: import('fastify').FastifyInstance) => {
    app.addHook('onRequest', async (req) => {
      const as = (req.query as { as?: string }).as;
      if (as) (req as unknown as { principal: unknown }).principal = { id: 'v', role: 'viewer', lines: [as], via: 'token' };
    });
  };
  // like the real auth plugin, its hook must reach every route
  (fakeAuth as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
  built = await buildApp({ service, bus, plugins: [fakeAuth, ...linePlugins(runtime, { clock })] });
  url = await built.app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await built?.dispose();
  await runtime?.store.dispose();
});

async function open(path: string) {
  const ctl = new AbortController();
  const res = await fetch(`${url}${path}`, { signal: ctl.signal });
  const reader = res.body!.getReader();
  let text = '';
  return {
    res,
    close: () => ctl.abort(),
    text: () => text,
    async until(pred: (t: string) => boolean) {
      while (!pred(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += Buffer.from(value).toString();
      }
    },
  };
}

describe('GET /v1/events', () => {
  it('sends stats first, then live events, and a heartbeat every 15 s of the clock', async () => {
    const s = await open('/v1/events');
    expect(s.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await s.until((t) => t.includes('\n\n'));
    expect(s.text()).toMatch(/^event: stats\ndata: \{"type":"stats"/);
    bus.publish({ type: 'alert', id: 'a1', ts: 1, line: 'line1', source: 'm1', severity: 'critical', message: 'hot' });
    await s.until((t) => t.includes('event: alert'));
    expect(s.text()).not.toContain(': heartbeat');
    clock.advance(15_000);
    await s.until((t) => t.includes(': heartbeat'));
    s.close();
  });

  it('hides other lines from a line-scoped caller', async () => {
    const s = await open('/v1/events?as=line2');
    await s.until((t) => t.includes('event: stats'));
    const stats = JSON.parse(s.text().split('data: ')[1]!.split('\n')[0]!) as { stations: Array<{ line: string }> };
    expect(stats.stations.map((x) => x.line)).toEqual(['line2']);
    bus.publish({ type: 'alert', id: 'a2', ts: 1, line: 'line1', source: 'm1', severity: 'critical', message: 'not yours' });
    bus.publish({ type: 'alert', id: 'a3', ts: 1, line: 'line2', source: 'm9', severity: 'warning', message: 'yours' });
    await s.until((t) => t.includes('"id":"a3"'));
    expect(s.text()).not.toContain('"id":"a2"');
    s.close();
  });

  it('lets the server shut down while a dashboard is still connected', async () => {
    const s = await open('/v1/events');
    await s.until((t) => t.includes('event: stats'));
    const b = built!;
    built = undefined;
    await b.dispose();
    // the stream was ended by the server, not by the client
    await expect(s.until(() => false)).rejects.toThrow(/stream ended/);
  });
});
