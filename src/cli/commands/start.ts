/**
 * `linesight start` (= `npm start`): the whole line monitor on one machine — embedded MQTT broker,
 * SQLite in the data folder, the HTTP server with the line API, dashboard and auth, the line runtime
 * with config/line.yaml, and the simulator. Prints the dashboard URL and a live status line;
 * Ctrl-C flushes and closes everything.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { createLogger } from '../../core/log.ts';
import { parseWith } from '../../core/validate.ts';
import { startLine, type LineSecurity } from '../../line/app.ts';
import { Metrics } from '../../monitoring/metrics.ts';
import { addSecurityOptions, securityOptionsFromFlags } from '../../security/cli-options.ts';
import { setupSecurity } from '../../security/index.ts';
import { mqttClientTlsFromFlags } from '../../security/tls.ts';
import { action, DEFAULT_REPO } from '../context.ts';

const optsSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  mqttPort: z.coerce.number().int().min(0).max(65535),
  mqtt: z.string().regex(/^mqtts?:\/\//, 'an mqtt:// or mqtts:// URL').optional(),
  mqttUsername: z.string().optional(),
  mqttPassword: z.string().optional(),
  mqttCa: z.string().min(1).optional(),
  mqttCert: z.string().min(1).optional(),
  mqttKey: z.string().min(1).optional(),
  nats: z.string().regex(/^(nats|tls):\/\//, 'a nats:// URL').optional(),
  natsStream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -'),
  natsRoot: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -'),
  host: z.string().min(1),
  db: z.string().min(1).optional(),
  data: z.string().min(1),
  line: z.string().min(1),
  repo: z.string().min(1),
  simulator: z.boolean(),
  rate: z.coerce.number().min(0).max(1000),
  sensorRate: z.coerce.number().min(0).max(100_000),
  defectRate: z.coerce.number().min(0).max(1),
  images: z.string().optional(),
  seed: z.coerce.number().int(),
  sync: z.enum(['full', 'normal']),
  clientId: z.string().min(1).max(128),
  status: z.boolean(),
});

/** One status line: what the line is doing right now. */
export function statusLine(s: { stations: ReadonlyArray<{ parts_per_s: number; defect_rate: number; total: number }>; readings: number; readingsPerS: number; openAlerts: number; accuracy?: number | undefined }): string {
  const parts = s.stations.reduce((a, x) => a + x.parts_per_s, 0);
  const total = s.stations.reduce((a, x) => a + x.total, 0);
  const defects = s.stations.reduce((a, x) => a + x.defect_rate * x.total, 0);
  return [
    `parts ${parts.toFixed(1)}/s (${total} total)`,
    `defect rate ${total ? ((defects / total) * 100).toFixed(1) : '0.0'}%`,
    `readings ${s.readingsPerS.toFixed(0)}/s (${s.readings} total)`,
    `open alerts ${s.openAlerts}`,
    `accuracy ${s.accuracy === undefined ? '-' : `${(s.accuracy * 100).toFixed(1)}%`}`,
  ].join(' | ');
}

/** Security from the command's flags: tokens and roles, audit, data key, TLS, MQTT users, signed models. */
async function loadSecurity(raw: Record<string, unknown>, o: z.infer<typeof optsSchema>, log: ReturnType<typeof createLogger>, repo: string, metrics: Metrics): Promise<LineSecurity & { dispose(): Promise<void>; encrypted?: boolean; signInHint?: string }> {
  const sec = await setupSecurity({
    ...(await securityOptionsFromFlags(raw)),
    dataDir: o.data, log, repoDir: repo, host: o.host, registry: metrics.registry,
    print: (l) => process.stdout.write(`${l}\n`),
  });
  const tokenFile = path.join(o.data, 'admin-token');
  const signInHint = sec.tokens ? `sign in with a token, e.g. the admin token in ${tokenFile}: open the dashboard URL with ?token=<token>` : undefined;
  return { ...(signInHint ? { signInHint } : {}), plugin: sec.plugin, codec: sec.codec, audit: { append: async (e) => void (await sec.audit.append(e)) }, mqttAuth: sec.mqttAuth, mqttInternal: sec.mqttInternal, ...(sec.tls ? { tls: sec.tls } : {}), encrypted: sec.encrypted, ...(sec.keyRotation ? { keyRotation: sec.keyRotation } : {}), dispose: () => sec.dispose() };
}

