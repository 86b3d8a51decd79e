/**
 * Writing a trained model into the model repository: `<name>/<version>/model.onnx` plus its
 * config.yaml (model-level for the first version, version-level after that so earlier versions keep
 * their own config). The config is validated with the repository's own schema before anything is written.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LsError } from '../core/errors.ts';
import { assertModelName, ModelRepository, parseManifest } from '../repository/repository.ts';

/** Where a new model version was written. */
export interface WrittenModel {
  readonly name: string;
  readonly version: number;
  readonly modelPath: string;
  readonly configPath: string;
}

/** Config text with a header comment; `manifest` is validated first (LS_ERR_CONFIG_INVALID if wrong). */
export function manifestYaml(manifest: Record<string, unknown>, header: string): string {
  const text = `${header.split('\n').map((l) => `# ${l}`).join('\n')}\n${YAML.stringify(manifest, { lineWidth: 0 })}`;
  parseManifest(text, 'config.yaml');
  return text;
}

/** Write a new version of `name` (created if missing) and return where it went. */
export async function writeModelVersion(
  repoDir: string,
  name: string,
  onnx: Uint8Array,
  manifest: Record<string, unknown>,
  header: string,
  opts: { version?: number } = {},
): Promise<WrittenModel> {
  assertModelName(name);
  const text = manifestYaml({ name, ...manifest }, header);
  await fs.mkdir(repoDir, { recursive: true });
  const repo = await ModelRepository.open(repoDir);
  const modelDir = await repo.safePath(name);
  const version = opts.version ?? (await repo.nextVersion(name));
  const versionDir = await repo.safePath(name, String(version));
  const exists = (p: string): Promise<boolean> => fs.access(p).then(() => true, () => false);
  if (await exists(path.join(versionDir, 'model.onnx'))) {
    throw new LsError('LS_ERR_VALIDATION', `${name}:${version} already exists; choose another --version or remove it first`, { subject: versionDir });
  }
  const modelLevel = path.join(modelDir, 'config.yaml');
  const configPath = (await exists(modelLevel)) ? path.join(versionDir, 'config.yaml') : modelLevel;
  await fs.mkdir(versionDir, { recursive: true });
  // model.onnx last: a version only counts once its model.onnx exists, so a reader never sees half a version.
  await fs.writeFile(configPath, text);
  const tmp = path.join(versionDir, `.model.onnx.${process.pid}.tmp`);
  await fs.writeFile(tmp, onnx);
  await fs.rename(tmp, path.join(versionDir, 'model.onnx'));
  return { name, version, modelPath: path.join(versionDir, 'model.onnx'), configPath };
}
