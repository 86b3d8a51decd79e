/** `GET /v1/line/summary`: stations (parts/s, defect rate, totals, last decision), machines (latest values, failure probability), open alerts. */
import type { FastifyPluginAsync } from 'fastify';
import { lineVisible, type LineHttpOptions } from './context.ts';

export function summaryRoutes(o: LineHttpOptions): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/line/summary', { config: { role: 'viewer' } }, async (req) => {
      const now = o.clock.now();
      const alerts = (await o.runtime.store.listAlerts({ state: 'open', limit: 10_000 })).filter((a) => lineVisible(req, a.line));
      const stats = o.runtime.stats;
      return {
        ts: now,
        lines: o.runtime.config.lines.filter((l) => lineVisible(req, l.id)).map((l) => ({ id: l.id, stations: l.stations.map((s) => ({ id: s.id, model: s.model })), machines: l.machines.map((m) => ({ id: m.id, model: m.model })) })),
        stations: stats.stationRows(now).filter((s) => lineVisible(req, s.line)),
        machines: stats.machineRows().filter((m) => lineVisible(req, m.line)),
        open_alerts: alerts.length,
        readings_total: stats.readingsTotal,
        accuracy: stats.event(now).accuracy,
      };
    });
  };
}