export function register(program: Command): void {
  const cmd = program
    .command('start')
    .description('start the line monitor: MQTT broker, store, HTTP server + dashboard, line runtime and simulator')
    .option('--port <n>', 'HTTP port', '8080')
    .option('--host <addr>', 'HTTP listen address', '127.0.0.1')
    .option('--mqtt-port <n>', 'port of the embedded MQTT broker', '1883')
    .option('--mqtt <url>', 'use this MQTT broker (mqtt://host:1883) instead of the embedded one')
    .option('--mqtt-username <name>', 'username on the external broker')
    .option('--mqtt-password <secret>', 'password on the external broker')
    .option('--mqtt-ca <file>', 'CA certificate (PEM) that signed the external broker\'s certificate (with an mqtts:// URL)')
    .option('--mqtt-cert <file>', 'client certificate (PEM) for an external broker that requires one')
    .option('--mqtt-key <file>', 'key (PEM) of --mqtt-cert')
    .option('--nats <url>', 'also ingest from this NATS JetStream server (subjects linesight.<line>.<source>.<kind>)')
    .option('--nats-stream <name>', 'JetStream stream name (created when missing)', 'LINESIGHT')
    .option('--nats-root <token>', 'first subject token (streams on one NATS server need distinct roots)', 'linesight')
    .option('--db <path|url>', 'SQLite file (default <data>/linesight.db) or postgres://user@host/db')
    .option('--data <dir>', 'data folder', './data')
    .option('--line <file>', 'line configuration', 'config/line.yaml')
    .option('--repo <dir>', 'model repository', DEFAULT_REPO)
    .option('--no-simulator', 'do not start the line simulator')
    .option('--rate <parts/s>', 'simulated parts per second per camera station', '2')
    .option('--sensor-rate <readings/s>', 'simulated readings per second per machine', '5')
    .option('--defect-rate <0..1>', 'share of simulated parts drawn from defect classes', '0.15')
    .option('--images <dir>', 'folder of <class>/<image> frames for the simulator (default NEU images)')
    .option('--seed <n>', 'simulator seed', '42')
    .option('--sync <full|normal>', 'SQLite durability: full survives power loss, normal survives a crash', 'full')
    .option('--no-status', 'do not print the live status line')
    .option('--client-id <id>', 'MQTT client id of the line runtime (its persistent session keeps unacknowledged messages across restarts)', 'linesight-line');
  addSecurityOptions(cmd);
  cmd.action(action(async (raw: Record<string, unknown>) => {
      const o = parseWith(optsSchema, raw, 'LS_ERR_VALIDATION', 'start options');
      const log = createLogger({ level: process.env.LINESIGHT_LOG_LEVEL ?? 'warn' });
      const repo = path.resolve(o.repo);
      const metrics = new Metrics();
      const mqttTls = await mqttClientTlsFromFlags(o);
      const security = await loadSecurity(raw, o, log, repo, metrics);
      const line = await startLine({
        metrics,
        repoDir: repo,
        line: o.line,
        db: o.db ?? path.join(o.data, 'linesight.db'),
        host: o.host,
        port: o.port,
        mqttPort: o.mqttPort,
        // The standard port is often held by a plant's own broker (Mosquitto): the demo moves aside,
        // but a port the user chose with --mqtt-port must be free.
        ...(cmd.getOptionValueSource('mqttPort') === 'default' ? { mqttPortFallback: 10 } : {}),
        ...(o.mqtt ? { mqttUrl: o.mqtt } : {}),
        ...(o.mqttUsername ? { mqttUsername: o.mqttUsername, mqttPassword: o.mqttPassword ?? '' } : {}),
        ...(mqttTls ? { mqttTls } : {}),
        simulator: o.simulator ? { partsPerS: o.rate, readingsPerS: o.sensorRate, seed: o.seed, defectRate: o.defectRate, ...(o.images ? { imageFolder: o.images } : {}) } : false,
        ...(security ? { security } : {}),
        logger: log,
        storeSynchronous: o.sync === 'full' ? 'FULL' : 'NORMAL',
        clientId: o.clientId,
        ...(o.nats ? { nats: { url: o.nats, stream: o.natsStream, durable: o.clientId, root: o.natsRoot } } : {}),
      }).catch(async (e: unknown) => {
        await security?.dispose();
        throw e;
      });
      const brokerPort = line.mqttUrl && !o.mqtt ? Number(new URL(line.mqttUrl).port) : undefined;
      if (brokerPort !== undefined && brokerPort !== o.mqttPort && cmd.getOptionValueSource('mqttPort') === 'default') {
        process.stdout.write(`note: MQTT port ${o.mqttPort} is taken (another broker?); the embedded broker listens on ${brokerPort}. Choose with --mqtt-port, or use that broker with --mqtt mqtt://127.0.0.1:${o.mqttPort}\n`);
      }
      const signIn = security?.signInHint ? `             ${security.signInHint}\n` : '';
      process.stdout.write(`LineSight is running.\n  dashboard: ${line.url}/\n${signIn}  MQTT:      ${line.mqttUrl}${o.mqtt ? '' : ' (embedded broker)'}\n${o.nats ? `  NATS:      ${o.nats} (JetStream stream ${o.natsStream})\n` : ''}  store:     ${line.store.kind}${o.simulator ? '\n  simulator: on (--no-simulator to switch off)' : ''}\nPress Ctrl-C to stop.\n`);
      let lastReadings = 0;
      let lastAt = Date.now();
      const tty = process.stdout.isTTY;
      const timer = setInterval(() => {
        void (async () => {
          const now = Date.now();
          const rt = line.runtime;
          const open = (await rt.store.listAlerts({ state: 'open', limit: 10_000 }).catch(() => [])).length;
          const ev = rt.statsEvent();
          const acc = ev.accuracy.reduce((a, x) => ({ l: a.l + x.labelled, c: a.c + x.correct }), { l: 0, c: 0 });
          const s = statusLine({ stations: ev.stations, readings: rt.stats.readingsTotal, readingsPerS: ((rt.stats.readingsTotal - lastReadings) * 1000) / Math.max(1, now - lastAt), openAlerts: open, accuracy: acc.l ? acc.c / acc.l : undefined });
          lastReadings = rt.stats.readingsTotal;
          lastAt = now;
          if (o.status) process.stdout.write(tty ? `\r\x1b[2K${s}` : `${s}\n`);
        })();
      }, tty ? 1000 : 10_000);
      let stopping = false;
      const stop = async (signal: string): Promise<void> => {
        if (stopping) return;
        stopping = true;
        clearInterval(timer);
        process.stdout.write(`${tty ? '\n' : ''}${signal}: flushing and stopping...\n`);
        try {
          await line.dispose();
          await security?.dispose();
          process.stdout.write('stopped cleanly.\n');
        } catch (e) {
          process.stderr.write(`error while stopping: ${(e as Error).message}\n`);
          process.exitCode = 1;
        }
        process.exit();
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    }));
}
