/**
 * One call that builds LineSight's security for the server/start composition:
 * `const sec = await setupSecurity({...}); startServer({ ..., plugins: [sec.plugin], tls: sec.tls })`,
 * the store gets `sec.codec`, the embedded broker gets `sec.mqttAuth` (and `sec.tls`), model loading
 * is checked against signatures by the backend when `requireSignedModels` is set, and every mutating
 * action goes to `sec.audit.append`.
 */
import path from 'node:path';
import { randomBytes, type KeyObject } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import { identityCodec, type FieldCodec } from '../store/codec.ts';
import { keyRoutes, type RotatableStore } from './key-routes.ts';
import { markKeyInUse } from './key-use.ts';
import { AuditLog } from './audit.ts';
import { authPlugin } from './auth-plugin.ts';
import { bootstrapAuth, type BootstrapResult } from './bootstrap.ts';
import { loadDataKeys } from './crypto.ts';
import { FailureLimiter, type FailureLimiterOptions } from './failure-limiter.ts';
import { JwtVerifier, type JwtOptions } from './jwt.ts';
import { MqttAuth } from './mqtt-auth.ts';
import { securityRoutes } from './routes.ts';
import { createModelGuard, loadTrustedKeys, type ModelGuard } from './signing.ts';
import { SignedModelBackend } from './signed-backend.ts';
import { tlsFromFlags, type TlsMaterial } from './tls.ts';
import { TokenStore } from './tokens.ts';

