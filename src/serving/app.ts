/**
 * The HTTP application (contract 1): Open Inference Protocol v2, repository control, /v1/inspect,
 * /v1/models and /metrics on Fastify, with one error shape and the shared services on `app.linesight`.
 * Extra route plugins (line, dashboard, auth hooks) are registered after the core routes.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type onRequestHookHandler, type preHandlerHookHandler } from 'fastify';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import { silentLogger } from '../core/log.ts';
import type { EventBus } from '../line/events.ts';
import { Metrics } from '../monitoring/metrics.ts';
import { ModelRepository } from '../repository/repository.ts';
import { getBackend } from '../runtime/index.ts';
import { LsError } from '../core/errors.ts';
import { installErrorHandling, sendError } from './error-handler.ts';
import type { InferenceService } from './inference-service.ts';
import { ModelManager, type AuditSink } from './model-manager.ts';
import { inspectRoutes, type HttpInspection } from './routes/inspect.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { modelsRoutes } from './routes/models.ts';
import { servedVersionOf } from './routes/request-model.ts';
import { v2HealthRoutes } from './routes/v2/health.ts';
import { v2InferRoutes } from './routes/v2/infer.ts';
import { v2MetadataRoutes } from './routes/v2/metadata.ts';
import { v2RepositoryRoutes } from './routes/v2/repository.ts';
import { v2StatsRoutes } from './routes/v2/stats.ts';
import type {} from './fastify-types.ts';

/** Default largest body: a batch of 32 224x224 FP32 images is 6.4 MB; leave room. */
export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024;

export interface AppOptions {
  /** Model repository folder; used to build the default service. */
  readonly repoDir?: string;
  /** The inference service; default: a ModelManager (dynamic batching, lifecycle) over repoDir. */
  readonly service?: InferenceService;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly bus?: EventBus;
  /** Extra route plugins, registered after the core routes. */
  readonly plugins?: readonly FastifyPluginAsync[];
  /** Hooks run before every route handler (e.g. authentication). */
  readonly onRequest?: readonly onRequestHookHandler[];
  readonly preHandlers?: readonly preHandlerHookHandler[];
  readonly bodyLimit?: number;
  readonly imageBodyLimit?: number;
  /** Repository poll interval of the default service, ms (0 = off). */
  readonly pollIntervalMs?: number;
  /** Images preprocessed at once by the default service. */
  readonly preprocessConcurrency?: number;
  /** Run model sessions in worker threads (default true) so inference never blocks HTTP handling. */
  readonly inferenceThreads?: boolean;
  /** Image preprocessing threads of the default service (0 = main thread with several images in flight). */
  readonly preprocessThreads?: number;
  readonly audit?: AuditSink;
  readonly onInspection?: (i: HttpInspection) => void | Promise<void>;
  readonly clock?: Clock;
  /** Passed to Fastify as `https` when set. */
  readonly https?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
}

/** The app plus what it created (and must dispose). */
export interface BuiltApp {
  readonly app: FastifyInstance;
  readonly service: InferenceService;
  readonly metrics: Metrics;
  /** Every route with the role it declares (contract 2), for checks and documentation. */
  readonly routes: ReadonlyArray<{ method: string; url: string; role: string | undefined }>;
  /** Marks the server as shutting down (readiness false), closes the app and, if it created it, the service. */
  dispose(): Promise<void>;
}

/** Build the Fastify app (not listening). Use startServer() to listen on a port. */
export async function buildApp(opts: AppOptions): Promise<BuiltApp> {
  const logger = opts.logger ?? silentLogger();
  const metrics = opts.metrics ?? new Metrics();
  let ownService = false;
  let service = opts.service;
  if (!service) {
    if (!opts.repoDir) throw new TypeError('buildApp needs repoDir or service');
    const repo = await ModelRepository.open(opts.repoDir);
    service = await ModelManager.create({
      repo,
      backend: await getBackend(),
      metrics,
      logger,
      ...(opts.clock ? { clock: opts.clock } : {}),
      pollIntervalMs: opts.pollIntervalMs ?? 0,
      inferenceThreads: opts.inferenceThreads ?? true,
      ...(opts.preprocessThreads ? { preprocessThreads: opts.preprocessThreads } : {}),
      ...(opts.preprocessConcurrency ? { preprocessConcurrency: opts.preprocessConcurrency } : {}),
    });
    ownService = true;
  }
  const app = Fastify({
    loggerInstance: logger,
    // Per-request log lines would dominate the log at line rates; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Malformed URLs (bad % escapes) are refused by the router itself: answer in the standard shape.
    frameworkErrors: (_err, _req, reply) => sendError(reply, new LsError('LS_ERR_BAD_REQUEST', 'the URL is malformed')),
    ...(opts.https ? { https: opts.https } : {}),
  }) as unknown as FastifyInstance;
  app.decorate('linesight', { service, metrics, ...(opts.bus ? { bus: opts.bus } : {}) });
  installErrorHandling(app);
  const routes: Array<{ method: string; url: string; role: string | undefined }> = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url, role: r.config?.role });
  });
  for (const h of opts.onRequest ?? []) app.addHook('onRequest', h);
  for (const h of opts.preHandlers ?? []) app.addHook('preHandler', h);

  let closing = false;
  const service_ = service;
  app.addHook('onResponse', async (req, reply) => {
    const endpoint = req.routeOptions.config?.metricsEndpoint;
    if (!endpoint) return;
    const version = servedVersionOf.get(req);
    // Only names of models the server knows become label values: arbitrary names from the URL
    // would let any client grow the metric without bound.
    const asked = (req.params as { m?: string } | undefined)?.m ?? '';
    const model = version !== undefined || service_.status().some((s) => s.name === asked) ? asked : '_unknown';
    metrics.requests.inc({ model, version: version === undefined ? '' : String(version), endpoint, status: String(reply.statusCode) });
  });

  await app.register(v2HealthRoutes, { closing: () => closing });
  await app.register(v2StatsRoutes);
  await app.register(v2MetadataRoutes);
  await app.register(v2InferRoutes);
  await app.register(v2RepositoryRoutes, { ...(opts.audit ? { audit: opts.audit } : {}) });
  await app.register(inspectRoutes, {
    ...(opts.onInspection ? { onInspection: opts.onInspection } : {}),
    ...(opts.imageBodyLimit ? { imageBodyLimit: opts.imageBodyLimit } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  await app.register(modelsRoutes, { closing: () => closing });
  await app.register(metricsRoutes);
  for (const p of opts.plugins ?? []) await app.register(p);

  const finalService = service;
  return {
    app,
    service: finalService,
    metrics,
    routes,
    async dispose() {
      closing = true;
      await app.close();
      if (ownService) await finalService.dispose();
    },
  };
}
