/**
 * `POST /v1/keys/rotate` (admin): rotate the data key of a running line without stopping it. The
 * store keeps writing throughout; see rotateDataKey for the order that keeps every row readable.
 * Registered by the line (it owns the store) only when the data key comes from a key file.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AuditLog } from './audit.ts';
import type { KeyRing } from './crypto.ts';
import { rotateDataKey, type ReencryptingStore, type RotationResult } from './key-rotation.ts';

/** What the route needs from the store: re-encryption and a write barrier. */
export interface RotatableStore extends ReencryptingStore {
  /** An empty batch: resolves once the writes submitted before it are committed. */
  writeBatch(b: Record<string, never>): Promise<unknown>;
}

export interface KeyRoutesOptions {
  keyFile: string;
  ring: KeyRing;
  store: RotatableStore;
  audit?: AuditLog;
}

/** Register with `app.register(keyRoutes, opts)`. */
export const keyRoutes: FastifyPluginAsync<KeyRoutesOptions> = async (app, opts) => {
  // one rotation at a time: a second request waits for the first and then rotates again
  let tail: Promise<unknown> = Promise.resolve();
  const rotate = (): Promise<RotationResult> => {
    const run = () => rotateDataKey(opts.keyFile, opts.store, { ring: opts.ring, barrier: async () => void (await opts.store.writeBatch({})) });
    const p = tail.then(run, run);
    tail = p.catch(() => undefined);
    return p;
  };
  app.post('/v1/keys/rotate', { config: { role: 'admin' } }, async (req) => {
    const r = await rotate();
    await opts.audit?.append({ actor: req.principal?.id ?? 'anonymous', action: 'key.rotate', target: `key:${r.keyId}`, details: { retired: r.retiredKeyId, rows: r.rows, online: true } });
    return { key_id: r.keyId, ...(r.retiredKeyId ? { retired_key_id: r.retiredKeyId } : {}), rows: r.rows };
  });
};
