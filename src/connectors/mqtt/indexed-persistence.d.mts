/** Types of indexed-persistence.mjs (plain JavaScript so the broker thread can import it). */
import type { Readable } from 'node:stream';

export declare class IndexedMemoryPersistence {
  constructor(opts?: Record<string, unknown>);
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: object): Promise<void>;
  outgoingUpdate(client: { id: string }, packet: object): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<object | undefined>;
  outgoingStream(client: { id: string }): Readable;
}

/** The callback-style persistence aedes takes (`Aedes.createBroker({ persistence })`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export declare function indexedMemoryPersistence(opts?: Record<string, unknown>): any;
