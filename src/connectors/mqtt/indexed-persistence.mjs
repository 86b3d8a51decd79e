// aedes' in-memory persistence with an indexed outgoing queue.
//
// aedes-persistence 11 keeps each client's in-flight QoS 1/2 deliveries in an array and finds a packet
// by scanning it: `outgoingUpdate` (once per delivery, to record its packet id) from the front, although
// the packet it looks for was just appended at the back, and `outgoingClearMessageId` (once per PUBACK)
// the same way. LineSight's line acknowledges a reading only after the store has committed it, so a
// few thousand deliveries are in flight at 20,000 readings/s, and those two scans took 30 % of the
// broker thread's CPU in a profile of `npm run bench:stream`. Everything else is the library's own
// MemoryPersistence; this subclass replaces only the outgoing queue, keeping its order and its
// semantics exactly (aedes-persistence's own abstract test suite runs against it,
// test/unit/mqtt-persistence.test.ts), with O(1) lookups by (broker id, broker counter) and by packet id.
// Plain JavaScript because the broker thread (broker-thread.mjs) imports it without the TS loader.
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js');
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js');
const Packet = require('aedes-packet');

/** The smallest seq of a set (the earliest in queue order); sets hold one or a few seqs. */
function firstOf(seqs) {
  let first;
  if (seqs) for (const s of seqs) if (first === undefined || s < first) first = s;
  return first;
}

/** One client's in-flight deliveries in queue order, indexed two ways. */
class OutgoingQueue {
  /** seq → packet; a Map iterates in insertion order, and replacing a value keeps its place */
  entries = new Map();
  /** `${brokerId}\0${brokerCounter}` → seqs holding that packet (more than one when a client's subscriptions overlap) */
  byCounter = new Map();
  /** packet id → seqs holding it (more than one only after ids wrap at 65535) */
  byMessageId = new Map();
  /** brokerIds seen in this queue; more than one means packets from a cluster: scan like the library */
  brokers = new Map();
  next = 0;

  static counterKey(p) {
    return `${p.brokerId}\u0000${p.brokerCounter}`;
  }

  #indexId(seq, id) {
    if (id === undefined || id === null) return;
    const seqs = this.byMessageId.get(id);
    if (seqs) seqs.add(seq);
    else this.byMessageId.set(id, new Set([seq]));
  }

  #unindexId(seq, id) {
    if (id === undefined || id === null) return;
    const seqs = this.byMessageId.get(id);
    if (!seqs) return;
    seqs.delete(seq);
    if (seqs.size === 0) this.byMessageId.delete(id);
  }

  #countBroker(id, d) {
    const n = (this.brokers.get(id) ?? 0) + d;
    if (n === 0) this.brokers.delete(id);
    else this.brokers.set(id, n);
  }

  #put(seq, packet) {
    this.entries.set(seq, packet);
    const k = OutgoingQueue.counterKey(packet);
    const seqs = this.byCounter.get(k);
    if (seqs) seqs.add(seq);
    else this.byCounter.set(k, new Set([seq]));
    this.#indexId(seq, packet.messageId);
    this.#countBroker(packet.brokerId, 1);
  }

  #remove(seq) {
    const p = this.entries.get(seq);
    if (p === undefined) return undefined;
    this.entries.delete(seq);
    const k = OutgoingQueue.counterKey(p);
    const seqs = this.byCounter.get(k);
    seqs?.delete(seq);
    if (seqs?.size === 0) this.byCounter.delete(k);
    this.#unindexId(seq, p.messageId);
    this.#countBroker(p.brokerId, -1);
    return p;
  }

  push(packet) {
    this.#put(this.next++, packet);
  }

  /** The library's outgoingUpdate: record the packet id of a delivery, or replace a foreign broker's packet. */
  update(packet) {
    if (this.brokers.size === 1 && this.brokers.has(packet.brokerId)) {
      // every queued packet is from this packet's broker: only a (broker id, counter) match can hit,
      // and counters are unique per broker
      // the first in queue order, as the library's scan finds it
      const seq = firstOf(this.byCounter.get(OutgoingQueue.counterKey(packet)));
      if (seq === undefined) throw new Error('no such packet');
      const p = this.entries.get(seq);
      this.#unindexId(seq, p.messageId);
      p.messageId = packet.messageId;
      this.#indexId(seq, p.messageId);
      return;
    }
    // packets of other brokers (a cluster): the library's first-match scan, kept exactly
    for (const [seq, temp] of this.entries) {
      if (temp.brokerId === packet.brokerId) {
        if (temp.brokerCounter === packet.brokerCounter) {
          this.#unindexId(seq, temp.messageId);
          temp.messageId = packet.messageId;
          this.#indexId(seq, temp.messageId);
          return;
        }
      } else if (temp.messageId === packet.messageId) {
        this.#remove(seq);
        this.#putAt(seq, packet);
        return;
      }
    }
    throw new Error('no such packet');
  }

  /** Re-insert under an existing seq without moving it: rebuild the order around it. */
  #putAt(seq, packet) {
    const rest = [];
    for (const [s, p] of this.entries) if (s > seq) rest.push([s, p]);
    for (const [s] of rest) this.entries.delete(s);
    this.#put(seq, packet);
    for (const [s, p] of rest) this.entries.set(s, p);
  }

  /** The library's outgoingClearMessageId: drop the first delivery in queue order with this packet id. */
  clear(messageId) {
    if (messageId === undefined || messageId === null) {
      for (const [seq, p] of this.entries) if (p.messageId === messageId) return this.#remove(seq);
      return undefined;
    }
    const first = firstOf(this.byMessageId.get(messageId));
    return first === undefined ? undefined : this.#remove(first);
  }

  snapshot() {
    return [...this.entries.values()];
  }
}

export class IndexedMemoryPersistence extends MemoryPersistence {
  #queues = new Map();

  #queue(clientId) {
    let q = this.#queues.get(clientId);
    if (!q) this.#queues.set(clientId, (q = new OutgoingQueue()));
    return q;
  }

  async outgoingEnqueue(sub, packet) {
    this.#queue(sub.clientId).push(new Packet(packet));
  }

  async outgoingEnqueueCombi(subs, packet) {
    for (let i = 0; i < subs.length; i++) this.#queue(subs[i].clientId).push(new Packet(packet));
  }

  async outgoingUpdate(client, packet) {
    this.#queue(client.id).update(packet);
  }

  async outgoingClearMessageId(client, packet) {
    return this.#queue(client.id).clear(packet.messageId);
  }

  outgoingStream(client) {
    // a snapshot, as the library does, so deliveries during the replay cannot disturb it
    const q = this.#queues.get(client.id);
    return Readable.from(q ? q.snapshot() : []);
  }
}

/** The callback-style persistence aedes takes (`Aedes.createBroker({ persistence })`). */
export function indexedMemoryPersistence(opts = {}) {
  return new CallBackPersistence((o) => new IndexedMemoryPersistence(o), opts);
}
