/**
 * What the serving layer adds to Fastify's types: the shared services on `app.linesight`, and the
 * route config keys of contract 2 (also declared, identically, by the security layer).
 */
import type { Metrics } from '../monitoring/metrics.ts';
import type { EventBus } from '../line/events.ts';
import type { InferenceService } from './inference-service.ts';

/** The services every route plugin can reach through `app.linesight`. */
export interface LineSightContext {
  readonly service: InferenceService;
  readonly metrics: Metrics;
  readonly bus?: EventBus;
}

declare module 'fastify' {
  interface FastifyInstance {
    linesight: LineSightContext;
  }
  interface FastifyContextConfig {
    /** Least role a caller needs for this route (contract 2). */
    role?: 'viewer' | 'inspector' | 'engineer' | 'admin' | 'public';
    /** Name of the param, query or body field that holds the production line this request is about. */
    lineParam?: string;
    /** Counted in linesight_inference_requests_total under this endpoint name. */
    metricsEndpoint?: string;
  }
}
