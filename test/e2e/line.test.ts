/**
 * The line end to end on the embedded broker: readings and images over MQTT -> models -> store ->
 * decisions, alerts with contributions, QA truth -> live accuracy, dead letters for every kind of
 * bad input while the stream goes on, and the Line HTTP API over a real socket (SSE included).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { connectMqtt } from '../../src/connectors/mqtt/client.ts';
import { startLine, type RunningLine } from '../../src/line/app.ts';
import { parseLineConfig } from '../../src/line/line-config.ts';
import { writeFixtureRepo } from './line-fixtures.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-line-'));
let line: RunningLine;
const audited: Array<{ actor: string; action: string; target: string; details?: unknown }> = [];
let pub: MqttClient;

const config = parseLineConfig({
  sensor_batch: { max_size: 64, max_delay_ms: 2 },
  machine_defaults: {
    model: 'machine-failure',
    features: {
      'Air temperature [K]': { value: 'air_temperature_k', reference: 300 },
      'Process temperature [K]': { value: 'process_temperature_k', reference: 310 },
      'Rotational speed [rpm]': { value: 'rotational_speed_rpm', reference: 1539 },
      'Torque [Nm]': { value: 'torque_nm', window: { agg: 'mean', readings: 2 }, reference: 40 },
      'Tool wear [min]': { value: 'tool_wear_min', reference: 108 },
    },
    rule: { type: 'hysteresis', above: 0.5, clear_below: 0.3, k: 2 },
    top_contributions: 2,
  },
  lines: [{
    id: 'line1',
    stations: [{ id: 'cam1', model: 'steel-surface', alerts: [{ rule: { type: 'consecutive', decision: 'REJECT', k: 2 } }] }],
    machines: [{ id: 'm1' }, { id: 'm2' }],
  }],
});

const normal = { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 40, tool_wear_min: 50 };
const risky = { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 70, tool_wear_min: 230 };

function publish(topic: string, payload: string | Buffer, props?: Record<string, string>): Promise<void> {
  if (props) payload = JSON.stringify({ ...props, image_b64: Buffer.from(payload).toString('base64') });
  return new Promise((resolve, reject) =>
    pub.publish(topic, payload, { qos: 1 }, (e) => (e ? reject(e) : resolve())),
  );
}

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const img = (cls: string, f: string) => readFileSync(path.join('samples/neu', cls, f));

beforeAll(async () => {
  const repo = writeFixtureRepo(dir);
  line = await startLine({
    repoDir: repo, line: config, db: path.join(dir, 'line.db'), port: 0, mqttPort: 0, simulator: false, dashboard: false, clientId: 'line-e2e',
    // what the line hands to the audit log (the log itself is tested in test/security/audit.test.ts)
    security: { audit: { append: async (e) => void audited.push(e) } },
  });
  pub = await connectMqtt(line.mqttUrl, { protocolVersion: 4, clientId: 'e2e-pub' });
});

afterAll(async () => {
  await pub?.endAsync();
  await line?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('line end to end', () => {
  it('stores readings with predictions, alerts with contributions, and decisions', async () => {
    const decisions: string[] = [];
    const alerts: string[] = [];
    const sub = await connectMqtt(line.mqttUrl, { protocolVersion: 4, clientId: 'e2e-sub' });
    await sub.subscribeAsync(['linesight/line1/+/decision', 'linesight/line1/alerts'], { qos: 1 });
    sub.on('message', (t, p) => (t.endsWith('alerts') ? alerts : decisions).push(p.toString()));
    let ts = Date.now() - 60_000;
    for (let i = 0; i < 10; i++) await publish('linesight/line1/m1/sensors', JSON.stringify({ ts: ts++, msg_id: `n${i}`, type: 'L', values: normal }));
    for (let i = 0; i < 4; i++) await publish('linesight/line1/m1/sensors', JSON.stringify({ ts: ts++, msg_id: `r${i}`, type: 'L', values: risky }));
    // a redelivered reading (same msg_id) is stored once
    await publish('linesight/line1/m1/sensors', JSON.stringify({ ts: ts++, msg_id: 'r0', type: 'L', values: risky }));
    const c = await until(async () => ((await line.store.counts()).readings >= 14 ? line.store.counts() : undefined), '14 readings');
    expect(c.readings).toBe(14);
    const [alert] = await until(async () => {
      const a = await line.store.listAlerts({ state: 'open' });
      return a.length ? a : undefined;
    }, 'an alert');
    expect(alert!.source).toBe('m1');
    expect(alert!.severity).toBe('critical');
    expect(alert!.probability).toBeGreaterThan(0.5);
    // torque and tool wear are what the fixture model weighs most
    expect(alert!.contributions?.map((x) => x.feature).sort()).toEqual(['Tool wear [min]', 'Torque [Nm]']);
    expect(alert!.contributions![0]!.contribution).toBeGreaterThan(0);
    const h = await line.store.machineHistory('m1', 0);
    expect(h).toHaveLength(14);
    expect(h[0]!.probability).toBeLessThan(0.5);
    expect(h[13]!.probability).toBeGreaterThan(0.5);
    await until(async () => decisions.length > 0 && alerts.length > 0, 'MQTT decision and alert');
    expect(JSON.parse(decisions[0]!)).toMatchObject({ line: 'line1', source: 'm1', decision: 'ALERT' });
    expect(JSON.parse(alerts[0]!)).toMatchObject({ type: 'alert', source: 'm1' });
    await sub.endAsync();
  });

  it('takes the outcomes machines report on .../truth and measures the machine model live against them', async () => {
    // n0-n9 were normal readings, r0-r3 risky ones (test above); say n9 and r0-r2 ended in failures
    const failed = new Set(['n9', 'r0', 'r1', 'r2']);
    const ids = [...Array.from({ length: 10 }, (_, i) => `n${i}`), ...Array.from({ length: 4 }, (_, i) => `r${i}`)];
    for (const id of ids) await publish('linesight/line1/m1/truth', JSON.stringify({ reading_msg_id: id, failure: failed.has(id) ? 1 : false, ...(failed.has(id) ? { modes: ['OSF'] } : {}), by: 'plc-m1' }));
    // a report for a reading that never arrived is kept but not scored (a malformed one: the dead-letter test)
    await publish('linesight/line1/m1/truth', JSON.stringify({ reading_msg_id: 'never-sent', failure: true }));
    type Live = { model: string; version: number; labelled: number; failures: number; threshold: number; roc_auc: number | null; tp: number; fp: number; tn: number; fn: number };
    const live = await until(async () => {
      const r = (await (await fetch(`${line.url}/v1/accuracy`)).json()) as { machines: Live[] };
      return r.machines[0]?.labelled === 14 ? r.machines : undefined;
    }, 'live machine metrics over 14 readings');
    expect(live).toHaveLength(1);
    // the same counts, taken directly from the stored probabilities at the model's threshold (0.5)
    const h = await line.store.machineHistory('m1', 0);
    const byId = new Map(ids.map((id, i) => [id, h[i]!.probability!]));
    const count = (pred: boolean, fail: boolean) => ids.filter((id) => (byId.get(id)! >= 0.5) === pred && failed.has(id) === fail).length;
    expect(live[0]).toMatchObject({ model: 'machine-failure', version: 1, labelled: 14, failures: 4, threshold: 0.5, tp: count(true, true), fp: count(true, false), tn: count(false, false), fn: count(false, true) });
    expect(live[0]!.tp).toBeGreaterThan(0);
    expect(live[0]!.roc_auc).toBeGreaterThan(0.5);
  });

  it('inspects images (JSON envelope on the 3.1.1 embedded broker), stores them, and takes QA truth', async () => {
    await publish('linesight/line1/cam1/image', img('scratches', 'scratches_1.jpg'), { part_id: 'P1', msg_id: 'img-P1' });
    await publish('linesight/line1/cam1/truth', JSON.stringify({ part_id: 'P1', true_label: 'scratches' }));
    await publish('linesight/line1/cam1/image', JSON.stringify({ part_id: 'P2', image_b64: img('crazing', 'crazing_14.jpg').toString('base64') }));
    const p1 = await until(async () => (await line.store.getPart('P1'))?.feedback ? line.store.getPart('P1') : undefined, 'P1 with feedback');
    expect(p1!.has_image).toBe(true);
    expect(p1!.feedback?.true_label).toBe('scratches');
    expect(Object.keys(p1!.outputs)).toHaveLength(6);
    const p2 = await until(() => line.store.getPart('P2'), 'P2');
    expect(p2.station).toBe('cam1');
    const res = await fetch(`${line.url}/v1/parts/P1/image`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await res.arrayBuffer()).equals(img('scratches', 'scratches_1.jpg'))).toBe(true);
    const acc = (await (await fetch(`${line.url}/v1/accuracy`)).json()) as { models: Array<{ model: string; labelled: number }> };
    expect(acc.models[0]).toMatchObject({ model: 'steel-surface', labelled: 1 });
  });

  it('dead-letters every kind of bad input with its reason and keeps going', async () => {
    const before = (await line.store.counts()).readings;
    await publish('linesight/line1/m1/sensors', '{not json');
    await publish('linesight/line1/m1/sensors', JSON.stringify({ ts: 1 }));
    await publish('linesight/line1/m1/sensors', JSON.stringify({ values: { ...normal, torque_nm: 'NaN' } }));
    await publish('linesight/line1/m9/sensors', JSON.stringify({ values: normal }));
    await publish('linesight/line1/m1/sensors', JSON.stringify({ values: { torque_nm: 1 } }));
    await publish('linesight/line1/m1/sensors', 'x'.repeat(70_000));
    await publish('linesight/line1/cam1/image', Buffer.from('not an image at all'), { part_id: 'BAD1' });
    await publish('linesight/line1/cam1/image', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(100)]), { part_id: 'BAD2' });
    await publish('linesight/line1/cam1/truth', JSON.stringify({ part_id: 'nope', true_label: 'x' }));
    await publish('linesight/line1/m1/truth', JSON.stringify({ reading_msg_id: 'n1', failure: 'yes' }));
    await publish('linesight/line1/m2/sensors', JSON.stringify({ msg_id: 'after-bad', values: normal }));
    const dl = await until(async () => {
      const d = await line.store.deadLetters(50);
      return d.length >= 10 ? d : undefined;
    }, '10 dead letters');
    const kinds = dl.map((d) => d.kind).sort();
    expect(kinds).toEqual(['corrupt_image', 'corrupt_image', 'invalid_payload', 'invalid_payload', 'invalid_payload', 'malformed_json', 'missing_values', 'oversized', 'unknown_part', 'unknown_source']);
    expect(dl.find((d) => d.topic === 'linesight/line1/m1/truth')!.reason).toMatch(/failure/);
    expect(dl.find((d) => d.kind === 'unknown_source')!.reason).toMatch(/m9/);
    // the stream went on
    await until(async () => (await line.store.counts()).readings === before + 1, 'the good reading after the bad ones');
    const metrics = await (await fetch(`${line.url}/metrics`)).text();
    expect(metrics).toMatch(/linesight_line_dead_letters_total\{kind="corrupt_image"\} 2/);
  });

  it('serves the line API: summary, recent parts, alerts + ack, machine history, p-chart, feedback', async () => {
    const j = async (p: string, init?: RequestInit) => {
      const r = await fetch(`${line.url}${p}`, init);
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const s = await j('/v1/line/summary');
    expect(s.status).toBe(200);
    expect((s.body.machines as Array<{ machine: string }>).map((m) => m.machine).sort()).toEqual(['m1', 'm2']);
    expect(s.body.open_alerts).toBeGreaterThanOrEqual(1);
    const recent = await j('/v1/parts/recent?limit=5&station=cam1');
    expect((recent.body.parts as unknown[]).length).toBe(2);
    expect((await j('/v1/parts/recent?limit=0')).body.code).toBe('LS_ERR_VALIDATION');
    expect((await j('/v1/parts/nope')).status).toBe(404);
    const alerts = await j('/v1/alerts?state=open');
    const id = (alerts.body.alerts as Array<{ id: string }>)[0]!.id;
    const ack = await j(`/v1/alerts/${id}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'alice' }) });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ id, acknowledged_by: 'alice' });
    expect((await j('/v1/alerts/nope/ack', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
    const hist = await j('/v1/machines/m1/history?minutes=5');
    expect((hist.body.points as unknown[]).length).toBe(14);
    expect((await j('/v1/machines/zz/history')).status).toBe(404);
    const chart = await j('/v1/spc/p-chart?station=cam1&interval_s=60&points=5');
    expect((chart.body.points as unknown[]).length).toBe(5);
    expect(chart.body.total_n).toBe(2);
    const fb = await j('/v1/feedback', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ part_id: 'P2', true_label: 'crazing', by: 'qa1' }) });
    expect(fb.status).toBe(200);
    expect((fb.body.accuracy as { labelled: number }).labelled).toBe(2);
    expect((await j('/v1/feedback', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ part_id: 'zzz', true_label: 'x' }) })).status).toBe(404);
    expect((await j('/v1/feedback', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ part: 1 }) })).body.code).toBe('LS_ERR_VALIDATION');
    const post = (p: string, body: unknown) => j(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ov = await post('/v1/parts/P1/decision', { decision: 'PASS', reason: 'cosmetic only' });
    expect(ov.status).toBe(200);
    expect(ov.body).toMatchObject({ part_id: 'P1', decision: 'PASS', reason: 'override by anonymous: cosmetic only' });
    expect((await j('/v1/parts/P1')).body.decision).toBe('PASS');
    expect((await post('/v1/parts/P1/decision', { decision: 'MAYBE', reason: 'x' })).body.code).toBe('LS_ERR_VALIDATION');
    expect((await post('/v1/parts/nope/decision', { decision: 'PASS', reason: 'x' })).status).toBe(404);
    // every mutation above is in the audit trail with who did it; the refused ones are not
    expect(audited).toContainEqual(expect.objectContaining({ action: 'alert.ack', target: id }));
    expect(audited).toContainEqual(expect.objectContaining({ action: 'feedback.add', target: 'P2', details: expect.objectContaining({ true_label: 'crazing' }) }));
    expect(audited).toContainEqual({ actor: 'anonymous', action: 'decision.override', target: 'P1', details: { from: expect.any(String), to: 'PASS', reason: 'cosmetic only' } });
    expect(audited.filter((e) => e.action === 'decision.override')).toHaveLength(1);
    expect(audited.some((e) => e.target === 'zzz' || e.target === 'nope')).toBe(false);
  });

  it('streams live events over SSE, starting with the latest stats', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${line.url}/v1/events`, { signal: ctl.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const read = async (pred: (t: string) => boolean) => {
      while (!pred(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
    };
    await read((t) => t.includes('event: stats'));
    expect(text.startsWith('event: stats\ndata: ')).toBe(true);
    await publish('linesight/line1/cam1/image', img('inclusion', 'inclusion_2.jpg'), { part_id: 'P3' });
    await read((t) => t.includes('event: inspection'));
    const ev = text.split('\n\n').find((b) => b.startsWith('event: inspection'))!;
    expect(JSON.parse(ev.split('data: ')[1]!)).toMatchObject({ type: 'inspection', part_id: 'P3', station: 'cam1' });
    ctl.abort();
  });
});