/** Everything security needs from the command line / configuration. */
export interface SecurityOptions {
  /** Folder for tokens.json, audit.log, admin-token, mqtt-users.json (default ./data). */
  dataDir?: string;
  insecureNoAuth?: boolean;
  tokensFile?: string;
  auditFile?: string;
  /** Rotate the audit log at this size (default 64 MiB; 0 = never). */
  auditMaxBytes?: number;
  /** AES-256-GCM data key file; else LINESIGHT_DATA_KEY; else stored blobs stay plain. */
  dataKeyFile?: string;
  mqttUsersFile?: string;
  oidc?: JwtOptions;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  requireSignedModels?: boolean;
  /** Public key PEM files trusted for model signatures. */
  trustedKeys?: string[];
  /** Model repository: enables the upload route. */
  repoDir?: string;
  /** The address the HTTP server binds, for warnings about plain HTTP or no auth on a network address. */
  host?: string;
  /** Registry for security metrics (the server's metrics.registry). */
  registry?: Registry;
  limiter?: FailureLimiterOptions;
  log: Logger;
  clock?: Clock;
  /** Where first-start and insecure-mode notices are printed for the operator (e.g. stdout). */
  print?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** What the composition wires in. */
export interface Security {
  /** Register on the app: auth hooks for every route + /v1/audit, /v1/tokens, model upload. */
  plugin: FastifyPluginAsync;
  audit: AuditLog;
  /** Codec for the store (identity when no data key is configured). */
  codec: FieldCodec;
  /** True when `codec` encrypts. */
  encrypted: boolean;
  tls?: TlsMaterial;
  mqttAuth: MqttAuth;
  /** Credentials the server's own MQTT clients (line runtime, simulator) use on the embedded broker. */
  mqttInternal: { username: string; password: string };
  modelGuard: ModelGuard;
  tokens?: TokenStore;
  bootstrap: BootstrapResult;
  /** With a data key file: `POST /v1/keys/rotate` for the store the line opens with `codec`. */
  keyRotation?: (store: RotatableStore) => FastifyPluginAsync;
  dispose(): Promise<void>;
}

/** Build security from options: files are read and checked now, so a bad file stops the start with one clear error. */
export async function setupSecurity(o: SecurityOptions): Promise<Security> {
  const dataDir = path.resolve(o.dataDir ?? './data');
  const tokens = o.insecureNoAuth ? undefined : await TokenStore.open(o.tokensFile ?? path.join(dataDir, 'tokens.json'), { ...(o.clock ? { clock: o.clock } : {}) });
  const jwt = o.oidc && !o.insecureNoAuth ? await JwtVerifier.create(o.oidc) : undefined;
  const audit = await AuditLog.open(o.auditFile ?? path.join(dataDir, 'audit.log'), { ...(o.clock ? { clock: o.clock } : {}), ...(o.auditMaxBytes !== undefined ? { maxBytes: o.auditMaxBytes } : {}) });
  const ring = await loadDataKeys({ ...(o.dataKeyFile ? { keyFile: o.dataKeyFile } : {}), ...(o.env ? { env: o.env } : {}) });
  // while this process runs, `keys rotate` from the CLI refuses to rotate the key under it
  const keyInUse = ring && o.dataKeyFile ? await markKeyInUse(o.dataKeyFile) : undefined;
  const tls = await tlsFromFlags(o);
  const mqttAuth = await MqttAuth.fromFile(o.mqttUsersFile ?? path.join(dataDir, 'mqtt-users.json'), {
    log: o.log,
    limiter: new FailureLimiter({ ...o.limiter, ...(o.clock ? { clock: o.clock } : {}) }),
  });
  const mqttInternal = { username: `linesight-internal-${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('base64url') };
  await mqttAuth.addUser(mqttInternal.username, mqttInternal.password, { publish: ['#'], subscribe: ['#'] });
  const trusted = await loadTrustedKeys(o.trustedKeys ?? []);
  const modelGuard = createModelGuard({ requireSigned: o.requireSignedModels ?? false, trusted });
  const restoreBackend = o.requireSignedModels ? await requireSignedModelsGlobally(trusted) : undefined;
  const bootstrap = await bootstrapAuth({ ...(tokens ? { tokens } : {}), dataDir, insecureNoAuth: o.insecureNoAuth ?? false, log: o.log, ...(o.print ? { print: o.print } : {}) });
  if (!ring) o.log.warn({ security: 'no_data_key' }, 'no data key (--data-key-file or LINESIGHT_DATA_KEY): images and readings are stored unencrypted');
  for (const w of exposureWarnings(o.host, Boolean(tls), o.insecureNoAuth ?? false)) {
    o.log.warn({ security: 'exposure', host: o.host }, w);
    o.print?.(`WARNING: ${w}`);
  }

  const plugin: FastifyPluginAsync = async (app) => {
    await app.register(authPlugin, {
      ...(tokens ? { tokens } : {}),
      ...(jwt ? { jwt } : {}),
      insecureNoAuth: o.insecureNoAuth ?? false,
      ...(o.limiter ? { limiter: o.limiter } : {}),
      ...(o.registry ? { registry: o.registry } : {}),
      log: o.log,
    });
    await app.register(securityRoutes, { audit, ...(tokens ? { tokens } : {}), ...(o.repoDir ? { repoDir: o.repoDir } : {}) });
  };
  // hooks of the auth plugin must reach the routes of the whole app, not only this child
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;

  return {
    plugin, audit, codec: ring ?? identityCodec, encrypted: Boolean(ring), ...(tls ? { tls } : {}), mqttAuth, mqttInternal, modelGuard,
    ...(tokens ? { tokens } : {}), bootstrap,
    ...(ring && o.dataKeyFile
      ? { keyRotation: (store: RotatableStore): FastifyPluginAsync => async (app) => app.register(keyRoutes, { keyFile: path.resolve(o.dataKeyFile!), ring, store, audit }) }
      : {}),
    dispose: async () => {
      restoreBackend?.();
      await keyInUse?.dispose();
      await audit.dispose();
    },
  };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/** What to tell the operator when the server listens beyond this machine without TLS or without auth. */
export function exposureWarnings(host: string | undefined, tls: boolean, insecureNoAuth: boolean): string[] {
  if (host === undefined || isLoopback(host)) return [];
  const out: string[] = [];
  if (insecureNoAuth) out.push(`listening on ${host} with authentication OFF: anyone on the network can control this line`);
  if (!tls) out.push(`listening on ${host} over plain HTTP: tokens and images cross the network unencrypted (use --tls-cert/--tls-key)`);
  return out;
}

/**
 * Replace the registered onnxruntime backend by one that loads signed models only, so every
 * load (model manager, line runtime, CLI) is checked without each caller knowing about signatures.
 * Returns a function that puts the plain backend back.
 */
export async function requireSignedModelsGlobally(trusted: ReadonlyMap<string, KeyObject>): Promise<() => void> {
  // the built-in backend must be registered before it is wrapped, or its later registration would undo the wrap
  await import('../runtime/index.ts');
  const { getBackend, registerBackend } = await import('../runtime/backend.ts');
  const inner = await getBackend('onnxruntime');
  const signed = new SignedModelBackend(inner, trusted);
  registerBackend('onnxruntime', async () => signed);
  return () => registerBackend('onnxruntime', async () => inner);
}

export { authPlugin } from './auth-plugin.ts';
export { AuditLog, verifyAuditLog } from './audit.ts';
export { AesGcmCodec, KeyRing } from './crypto.ts';
export { MqttAuth } from './mqtt-auth.ts';
export { TokenStore } from './tokens.ts';
export type { Principal, Role } from './roles.ts';
