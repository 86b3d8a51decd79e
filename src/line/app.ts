/**
 * `startLine(opts)`: the whole line monitor in one call, shared by `linesight start` and the tests:
 * store (SQLite file or PostgreSQL), MQTT (embedded aedes broker or an external one), the inference
 * service (the serving layer's batched ModelManager), the HTTP server with the line API, dashboard and
 * auth, the line runtime subscribed with durable QoS 1, and optionally the simulator.
 */
import type { MqttClientTls } from '../security/tls.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import type { MqttClient } from 'mqtt';
import { systemClock, type Clock } from '../core/clock.ts';
import { disposeAll, type Disposable } from '../core/dispose.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import { startBroker, type BrokerAuth, type EmbeddedBroker } from '../connectors/mqtt/broker.ts';
import { connectMqtt, installDurableAcks, subscribeDurable, type AckingSubscriber, type DurableAcks } from '../connectors/mqtt/client.ts';
import { INPUT_SUBSCRIPTIONS } from '../connectors/topics.ts';
import { startJetStreamIngest, type JetStreamIngest } from '../connectors/nats/jetstream-ingest.ts';
import { Metrics } from '../monitoring/metrics.ts';
import { ModelRepository } from '../repository/repository.ts';
import { getBackend } from '../runtime/index.ts';
import { ModelManager } from '../serving/model-manager.ts';
import type { InferenceService } from '../serving/inference-service.ts';
import { startServer, type RunningServer } from '../serving/server.ts';
import type { FieldCodec } from '../store/codec.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import type { AuditSink } from './alerts.ts';
import { EventBus } from './events.ts';
import { isLsError } from '../core/errors.ts';
import { linePlugins } from './http/index.ts';
import { loadLineConfig, type LineConfig } from './line-config.ts';
import { LineMetrics } from './metrics.ts';
import { LineRuntime } from './runtime.ts';
import { defaultImageFolder, FrameSource } from './simulator/camera.ts';
import { Rng } from './simulator/rng.ts';
import { Simulator } from './simulator/simulator.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** What the security layer contributes (see src/security/index.ts `setupSecurity`). */
export interface LineSecurity {
  readonly plugin?: FastifyPluginAsync;
  readonly codec?: FieldCodec;
  readonly audit?: AuditSink;
  readonly mqttAuth?: BrokerAuth;
  readonly mqttInternal?: { username: string; password: string };
  readonly tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
  /** Online data-key rotation for the store the line opens (`POST /v1/keys/rotate`). */
  readonly keyRotation?: (store: Store) => FastifyPluginAsync;
}

export interface StartLineOptions {
  readonly repoDir: string;
  /** When the embedded broker's port is taken, try this many following ports (0 = fail at once). */
  readonly mqttPortFallback?: number;
  /** Metrics registry shared with other layers (e.g. security counters); default a new one. */
  readonly metrics?: Metrics;
  /** line.yaml path or an already validated config. */
  readonly line: string | LineConfig;
  /** SQLite file path or postgres:// URL. */
  readonly db: string;
  readonly host?: string;
  /** HTTP port (0 = any free port). */
  readonly port?: number;
  /** Embedded broker port (0 = any free port); ignored with `mqttUrl`. */
  readonly mqttPort?: number;
  /** Run the embedded broker on its own thread (default true) so it does not compete with ingestion. */
  readonly brokerThread?: boolean;
  /** The embedded broker's session store (BrokerOptions.persistence); only the benchmark changes it. */
  readonly brokerPersistence?: 'indexed' | 'library';
  /** Use this external broker instead of the embedded one. */
  readonly mqttUrl?: string;
  readonly mqttUsername?: string;
  readonly mqttPassword?: string;
  /** CA and client certificate for an external broker over TLS (`mqtts://`); see mqttClientTlsFromFlags. */
  readonly mqttTls?: MqttClientTls;
  /** MQTT protocol of LineSight's own clients: 5 for external brokers (default), 4 (3.1.1) on the embedded aedes broker, which has no MQTT 5. */
  readonly mqttProtocol?: 4 | 5;
  /** Fixed MQTT client id of the line runtime: its persistent session survives restarts. */
  readonly clientId?: string;
  readonly simulator?: false | { partsPerS: number; readingsPerS: number; seed?: number; imageFolder?: string; defectRate?: number; okClasses?: string[] };
  readonly security?: LineSecurity;
  /** Serve the dashboard (src/serving/routes/dashboard.ts) at `/` when it exists (default true). */
  readonly dashboard?: boolean;
  readonly service?: InferenceService;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly storeSynchronous?: 'FULL' | 'NORMAL';
  /** SQLite commits on a writer thread (default) or inline. */
  readonly storeWriter?: 'inline' | 'worker';
  readonly onSensorCommitted?: (items: ReadonlyArray<{ msg_id: string; latency_ms: number }>) => void;
  /** Also ingest from a NATS JetStream stream (subjects `linesight.<line>.<source>.<kind>`), beside MQTT. */
  readonly nats?: { readonly url: string; readonly stream?: string; readonly durable?: string; readonly root?: string };
}

