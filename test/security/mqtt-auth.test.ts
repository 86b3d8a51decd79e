import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { startBroker, type EmbeddedBroker } from '../../src/connectors/mqtt/broker.ts';
import { filterUnderPrefix, MqttAuth, readUsersFile, setFileUser, underPrefix } from '../../src/security/mqtt-auth.ts';
import { FailureLimiter } from '../../src/security/failure-limiter.ts';
import { fakeClock, tempDir } from './helpers.ts';

describe('MQTT ACL prefixes', () => {
  it('match whole topic levels only', () => {
    expect(underPrefix('linesight/lineA/cam1', 'linesight/lineA')).toBe(true);
    expect(underPrefix('linesight/lineA', 'linesight/lineA/')).toBe(true);
    expect(underPrefix('linesight/lineAB/cam1', 'linesight/lineA')).toBe(false);
    expect(filterUnderPrefix('linesight/lineA/#', 'linesight/lineA')).toBe(true);
    expect(filterUnderPrefix('linesight/#', 'linesight/lineA')).toBe(false);
    expect(filterUnderPrefix('#', 'linesight/lineA')).toBe(false);
    expect(filterUnderPrefix('+/lineA/x', 'linesight/lineA')).toBe(false);
  });
});

describe('MQTT login failures', () => {
  it('an address that keeps failing for a user is refused without checking; other addresses and users are not; the block ends with the window', async () => {
    const clock = fakeClock();
    const auth = new MqttAuth([], { limiter: new FailureLimiter({ maxFailures: 3, windowMs: 60_000, clock }) });
    await auth.addUser('cam', 'right', { publish: ['a'], subscribe: [] });
    const from = (ip: string, id = ip) => ({ id, conn: { remoteAddress: ip } });
    for (let i = 0; i < 3; i++) expect(await auth.authenticate(from('10.0.0.9', `x${i}`), 'cam', 'wrong')).toBe(false);
    expect(await auth.authenticate(from('10.0.0.9'), 'cam', 'right')).toBe(false);
    expect(await auth.authenticate(from('10.0.0.8'), 'cam', 'right')).toBe(true);
    // another user on the blocked address (the server's own clients) is not locked out
    await auth.addUser('internal', 'secret', { publish: ['#'], subscribe: ['#'] });
    expect(await auth.authenticate(from('10.0.0.9', 'own'), 'internal', 'secret')).toBe(true);
    clock.advance(60_000);
    expect(await auth.authenticate(from('10.0.0.9', 'again'), 'cam', 'right')).toBe(true);
  });
});

describe('embedded broker with MqttAuth (real aedes + mqtt.js)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let broker: EmbeddedBroker;
  let auth: MqttAuth;
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    tmp = tempDir();
    const file = path.join(tmp.dir, 'mqtt-users.json');
    await setFileUser(file, { username: 'camA', password: 'pw-camA', publish: ['linesight/lineA'], subscribe: ['linesight/lineA/cmd'] });
    await setFileUser(file, { username: 'monitor', password: 'pw-mon', publish: [], subscribe: ['linesight'] });
    expect((await readUsersFile(file)).map((u) => u.username)).toEqual(['camA', 'monitor']);
    auth = await MqttAuth.fromFile(file);
    broker = await startBroker({ port: 0, auth });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.dispose();
    tmp.cleanup();
  });

  const connect = async (opts: { username?: string; password?: string }) => {
    const c = await connectAsync(broker.url, { ...opts, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(c);
    return c;
  };

  it('refuses a connection without credentials or with a wrong password', async () => {
    await expect(connectAsync(broker.url, { reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(connectAsync(broker.url, { username: 'camA', password: 'wrong', reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it('delivers an allowed publish and drops one outside the ACL', async () => {
    const monitor = await connect({ username: 'monitor', password: 'pw-mon' });
    const got: string[] = [];
    monitor.on('message', (t) => got.push(t));
    await monitor.subscribeAsync('linesight/#');
    const cam = await connect({ username: 'camA', password: 'pw-camA' });
    // aedes answers a refused publish by closing the connection: once closed, the broker has handled (dropped) it
    const closed = new Promise<void>((resolve) => cam.once('close', () => resolve()));
    cam.publish('linesight/lineB/cam9/image', 'forged', { qos: 0 });
    await closed;
    const ok = await connect({ username: 'camA', password: 'pw-camA' });
    const delivered = new Promise<void>((resolve) => monitor.on('message', (t) => t === 'linesight/lineA/cam1/image' && resolve()));
    await ok.publishAsync('linesight/lineA/cam1/image', 'real', { qos: 1 });
    await delivered;
    expect(got).toContain('linesight/lineA/cam1/image');
    expect(got).not.toContain('linesight/lineB/cam9/image');
  });

  it('refuses a subscription outside the ACL', async () => {
    const cam = await connect({ username: 'camA', password: 'pw-camA' });
    const r = await cam.subscribeAsync('linesight/#').then((g) => g.map((x) => x.qos), (e: Error) => e);
    // aedes either answers SUBACK 0x80 or closes the connection: both are a refusal
    if (Array.isArray(r)) expect(r).toEqual([128]);
    else expect(r).toBeInstanceOf(Error);
  });

  it('the server\'s own in-memory user may use every topic', async () => {
    await auth.addUser('internal', 'secret', { publish: ['#'], subscribe: ['#'] });
    const c = await connect({ username: 'internal', password: 'secret' });
    const g = await c.subscribeAsync('linesight/#');
    expect(g.map((x) => x.qos)).toEqual([0]);
  });
});
