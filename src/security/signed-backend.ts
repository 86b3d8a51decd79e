/**
 * `require_signed_models` at the one place every model load passes: the inference backend.
 * This decorator reads a version's model.onnx once, checks those very bytes (and the config.yaml
 * that applies) against signature.json and the trusted keys, and hands the same bytes to the real
 * backend, so a file swapped after the check is never what runs. Refusals are LS_ERR_MODEL_SIGNATURE.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { LsError } from '../core/errors.ts';
import type { InferenceBackend, InferenceSession, ProviderInfo, SessionOptions } from '../runtime/backend.ts';
import { verifyFiles } from './signing.ts';

/** Where a model file sits in the repository layout: `<root>/<name>/<version>/model.onnx`. */
async function locate(modelPath: string): Promise<{ name: string; version: number; versionDir: string; configPath: string }> {
  const versionDir = path.dirname(path.resolve(modelPath));
  const version = Number(path.basename(versionDir));
  const modelDir = path.dirname(versionDir);
  if (!Number.isInteger(version) || version < 1) {
    throw new LsError('LS_ERR_MODEL_SIGNATURE', 'only repository model versions (<name>/<version>/model.onnx) can be checked', { subject: modelPath });
  }
  const own = path.join(versionDir, 'config.yaml');
  const configPath = await fs.access(own).then(() => own, () => path.join(modelDir, 'config.yaml'));
  return { name: path.basename(modelDir), version, versionDir, configPath };
}

/** An InferenceBackend that loads only models signed by a trusted key. */
export class SignedModelBackend implements InferenceBackend {
  constructor(
    private readonly inner: InferenceBackend,
    private readonly trusted: ReadonlyMap<string, KeyObject>,
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get version(): string {
    return this.inner.version;
  }
  providers(): readonly ProviderInfo[] {
    return this.inner.providers();
  }

  async load(model: string | Uint8Array, options?: SessionOptions): Promise<InferenceSession> {
    if (typeof model !== 'string') throw new LsError('LS_ERR_MODEL_SIGNATURE', 'models given as bytes carry no signature; load them from the repository');
    return this.inner.load(await this.readVerified(model), options);
  }

  /**
   * The bytes of a repository model file, after checking them against its signature. A backend that
   * wraps this one but loads elsewhere (e.g. in a worker thread) must load these bytes, not the path.
   */
  readModel(modelPath: string): Promise<Uint8Array> {
    return this.readVerified(modelPath);
  }

  /** The bytes of a repository model file, checked against its signature. */
  async readVerified(modelPath: string): Promise<Uint8Array> {
    const where = await locate(modelPath);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(modelPath);
    } catch (e) {
      throw new LsError('LS_ERR_MODEL_CORRUPT', (e as Error).message, { subject: modelPath });
    }
    await verifyFiles({ ...where, modelPath, modelBytes: bytes }, this.trusted);
    return bytes;
  }
}
