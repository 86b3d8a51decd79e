/**
 * NATS JetStream ingestion with the real NATS server of this machine (127.0.0.1:4222, JetStream on):
 * readings published to the stream are stored exactly once, a re-sent message id is not stored twice,
 * and what was published while LineSight was stopped arrives after it starts again.
 * Fails in CI when NATS is missing; skipped with a reason otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, headers, type NatsConnection } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { startLine } from '../../src/line/app.ts';
import { topicToSubject } from '../../src/connectors/nats/jetstream-ingest.ts';
import { connectJetStreamPublisher } from '../../src/connectors/nats/jetstream-publisher.ts';
import { FrameSource } from '../../src/line/simulator/camera.ts';
import { Simulator } from '../../src/line/simulator/simulator.ts';
import { writeFixtureRepo, HEALTHY_VALUES } from './line-fixtures.ts';
import { until } from '../helpers/until.ts';

const URL = process.env.LINESIGHT_TEST_NATS ?? 'nats://127.0.0.1:4222';
const nc: NatsConnection | undefined = await connect({ servers: URL, timeout: 2000 }).catch(() => undefined);
if (!nc && process.env.CI) throw new Error(`NATS with JetStream is required in CI but not reachable at ${URL}`);
if (!nc) console.warn(`[nats test] skipped: NATS not reachable at ${URL}`);

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-nats-'));
const repo = writeFixtureRepo(dir);
const stream = `LS_TEST_${process.pid}_${Date.now().toString(36)}`.toUpperCase();
const stream2 = `${stream}_SIM`;
// own subject roots: streams on one server cannot share subjects (other runs may use the default)
const root = `lst${process.pid}a`;
const root2 = `lst${process.pid}b`;
const values = HEALTHY_VALUES;
// what the fixture model calls a failing machine: these raise an alert and publish decisions
const risky = { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 70, tool_wear_min: 230 };

afterAll(async () => {
  if (nc) {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream).catch(() => undefined);
    await jsm.streams.delete(stream2).catch(() => undefined);
    await nc.close();
  }
  rmSync(dir, { recursive: true, force: true });
});


describe.skipIf(!nc)('NATS JetStream ingestion', () => {
  it('stores every reading exactly once, also across a restart', async () => {
    const js = nc!.jetstream();
    const subject = topicToSubject('linesight/line1/m1/sensors', root);
    const publish = async (i: number, v: Record<string, number> = values): Promise<void> => {
      const h = headers();
      h.set('Nats-Msg-Id', `m${i}`);
      await js.publish(subject, JSON.stringify({ ts: Date.now() - 60_000 + i, type: 'L', values: v }), { headers: h });
    };
    const opts = { repoDir: repo, line: path.resolve('config/line.yaml'), db: path.join(dir, 'line.db'), port: 0, mqttPort: 0, simulator: false as const, dashboard: false, clientId: `nats-${process.pid}`, nats: { url: URL, stream, durable: 'test-line', root } };

    // outputs come back as plain NATS messages, outside the stream
    const outputs: string[] = [];
    const sub = nc!.subscribe(`${root}.line1.>`, { callback: (_e, m) => { if (!/\.(sensors|image|truth)$/.test(m.subject)) outputs.push(m.subject); } });
    // the stream is created by LineSight on first start
    let line = await startLine(opts);
    for (let i = 0; i < 300; i++) await publish(i);
    await publish(5); // a re-sent id: JetStream de-duplicates, the store is idempotent anyway
    await until(async () => ((await line.store.counts()).readings >= 300 ? true : undefined), '300 readings');
    await line.dispose();

    // published while LineSight is down: delivered when it is back
    for (let i = 300; i < 496; i++) await publish(i);
    for (let i = 496; i < 500; i++) await publish(i, risky);
    line = await startLine(opts);
    try {
      const c = await until(async () => {
        const n = await line.store.counts();
        return n.readings >= 500 ? n : undefined;
      }, '500 readings after restart');
      expect(c.readings).toBe(500);
      const jsm = await nc!.jetstreamManager();
      const info = await until(async () => {
        const ci = await jsm.consumers.info(stream, 'test-line');
        return ci.num_ack_pending === 0 && ci.num_pending === 0 ? ci : undefined;
      }, 'all acknowledged');
      // only the 500 inputs are in the stream: LineSight's own outputs are not captured and re-read
      expect(info.delivered.stream_seq).toBe(500);
      expect((await jsm.streams.info(stream)).state.messages).toBe(500);
      await until(async () => (outputs.length > 0 ? true : undefined), 'an output on NATS');
      expect(outputs.every((x) => x.startsWith(`${root}.line1.`))).toBe(true);
      sub.unsubscribe();
    } finally {
      await line.dispose();
    }
  });

  it('takes a simulated line (frames, true labels, readings) published through JetStream', async () => {
    const line = await startLine({ repoDir: repo, line: path.resolve('config/line.yaml'), db: path.join(dir, 'sim.db'), port: 0, mqttPort: 0, simulator: false, dashboard: false, clientId: `nats-sim-${process.pid}`, nats: { url: URL, stream: stream2, durable: 'test-sim', root: root2 } });
    const pub = await connectJetStreamPublisher(URL, root2);
    const frames = await FrameSource.fromFolder(path.resolve('samples/neu'), { defectRate: 0.5, okClasses: ['crazing', 'rolled-in_scale'] });
    const sim = new Simulator({
      client: { publish: (t, p, opts) => pub.publish(t, p, opts) }, frames, protocolVersion: 4, seed: 7, partsPerS: 20, readingsPerS: 50, maxParts: 4, maxReadings: 60,
      stations: [{ line: 'line1', station: 'cam1' }], machines: [{ line: 'line1', machine: 'm1' }, { line: 'line1', machine: 'm2' }],
    });
    try {
      sim.start();
      const c = await until(async () => {
        const n = await line.store.counts();
        return n.readings >= 60 && n.parts >= 4 && n.feedback >= 4 ? n : undefined;
      }, 'simulated parts, labels and readings');
      expect(c.readings).toBe(60);
      expect(c.parts).toBe(4);
      expect(c.dead_letters).toBe(0);
      expect(pub.failed).toBe(0);
    } finally {
      await sim.dispose();
      await pub.dispose();
      await line.dispose();
    }
  });
});
