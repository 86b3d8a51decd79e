/**
 * How sensitive blobs (images, reading values) are written to the store. The identity codec keeps
 * them as they are; the security layer provides an AES-256-GCM codec with a key id so rows can be
 * re-encrypted when the key rotates (Store.reencryptAll).
 */

/** Encodes a blob before it is stored and decodes it when it is read. */
export interface FieldCodec {
  /** Identifies the key; stored next to each blob so rotation knows which rows to re-encode. */
  readonly keyId: string;
  /**
   * Every key this codec can decode, when that is more than `keyId` (a key ring during and after a
   * rotation still reads rows sealed with its retired keys).
   */
  readonly keyIds?: readonly string[];
  encode(plain: Uint8Array): Uint8Array;
  decode(stored: Uint8Array): Uint8Array;
}

/** Stores blobs as they are. */
export const identityCodec: FieldCodec = Object.freeze({
  keyId: 'plain',
  encode: (b: Uint8Array) => b,
  decode: (b: Uint8Array) => b,
});

/** Rows per re-encryption transaction (Store.reencryptAll works in chunks of this many rows). */
export const REENCRYPT_CHUNK = 500;

/** The columns that hold codec-encoded blobs, with the column that names a row (same in every store). */
export const REENCRYPT_TABLES = [
  { table: 'readings', key: 'msg_id', blob: 'vals', where: '' },
  { table: 'parts', key: 'part_id', blob: 'image', where: ' AND image IS NOT NULL' },
] as const;
