/**
 * Signed models: `linesight models sign` writes models/<name>/<version>/signature.json, an ed25519
 * signature (node:crypto) over the SHA-256 of the version's model.onnx and of the config.yaml that
 * applies to it. With `require_signed_models`, a version whose files do not match a signature by a
 * trusted key is refused at load with LS_ERR_MODEL_SIGNATURE, so a file swapped on the edge box
 * never reaches the line.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { LsError } from '../core/errors.ts';
import type { ResolvedModel } from '../repository/repository.ts';
import { canonicalJson } from './canonical-json.ts';
import { writeSecretFile } from './secret-file.ts';

export const SIGNATURE_FILE = 'signature.json';

const signatureSchema = z.strictObject({
  format: z.literal('linesight-model-signature/1'),
  algorithm: z.literal('ed25519'),
  key_id: z.string().regex(/^[a-f0-9]{16}$/),
  model: z.string(),
  version: z.number().int().positive(),
  files: z.strictObject({ 'model.onnx': z.string().regex(/^[a-f0-9]{64}$/), 'config.yaml': z.string().regex(/^[a-f0-9]{64}$/) }),
  signed_at: z.string(),
  signature: z.string().min(1),
});
/** The content of signature.json. */
export type ModelSignature = z.infer<typeof signatureSchema>;

