/**
 * The dashboard's event stream client (web/src/sse.ts) on its fetch path (used with a token):
 * sends the bearer token, parses events, reconnects after the server ends the stream, and
 * reconnects when an open stream goes silent (a dead connection nobody noticed).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { LineEvent } from '../../src/line/events.ts';
import { connectEvents } from '../../web/src/sse.ts';
import type { EventStream } from '../../web/src/sse.ts';

let server: http.Server | undefined;
let stream: EventStream | undefined;

afterEach(async () => {
  stream?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server whose n-th connection runs `behave(n, res)`. */
async function serve(behave: (n: number, res: http.ServerResponse, req: http.IncomingMessage) => void): Promise<string> {
  let n = 0;
  server = http.createServer((req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    behave(n, res, req);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events`;
}

const stats = (ts: number): string => `event: stats\ndata: ${JSON.stringify({ type: 'stats', ts, stations: [], accuracy: [] })}\n\n`;

function collect(url: string, silenceMs?: number) {
  const events: LineEvent[] = [];
  const opens: boolean[] = [];
  const states: string[] = [];
  let resolveSecond: () => void;
  const secondOpen = new Promise<void>((r) => (resolveSecond = r));
  stream = connectEvents({
    url,
    token: 'lst_test_token',
    onEvent: (e) => events.push(e),
    onOpen: (reconnect) => {
      opens.push(reconnect);
      if (opens.length === 2) resolveSecond();
    },
    onState: (s) => states.push(s),
    maxDelayMs: 50,
    ...(silenceMs !== undefined ? { silenceMs } : {}),
  });
  return { events, opens, states, secondOpen };
}

describe('dashboard event stream client', () => {
  it('sends the token, parses events and reconnects when the server ends the stream', async () => {
    const auth: Array<string | undefined> = [];
    const url = await serve((n, res, req) => {
      auth.push(req.headers.authorization);
      // first connection: one event then the server goes away; second: one event and stays
      res.write(`: hello\n\n${stats(n)}`);
      if (n === 1) res.end();
    });
    const c = collect(url);
    await c.secondOpen;
    await expect.poll(() => c.events.length).toBeGreaterThanOrEqual(2);
    expect(auth[0]).toBe('Bearer lst_test_token');
    expect(c.opens).toEqual([false, true]);
    expect(c.events.map((e) => e.ts).slice(0, 2)).toEqual([1, 2]);
    expect(c.states).toContain('reconnecting');
  });

  it('reconnects when an open stream carries no events, even while heartbeats keep the socket warm', async () => {
    const timers: Array<ReturnType<typeof setInterval>> = [];
    const url = await serve((n, res) => {
      // never ends, one event and then only heartbeat comments: only the watchdog can notice
      res.write(stats(n));
      timers.push(setInterval(() => res.write(': heartbeat\n\n'), 50));
    });
    server!.on('close', () => timers.forEach(clearInterval));
    const c = collect(url, 300);
    await c.secondOpen;
    expect(c.opens).toEqual([false, true]);
    await expect.poll(() => c.events.map((e) => e.ts)).toEqual(expect.arrayContaining([1, 2]));
  });
});
