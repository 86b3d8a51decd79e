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

/** key → Set of seqs: add one. */
function addSeq(index, key, seq) {
  const seqs = index.get(key);
  if (seqs) seqs.add(seq);
  else index.set(key, new Set([seq]));
}

/** key → Set of seqs: remove one, and the key once it holds none. */
function removeSeq(index, key, seq) {
  const seqs = index.get(key);
  if (!seqs) return;
  seqs.delete(seq);
  if (seqs.size === 0) index.delete(key);
}

const hasId = (id) => id !== undefined && id !== null;

/** One client's in-flight deliveries in queue order, indexed two ways. */
class OutgoingQueue {
  /** seq → packet; a Map iterates in insertion order, and replacing a value keeps its place */
  entries = new Map();
  /** `${brokerId}\0${brokerCounter}` → seqs holding that packet (more than one when a client's subscriptions overlap) */
  byCounter = new Map();
  /** packet id → seqs holding it (more than one only after ids wrap at 65535) */
  byMessageId = new Map();
  /** brokerId → packets of it in this queue; more than one broker means a cluster: scan like the library */
  brokers = new Map();
  next = 0;

  static counterKey(p) {
    return `${p.brokerId}\u0000${p.brokerCounter}`;
  }

  #countBroker(id, d) {
    const n = (this.brokers.get(id) ?? 0) + d;
    if (n === 0) this.brokers.delete(id);
    else this.brokers.set(id, n);
  }

  #put(seq, packet) {
    this.entries.set(seq, packet);
    addSeq(this.byCounter, OutgoingQueue.counterKey(packet), seq);
    if (hasId(packet.messageId)) addSeq(this.byMessageId, packet.messageId, seq);
    this.#countBroker(packet.brokerId, 1);
  }

  #remove(seq) {
    const p = this.entries.get(seq);
    if (p === undefined) return undefined;
    this.entries.delete(seq);
    removeSeq(this.byCounter, OutgoingQueue.counterKey(p), seq);
    if (hasId(p.messageId)) removeSeq(this.byMessageId, p.messageId, seq);
    this.#countBroker(p.brokerId, -1);
    return p;
  }

  /** Give the queued packet at `seq` its packet id, keeping the id index right. */
  #setMessageId(seq, p, id) {
    if (hasId(p.messageId)) removeSeq(this.byMessageId, p.messageId, seq);
    p.messageId = id;
    if (hasId(id)) addSeq(this.byMessageId, id, seq);
  }

  push(packet) {
    this.#put(this.next++, packet);
  }

  /** The library's outgoingUpdate: record the packet id of a delivery, or replace a foreign broker's packet. */
  update(packet) {
    if (this.brokers.size === 1 && this.brokers.has(packet.brokerId)) {
      // every queued packet is from this packet's broker: only a (broker id, counter) match can hit,
      // and the library's scan takes the first in queue order
      const seq = firstOf(this.byCounter.get(OutgoingQueue.counterKey(packet)));
      if (seq === undefined) throw new Error('no such packet');
      this.#setMessageId(seq, this.entries.get(seq), packet.messageId);
      return;
    }
    // packets of other brokers (a cluster): the library's first-match scan, kept exactly
    for (const [seq, temp] of this.entries) {
      if (temp.brokerId === packet.brokerId) {
        if (temp.brokerCounter === packet.brokerCounter) {
          this.#setMessageId(seq, temp, packet.messageId);
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
    if (!hasId(messageId)) {
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