export interface RunningLine extends Disposable {
  readonly url: string;
  readonly mqttUrl: string;
  readonly runtime: LineRuntime;
  readonly store: Store;
  readonly server: RunningServer;
  readonly service: InferenceService;
  readonly simulator?: Simulator | undefined;
  readonly subscriber: AckingSubscriber;
}

async function dashboardPlugin(): Promise<FastifyPluginAsync | undefined> {
  const file = path.resolve(HERE, '../serving/routes/dashboard.ts');
  if (!existsSync(file)) return undefined;
  const mod = (await import(file)) as { dashboardRoutes?: FastifyPluginAsync; default?: FastifyPluginAsync };
  return mod.dashboardRoutes ?? mod.default;
}

export async function startLine(o: StartLineOptions): Promise<RunningLine> {
  const log = o.logger ?? silentLogger();
  const clock = o.clock ?? systemClock;
  const resources: Array<Disposable | undefined> = [];
  try {
    const config = typeof o.line === 'string' ? await loadLineConfig(o.line) : o.line;
    // SQLite commits on its own thread: an fsync must not stall MQTT, the models and HTTP
    const store = await openStore(o.db, { writer: o.storeWriter ?? 'worker', ...(o.security?.codec ? { codec: o.security.codec } : {}), ...(o.storeSynchronous ? { synchronous: o.storeSynchronous } : {}) });
    resources.push(store);
    let broker: EmbeddedBroker | undefined;
    let mqttUrl = o.mqttUrl;
    if (!mqttUrl) {
      // with --tls-ca the broker asks devices for a certificate signed by it (users with allow_cert log
      // in by its CN) but does not insist: devices with a password, and the line's own clients, still connect
      const t = o.security?.tls;
      const brokerTls = t ? { cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca, requestCert: true, rejectUnauthorized: false } : {}) } : undefined;
      const firstPort = o.mqttPort ?? 1883;
      for (let k = 0; ; k++) {
        try {
          broker = await startBroker({ port: firstPort + k, portOption: '--mqtt-port', thread: o.brokerThread ?? true, ...(o.brokerPersistence ? { persistence: o.brokerPersistence } : {}), ...(o.security?.mqttAuth ? { auth: o.security.mqttAuth } : {}), ...(brokerTls ? { tls: brokerTls } : {}) });
          break;
        } catch (e) {
          // Only a defaulted port may move (the demo next to another broker); a chosen port is an error.
          if (!(isLsError(e) && e.code === 'LS_ERR_PORT_IN_USE') || firstPort === 0 || k >= (o.mqttPortFallback ?? 0)) throw e;
        }
      }
      resources.push(broker);
      mqttUrl = broker.url;
    }
    const creds = o.mqttUsername ? { username: o.mqttUsername, password: o.mqttPassword ?? '' } : o.security?.mqttInternal && broker ? o.security.mqttInternal : undefined;
    // Our own clients reach the embedded TLS broker over loopback, on the port we just bound ourselves;
    // the broker's certificate is issued for the plant's host name, so it is not checked against 127.0.0.1.
    // An external broker's certificate is checked, against the plant's CA when one is given.
    const clientTls = broker && o.security?.tls ? { rejectUnauthorized: false } : !broker && o.mqttTls ? o.mqttTls : {};
    const protocolVersion = o.mqttProtocol ?? (broker ? 4 : 5);
    const metrics = o.metrics ?? new Metrics();
    let service = o.service;
    if (!service) {
      service = await ModelManager.create({ repo: await ModelRepository.open(o.repoDir), backend: await getBackend(), metrics, logger: log, clock, pollIntervalMs: 5000, inferenceThreads: true });
      resources.push(service);
    }
    const bus = new EventBus();
    let runtime: LineRuntime | undefined;
    let acks: DurableAcks | undefined;
    // A resumed session delivers its backlog right after CONNACK, before the runtime exists: those
    // messages wait here (their PUBACKs held) until the runtime has started, then are handled in order.
    let runtimeStarted!: (rt: LineRuntime) => void;
    const runtimeReady = new Promise<LineRuntime>((resolve) => (runtimeStarted = resolve));
    // the runtime's client: persistent session (clean: false + session expiry) so a crash loses nothing;
    // acknowledgement handling is installed before CONNECT because a resumed session delivers at once
    const client: MqttClient = await connectMqtt(
      mqttUrl,
      {
        clientId: o.clientId ?? 'linesight-line',
        clean: false,
        protocolVersion,
        ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600, receiveMaximum: 65535 } } : {}),
        ...(creds ?? {}),
        ...clientTls,
      },
      10_000,
      (c) => {
        acks = installDurableAcks(c, (topic, payload, packet) => runtimeReady.then((rt) => rt.handleMessage(topic, payload, packet.properties)), {
          onHandlerError: (e) => log.error({ err: (e as Error).message }, 'message not stored; it will be redelivered'),
        });
      },
    );
    resources.push({ dispose: () => client.endAsync(true).then(() => undefined) });
    let natsOut: JetStreamIngest | undefined;
    runtime = new LineRuntime({
      config, service, store, bus, clock, log,
      metrics: new LineMetrics(metrics.registry),
      // outputs go to MQTT and, when NATS ingestion is on, to NATS as well (set once it is connected)
      publisher: { publish: (t, p, opts) => { void client.publish(t, p, opts); natsOut?.publish(t, p); } },
      ...(o.security?.audit ? { audit: o.security.audit } : {}),
      ...(o.onSensorCommitted ? { onSensorCommitted: o.onSensorCommitted } : {}),
    });
    const plugins: FastifyPluginAsync[] = [];
    if (o.security?.plugin) plugins.push(o.security.plugin);
    if (o.security?.keyRotation) plugins.push(o.security.keyRotation(store));
    plugins.push(...linePlugins(runtime, { clock }));
    if (o.dashboard ?? true) {
      const d = await dashboardPlugin();
      if (d) plugins.push(d);
    }
    const server = await startServer({
      repoDir: o.repoDir, service, metrics, bus, logger: log, plugins, clock,
      host: o.host ?? '127.0.0.1', port: o.port ?? 8080,
      ...(o.security?.tls ? { tls: o.security.tls } : {}),
      ...(o.security?.audit ? { audit: o.security.audit } : {}),
    });
    resources.push(server);
    await runtime.start();
    resources.push(runtime);
    runtimeStarted(runtime);
    const subscriber = await subscribeDurable(client, acks!, INPUT_SUBSCRIPTIONS);
    resources.push(subscriber);
    const pending = setInterval(() => runtime.metrics.pendingAcks.set(subscriber.pendingAcks), 1000);
    pending.unref();
    resources.push({ dispose: async () => clearInterval(pending) });
    if (o.nats) {
      const rt = runtime;
      natsOut = await startJetStreamIngest({ ...o.nats, log, handler: (topic, payload, props) => rt.handleMessage(topic, payload, props) });
      resources.push(natsOut);
    }

    let simulator: Simulator | undefined;
    if (o.simulator) {
      const s = o.simulator;
      const simClient = await connectMqtt(mqttUrl, { clientId: `linesight-sim-${process.pid}`, protocolVersion, ...(creds ?? {}), ...clientTls });
      resources.push({ dispose: () => simClient.endAsync() });
      const folder = s.imageFolder ?? defaultImageFolder();
      const frames = folder
        ? await FrameSource.fromFolder(folder, { defectRate: s.defectRate ?? 0.1, okClasses: s.okClasses ?? ['crazing', 'rolled-in_scale'] })
        : await FrameSource.synthetic(new Rng(s.seed ?? 42));
      simulator = new Simulator({
        client: simClient, frames, clock, protocolVersion, seed: s.seed ?? 42, partsPerS: s.partsPerS, readingsPerS: s.readingsPerS,
        stations: config.lines.flatMap((l) => l.stations.map((st) => ({ line: l.id, station: st.id }))),
        machines: config.lines.flatMap((l) => l.machines.map((m) => ({ line: l.id, machine: m.id }))),
      });
      simulator.start();
      resources.push(simulator);
    }
    let disposed = false;
    return {
      url: server.url, mqttUrl, runtime, store, server, service, simulator, subscriber,
      async dispose() {
        if (disposed) return;
        disposed = true;
        // reverse order: simulator, its client, ack timer, subscriber (sends the last acks), runtime (flushes), server, service, broker, store
        await disposeAll(resources);
      },
    };
  } catch (e) {
    await disposeAll(resources).catch(() => undefined);
    throw e;
  }
}
