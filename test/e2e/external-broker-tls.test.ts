/**
 * A plant broker over TLS with its own CA and client certificates (Mosquitto with
 * `require_certificate true`): the line connects with --mqtt-ca/--mqtt-cert/--mqtt-key and stores what
 * arrives; without the plant's CA the certificate is refused with one clear error; the flags are checked
 * before anything starts. Private Mosquitto on a free port; fails in CI without the binary.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLine } from '../../src/line/app.ts';
import { isLsError } from '../../src/core/errors.ts';
import { mqttClientTlsFromFlags } from '../../src/security/tls.ts';
import { writeFixtureRepo, HEALTHY_VALUES } from './line-fixtures.ts';
import { until } from '../helpers/until.ts';
import { makeLabPki } from '../helpers/lab-pki.ts';
import { freePort, haveMosquitto, startMosquitto } from '../helpers/mosquitto.ts';
import { runCli } from './cli-run.ts';

const have = haveMosquitto('external broker TLS test');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ls-broker-tls-'));
const f = (n: string) => path.join(dir, n);
let broker: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  if (!have) return;
  makeLabPki(dir, 'linesight-line');
  const port = await freePort();
  url = `mqtts://127.0.0.1:${port}`;
  // `user root`: as root, Mosquitto otherwise drops to the mosquitto user, which cannot read the 0600 keys
  broker = await startMosquitto(dir, port, [`cafile ${f('ca.crt')}`, `certfile ${f('server.crt')}`, `keyfile ${f('server.key')}`, 'require_certificate true', ...(process.getuid?.() === 0 ? ['user root'] : [])]);
});

afterAll(() => {
  broker?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const values = HEALTHY_VALUES;

describe.skipIf(!have)('an external broker over TLS with the plant’s CA', () => {
  it('connects with the CA and a client certificate and stores the readings that arrive', async () => {
    const tls = await mqttClientTlsFromFlags({ mqtt: url, mqttCa: f('ca.crt'), mqttCert: f('client.crt'), mqttKey: f('client.key') });
    const line = await startLine({ repoDir: writeFixtureRepo(dir), line: path.resolve('config/line.yaml'), db: f('line.db'), port: 0, mqttUrl: url, mqttTls: tls!, simulator: false, dashboard: false, clientId: `tls-${process.pid}` });
    try {
      const c = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, ca: readFileSync(f('ca.crt')), cert: readFileSync(f('client.crt')), key: readFileSync(f('client.key')) });
      for (let i = 0; i < 20; i++) await c.publishAsync('linesight/line1/m1/sensors', JSON.stringify({ ts: Date.now(), msg_id: `t${i}`, type: 'L', values }), { qos: 1 });
      await c.endAsync();
      const k = await until(async () => {
        const n = await line.store.counts();
        return n.readings >= 20 ? n : undefined;
      }, '20 readings over TLS');
      expect(k.readings).toBe(20);
    } finally {
      await line.dispose();
    }
  });

  it('refuses the broker’s certificate without the plant’s CA, and a broker that wants a client certificate refuses a line without one', async () => {
    const noCa = await startLine({ repoDir: writeFixtureRepo(dir), line: path.resolve('config/line.yaml'), db: f('noca.db'), port: 0, mqttUrl: url, mqttTls: { cert: readFileSync(f('client.crt')), key: readFileSync(f('client.key')) }, simulator: false, dashboard: false, clientId: `tls-noca-${process.pid}` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLsError(noCa) && noCa.code).toBe('LS_ERR_BROKER');
    expect((noCa as Error).message).toMatch(/certificate/i);

    // the CLI says the same in one line and exits non-zero; the process does not hang on a broker it cannot trust
    const cli = await runCli(['start', '--no-simulator', '--no-status', '--port', '0', '--data', f('cli-data'), '--mqtt', url, '--mqtt-cert', f('client.crt'), '--mqtt-key', f('client.key'), '--insecure-no-auth']);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/LS_ERR_BROKER: .*certificate/i);
    expect(cli.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const noClientCert = await startLine({ repoDir: writeFixtureRepo(dir), line: path.resolve('config/line.yaml'), db: f('nocert.db'), port: 0, mqttUrl: url, mqttTls: { ca: readFileSync(f('ca.crt')) }, simulator: false, dashboard: false, clientId: `tls-nocert-${process.pid}` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLsError(noClientCert) && noClientCert.code).toBe('LS_ERR_BROKER');
  });
});

describe('MQTT client TLS flags', () => {
  it('are checked before anything starts', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (isLsError(e) ? `${e.code}: ${e.message}` : String(e)));
    expect(await mqttClientTlsFromFlags({ mqtt: 'mqtt://127.0.0.1:1883' })).toBeUndefined();
    expect(await code(mqttClientTlsFromFlags({ mqtt: 'mqtt://127.0.0.1:1883', mqttCa: 'ca.crt' }))).toMatch(/^LS_ERR_SECURITY_CONFIG: .*mqtts:\/\//);
    expect(await code(mqttClientTlsFromFlags({ mqttCa: 'ca.crt' }))).toMatch(/^LS_ERR_SECURITY_CONFIG: .*mqtts:\/\//);
    expect(await code(mqttClientTlsFromFlags({ mqtt: 'mqtts://h:8883', mqttCert: 'c.crt' }))).toMatch(/^LS_ERR_SECURITY_CONFIG: .*both --mqtt-cert and --mqtt-key/);
    expect(await code(mqttClientTlsFromFlags({ mqtt: 'mqtts://h:8883', mqttCa: path.join(dir, 'missing.crt') }))).toMatch(/^LS_ERR_SECURITY_CONFIG: .*cannot read the TLS CA certificate of the MQTT broker/);
  });
});
