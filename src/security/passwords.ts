/** Password hashing for MQTT users: scrypt (node:crypto) with a random salt, compared in constant time. */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function scrypt(pw: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(pw, salt, KEYLEN, opts, (e, k) => (e ? reject(e) : resolve(k))));
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const k = await scrypt(password, salt, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${k.toString('base64')}`;
}

/** True when `password` matches the stored hash; a malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || n > 1 << 20) return false;
  const want = Buffer.from(parts[5]!, 'base64');
  if (want.length !== KEYLEN) return false;
  const got = await scrypt(password, Buffer.from(parts[4]!, 'base64'), { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
  return timingSafeEqual(got, want);
}
