/** Start the HTTP server on a port (contract 1): `startServer(opts)` -> `{ app, service, url, dispose() }`. */
import type { FastifyInstance } from 'fastify';
import { LsError } from '../core/errors.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import { buildApp, type AppOptions } from './app.ts';
import type { InferenceService } from './inference-service.ts';

export interface ServerOptions extends Omit<AppOptions, 'https'> {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080; 0 = a free port. */
  readonly port?: number;
  readonly tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly service: InferenceService;
  readonly metrics: Metrics;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** Stop accepting connections, finish requests in flight, release the models. */
  dispose(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { tls, host = '127.0.0.1', port = 8080, ...rest } = opts;
  const built = await buildApp({ ...rest, ...(tls ? { https: tls } : {}) });
  let address: string;
  try {
    address = await built.app.listen({ host, port });
  } catch (e) {
    await built.dispose();
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new LsError('LS_ERR_PORT_IN_USE', `${host}:${port} (choose another with --port)`, { subject: String(port) });
    throw e;
  }
  const url = address.replace('://0.0.0.0', '://127.0.0.1').replace('://[::]', '://127.0.0.1');
  return { app: built.app, service: built.service, metrics: built.metrics, url, dispose: () => built.dispose() };
}