/** Identifier of a public key: first 16 hex digits of SHA-256 over its DER (SPKI) bytes. */
export function publicKeyId(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** Make an ed25519 key pair: private key PEM at `privateFile` (mode 0600), public key PEM at `<privateFile>.pub`. */
export async function generateSigningKey(privateFile: string): Promise<{ keyId: string; publicFile: string }> {
  try {
    await fs.access(privateFile);
    throw new LsError('LS_ERR_SECURITY_CONFIG', 'a key file already exists here; refusing to overwrite it', { subject: privateFile });
  } catch (e) {
    if (e instanceof LsError) throw e;
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeSecretFile(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const publicFile = `${privateFile}.pub`;
  await fs.writeFile(publicFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { keyId: publicKeyId(publicKey), publicFile };
}

async function readPem(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new LsError('LS_ERR_SECURITY_CONFIG', `cannot read key: ${(e as Error).message}`, { subject: file });
  }
}

/** Load a private key PEM for signing. */
export async function loadPrivateKey(file: string): Promise<KeyObject> {
  try {
    const k = createPrivateKey(await readPem(file));
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`an ed25519 key is needed, this is ${k.asymmetricKeyType}`);
    return k;
  } catch (e) {
    throw e instanceof LsError ? e : new LsError('LS_ERR_SECURITY_CONFIG', (e as Error).message, { subject: file });
  }
}

/** Load trusted public keys (PEM files; a private key file also works, its public half is used). */
export async function loadTrustedKeys(files: readonly string[]): Promise<Map<string, KeyObject>> {
  const out = new Map<string, KeyObject>();
  for (const f of files) {
    try {
      const k = createPublicKey(await readPem(f));
      if (k.asymmetricKeyType !== 'ed25519') throw new Error(`an ed25519 key is needed, this is ${k.asymmetricKeyType}`);
      out.set(publicKeyId(k), k);
    } catch (e) {
      throw e instanceof LsError ? e : new LsError('LS_ERR_SECURITY_CONFIG', (e as Error).message, { subject: f });
    }
  }
  return out;
}

async function fileHash(file: string): Promise<string> {
  try {
    return createHash('sha256').update(await fs.readFile(file)).digest('hex');
  } catch (e) {
    throw new LsError('LS_ERR_MODEL_SIGNATURE', `cannot read ${path.basename(file)}: ${(e as Error).message}`, { subject: file });
  }
}

/** The signed statement: everything in signature.json except the signature itself, canonicalised. */
function payloadOf(sig: Omit<ModelSignature, 'signature'>): Buffer {
  return Buffer.from(canonicalJson(sig), 'utf8');
}

/** Sign a resolved model version; writes and returns signature.json. */
export async function signModel(model: ResolvedModel, privateKey: KeyObject, now = new Date()): Promise<ModelSignature> {
  const body: Omit<ModelSignature, 'signature'> = {
    format: 'linesight-model-signature/1',
    algorithm: 'ed25519',
    key_id: publicKeyId(createPublicKey(privateKey)),
    model: model.name,
    version: model.version,
    files: { 'model.onnx': await fileHash(model.modelPath), 'config.yaml': await fileHash(model.configPath) },
    signed_at: now.toISOString(),
  };
  const sig: ModelSignature = { ...body, signature: sign(null, payloadOf(body), privateKey).toString('base64') };
  await fs.writeFile(path.join(model.versionDir, SIGNATURE_FILE), `${JSON.stringify(sig, null, 2)}\n`);
  return sig;
}

/** Check a model version against its signature.json and the trusted keys; throws LS_ERR_MODEL_SIGNATURE naming what is wrong. */
export async function verifyModel(model: ResolvedModel, trusted: ReadonlyMap<string, KeyObject>): Promise<ModelSignature> {
  return verifyFiles({ name: model.name, version: model.version, versionDir: model.versionDir, configPath: model.configPath, modelPath: model.modelPath }, trusted);
}

/**
 * The check itself. `modelBytes`, when given, are the bytes that will be loaded: hashing exactly
 * those (instead of re-reading the file) leaves no window to swap the file between check and load.
 */
export async function verifyFiles(
  m: { name: string; version: number; versionDir: string; configPath: string; modelPath: string; modelBytes?: Uint8Array },
  trusted: ReadonlyMap<string, KeyObject>,
): Promise<ModelSignature> {
  const subject = `${m.name}:${m.version}`;
  const fail = (why: string): never => {
    throw new LsError('LS_ERR_MODEL_SIGNATURE', why, { subject });
  };
  let raw: string;
  try {
    raw = await fs.readFile(path.join(m.versionDir, SIGNATURE_FILE), 'utf8');
  } catch {
    return fail('no signature.json (sign it with `linesight models sign`)');
  }
  let parsed: ModelSignature;
  try {
    parsed = signatureSchema.parse(JSON.parse(raw));
  } catch {
    return fail('signature.json is not a valid signature file');
  }
  const { signature, ...body } = parsed;
  const key = trusted.get(parsed.key_id);
  if (!key) return fail(`signed by key ${parsed.key_id}, which is not trusted here`);
  if (!verify(null, payloadOf(body), key, Buffer.from(signature, 'base64'))) return fail('the signature does not match signature.json (edited)');
  if (parsed.model !== m.name || parsed.version !== m.version) fail(`signature is for ${parsed.model}:${parsed.version}`);
  const modelHash = m.modelBytes ? createHash('sha256').update(m.modelBytes).digest('hex') : await fileHash(m.modelPath);
  if (modelHash !== parsed.files['model.onnx']) fail('model.onnx differs from the signed file');
  if ((await fileHash(m.configPath)) !== parsed.files['config.yaml']) fail(`${path.relative(path.dirname(m.versionDir), m.configPath)} differs from the signed file`);
  return parsed;
}

/** What serving calls before loading a version: refuses unsigned or tampered models when signatures are required. */
export interface ModelGuard {
  readonly requireSigned: boolean;
  check(model: ResolvedModel): Promise<void>;
}

/** `require_signed_models`: with it, every load must pass verifyModel; without it, the check is a no-op. */
export function createModelGuard(opts: { requireSigned: boolean; trusted: ReadonlyMap<string, KeyObject> }): ModelGuard {
  if (opts.requireSigned && opts.trusted.size === 0) {
    throw new LsError('LS_ERR_SECURITY_CONFIG', 'require_signed_models needs at least one trusted public key (--trusted-key FILE)');
  }
  return {
    requireSigned: opts.requireSigned,
    async check(model) {
      if (opts.requireSigned) await verifyModel(model, opts.trusted);
    },
  };
}
