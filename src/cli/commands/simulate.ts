/**
 * `linesight simulate`: publish a simulated line (camera frames with true labels, AI4I machine
 * readings) to an MQTT broker or a NATS JetStream stream, for demos and for testing a LineSight
 * started elsewhere.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { parseWith } from '../../core/validate.ts';
import { connectMqtt } from '../../connectors/mqtt/client.ts';
import { connectJetStreamPublisher } from '../../connectors/nats/jetstream-publisher.ts';
import { loadLineConfig } from '../../line/line-config.ts';
import { defaultImageFolder, FrameSource } from '../../line/simulator/camera.ts';
import { Rng } from '../../line/simulator/rng.ts';
import { Simulator, type SimPublisher } from '../../line/simulator/simulator.ts';
import { mqttClientTlsFromFlags } from '../../security/tls.ts';
import { action } from '../context.ts';

const optsSchema = z.object({
  mqtt: z.string().regex(/^mqtts?:\/\//, 'an mqtt:// or mqtts:// URL'),
  username: z.string().optional(),
  password: z.string().optional(),
  mqttCa: z.string().min(1).optional(),
  mqttCert: z.string().min(1).optional(),
  mqttKey: z.string().min(1).optional(),
  protocol: z.enum(['4', '5']),
  nats: z.string().regex(/^(nats|tls):\/\//, 'a nats:// URL').optional(),
  natsRoot: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -'),
  line: z.string().min(1),
  rate: z.coerce.number().min(0).max(1000),
  sensorRate: z.coerce.number().min(0).max(100_000),
  defectRate: z.coerce.number().min(0).max(1),
  okClasses: z.string(),
  images: z.string().optional(),
  seed: z.coerce.number().int(),
  duration: z.coerce.number().positive().optional(),
  truth: z.boolean(),
});

export function register(program: Command): void {
  program
    .command('simulate')
    .description('publish a simulated production line over MQTT (camera frames, true labels, machine sensors)')
    .option('--mqtt <url>', 'broker URL', 'mqtt://127.0.0.1:1883')
    .option('--username <name>', 'MQTT username')
    .option('--password <secret>', 'MQTT password')
    .option('--mqtt-ca <file>', 'CA certificate (PEM) that signed the broker\'s certificate (with an mqtts:// URL)')
    .option('--mqtt-cert <file>', 'client certificate (PEM) for a broker that requires one')
    .option('--mqtt-key <file>', 'key (PEM) of --mqtt-cert')
    .option('--protocol <4|5>', 'MQTT protocol: 5 sends images with user properties, 4 (3.1.1) uses the JSON envelope', '5')
    .option('--nats <url>', 'publish to NATS JetStream (subjects linesight.<line>.<source>.<kind>) instead of MQTT')
    .option('--nats-root <token>', 'first subject token, as given to linesight start --nats-root', 'linesight')
    .option('--line <file>', 'line configuration naming the stations and machines', 'config/line.yaml')
    .option('--rate <parts/s>', 'parts per second per camera station', '2')
    .option('--sensor-rate <readings/s>', 'readings per second per machine', '5')
    .option('--defect-rate <0..1>', 'share of parts drawn from defect classes', '0.15')
    .option('--ok-classes <list>', 'image classes that count as acceptable parts', 'crazing,rolled-in_scale')
    .option('--images <dir>', 'folder of <class>/<image> frames (default: NEU images, else samples/neu, else synthetic)')
    .option('--seed <n>', 'random seed', '42')
    .option('--duration <s>', 'stop after this many seconds (default: until Ctrl-C)')
    .option('--no-truth', 'do not publish true labels')
    .action(action(async (raw: Record<string, unknown>) => {
      const o = parseWith(optsSchema, raw, 'LS_ERR_VALIDATION', 'simulate options');
      const config = await loadLineConfig(o.line);
      // NATS carries images in the JSON envelope (as MQTT 3.1.1 does): no user properties there
      const protocolVersion = o.nats ? 4 : o.protocol === '5' ? 5 : 4;
      let client: SimPublisher;
      let close: () => Promise<unknown>;
      if (o.nats) {
        const nats = await connectJetStreamPublisher(o.nats, o.natsRoot);
        client = { publish: (t, p, opts) => nats.publish(t, p, opts) };
        close = () => nats.dispose();
      } else {
        const tls = await mqttClientTlsFromFlags(o);
        const mqttClient = await connectMqtt(o.mqtt, { protocolVersion, clientId: `linesight-sim-${process.pid}`, ...(o.username ? { username: o.username, password: o.password ?? '' } : {}), ...(tls ?? {}) });
        client = mqttClient;
        close = () => mqttClient.endAsync();
      }
      const folder = o.images ?? defaultImageFolder();
      const frames = folder
        ? await FrameSource.fromFolder(folder, { defectRate: o.defectRate, okClasses: o.okClasses.split(',').map((s) => s.trim()) })
        : await FrameSource.synthetic(new Rng(o.seed));
      const sim = new Simulator({
        client, frames, seed: o.seed, partsPerS: o.rate, readingsPerS: o.sensorRate, publishTruth: o.truth, protocolVersion,
        stations: config.lines.flatMap((l) => l.stations.map((s) => ({ line: l.id, station: s.id }))),
        machines: config.lines.flatMap((l) => l.machines.map((m) => ({ line: l.id, machine: m.id }))),
      });
      process.stdout.write(`simulating ${config.lines.length} line(s) on ${o.nats ?? o.mqtt}: ${o.rate} parts/s per station (${frames.size} frames, ${folder ?? 'synthetic'}), ${o.sensorRate} readings/s per machine\n`);
      sim.start();
      const stop = async (): Promise<void> => {
        await sim.dispose();
        await close();
        process.stdout.write(`sent ${sim.sent.parts} parts and ${sim.sent.readings} readings\n`);
      };
      await new Promise<void>((resolve) => {
        if (o.duration) setTimeout(resolve, o.duration * 1000);
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await stop();
    }));
}
