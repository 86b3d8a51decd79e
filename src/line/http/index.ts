/** The Line HTTP API (contract 5): one plugin per concept, registered together by `linePlugins`. */
import type { FastifyPluginAsync } from 'fastify';
import { systemClock, type Clock } from '../../core/clock.ts';
import type { LineRuntime } from '../runtime.ts';
import { alertsRoutes } from './alerts.ts';
import { eventsRoutes } from './events.ts';
import { feedbackRoutes } from './feedback.ts';
import { machinesRoutes } from './machines.ts';
import { partsRoutes } from './parts.ts';
import { spcRoutes } from './spc.ts';
import { summaryRoutes } from './summary.ts';

/** Every line route plugin, for `startServer({ plugins })`. */
export function linePlugins(runtime: LineRuntime, opts: { clock?: Clock; heartbeatMs?: number } = {}): FastifyPluginAsync[] {
  const o = { runtime, clock: opts.clock ?? systemClock };
  return [feedbackRoutes(o), eventsRoutes({ ...o, ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}) }), summaryRoutes(o), partsRoutes(o), alertsRoutes(o), machinesRoutes(o), spcRoutes(o)];
}
