/**
 * The embedded broker's persistence (src/connectors/mqtt/indexed-persistence.mjs): aedes-persistence's
 * own specification suite, and the same random sequence of deliveries, packet-id updates and
 * acknowledgements applied to the library's MemoryPersistence and to ours, compared step by step.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { IndexedMemoryPersistence } from '../../src/connectors/mqtt/indexed-persistence.mjs';
import { mulberry32 } from '../../src/core/rng.ts';

const require = createRequire(import.meta.url);
const LibraryMemory = require('aedes-persistence/asyncPersistence.js') as new () => OutgoingApi;

interface Pkt {
  brokerId: string;
  brokerCounter: number;
  messageId?: number;
  topic: string;
  payload: Buffer;
  qos: number;
}
interface OutgoingApi {
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: object): Promise<void>;
  outgoingUpdate(client: { id: string }, packet: object): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<object | undefined>;
  outgoingStream(client: { id: string }): AsyncIterable<Pkt>;
}

async function drain(s: AsyncIterable<Pkt>): Promise<string[]> {
  const out: string[] = [];
  for await (const p of s) out.push(`${p.brokerId}/${p.brokerCounter}/${p.messageId}/${p.topic}`);
  return out;
}

async function outcome<T>(f: () => Promise<T>): Promise<{ ok: T } | { error: string }> {
  try {
    return { ok: await f() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe('the embedded broker persistence', () => {
  it.each(['callback', 'callback-async', 'direct'])('passes aedes-persistence’s specification suite (%s)', (mode) => {
    const r = spawnSync(process.execPath, ['test/fixtures/mqtt/persistence-spec.mjs', mode], { encoding: 'utf8', timeout: 60_000 });
    const pass = Number(/^# pass (\d+)/m.exec(r.stdout)?.[1] ?? -1);
    const fail = Number(/^# fail (\d+)/m.exec(r.stdout)?.[1] ?? -1);
    expect({ status: r.status, fail, stderr: r.stderr }).toEqual({ status: 0, fail: 0, stderr: '' });
    expect(pass).toBeGreaterThanOrEqual(50);
  });

  // one broker (the embedded broker's case: the indexed path) and two (a cluster: the library's scan)
  it.each([1, 2])('answers every outgoing-queue call exactly as the library does (%i broker(s), repeated packet ids, overlapping subscriptions)', async (brokers) => {
    const rand = mulberry32(20261204 + brokers);
    const lib = new LibraryMemory();
    const ours = new IndexedMemoryPersistence() as unknown as OutgoingApi;
    const clients = ['line', 'dashboard'];
    const sent: Pkt[] = [];
    const counters = { A: 0, B: 0 };
    // packet ids from a small pool, as after many wraps at 65535: ids repeat among queued packets
    const anyId = () => 1 + Math.floor(rand() * 12);
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      const client = { id: clients[Math.floor(rand() * clients.length)]! };
      if (r < 0.4) {
        const brokerId = brokers === 1 || rand() < 0.9 ? 'A' : 'B';
        const p: Pkt = { brokerId, brokerCounter: ++counters[brokerId as 'A' | 'B'], topic: `linesight/l1/m${step % 7}/sensors`, payload: Buffer.from([step & 255]), qos: 1 };
        sent.push(p);
        // one client, both, or one client twice (overlapping subscriptions)
        const k = rand();
        const subs = k < 0.4 ? [{ clientId: client.id }] : k < 0.8 ? clients.map((c) => ({ clientId: c })) : [{ clientId: client.id }, { clientId: client.id }];
        await lib.outgoingEnqueueCombi(subs, p);
        await ours.outgoingEnqueueCombi(subs, p);
      } else if (r < 0.75 && sent.length) {
        // a delivery gets its packet id; now and then an id from a packet the queue never held
        const base = sent[Math.floor(rand() * sent.length)]!;
        const messageId = anyId();
        const upd = rand() < 0.95 ? { ...base, messageId } : { ...base, brokerCounter: 999_999, messageId };
        const [a, b] = [await outcome(() => lib.outgoingUpdate(client, { ...upd })), await outcome(() => ours.outgoingUpdate(client, { ...upd }))];
        expect(b).toEqual(a);
      } else {
        const messageId = rand() < 0.05 ? undefined : anyId();
        const [a, b] = [await lib.outgoingClearMessageId(client, { messageId }), await ours.outgoingClearMessageId(client, { messageId })];
        expect(b).toEqual(a);
      }
      // the whole queue of the client just touched, after every step
      expect(await drain(ours.outgoingStream(client))).toEqual(await drain(lib.outgoingStream(client)));
    }
    // the run exercised non-empty queues, not only empty ones
    expect((await drain(lib.outgoingStream({ id: 'line' }))).length).toBeGreaterThan(10);
  });
});
