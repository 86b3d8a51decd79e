/**
 * `GET /v1/events`: the live events of the line as Server-Sent Events. A new subscriber first gets
 * the latest `stats` event; a comment line every 15 s keeps proxies from closing the stream. A slow
 * client whose socket buffer is full skips events until it drains (the line never waits for a browser).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { LineEvent } from '../events.ts';
import { lineVisible, type LineHttpOptions } from './context.ts';

export const HEARTBEAT_MS = 15_000;

function lineOf(e: LineEvent): string | undefined {
  return e.type === 'stats' || e.type === 'feedback' ? undefined : e.line;
}

export function eventsRoutes(o: LineHttpOptions & { heartbeatMs?: number }): FastifyPluginAsync {
  return async (app) => {
    const open = new Set<() => void>();
    // before the server waits for its connections to end: live streams never end by themselves
    app.addHook('preClose', async () => {
      for (const close of [...open]) close();
    });

    app.get('/v1/events', { config: { role: 'viewer' } }, (req, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let congested = false;
      const send = (e: LineEvent): void => {
        if (congested) return;
        const l = lineOf(e);
        if (l !== undefined && !lineVisible(req, l)) return;
        let data: LineEvent = e;
        if (e.type === 'stats') data = { ...e, stations: e.stations.filter((s) => lineVisible(req, s.line)) };
        if (!raw.write(`event: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`)) {
          congested = true;
          raw.once('drain', () => (congested = false));
        }
      };
      send(o.runtime.statsEvent());
      const unsubscribe = o.runtime.bus.subscribe(send);
      let timer: unknown;
      const beat = (): void => {
        if (!congested) raw.write(`: heartbeat ${o.clock.now()}\n\n`);
        timer = o.clock.setTimeout(beat, o.heartbeatMs ?? HEARTBEAT_MS);
      };
      timer = o.clock.setTimeout(beat, o.heartbeatMs ?? HEARTBEAT_MS);
      const close = (): void => {
        if (!open.delete(close)) return;
        unsubscribe();
        o.clock.clearTimeout(timer);
        raw.end();
      };
      open.add(close);
      req.raw.on('close', close);
    });
  };
}
