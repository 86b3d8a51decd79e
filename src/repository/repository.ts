/**
 * The model repository on disk (Triton-style layout):
 *   <root>/<name>/config.yaml
 *   <root>/<name>/<version>/model.onnx          (version: a positive integer)
 *   <root>/<name>/<version>/config.yaml         (optional: replaces the model-level config for this version)
 * Nothing outside <root> is ever read: names are checked and paths are resolved through symlinks.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LsError } from '../core/errors.ts';
import { manifestSchema, type Manifest } from './manifest.ts';
import { formatZodIssues } from '../core/validate.ts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A model as named by a user: `name` (newest version) or `name:version`. */
export interface ModelRef {
  readonly name: string;
  readonly version?: number;
}

/** A model version found on disk with its validated config. */
export interface ResolvedModel {
  readonly name: string;
  readonly version: number;
  readonly manifest: Manifest;
  readonly modelPath: string;
  readonly versionDir: string;
  readonly configPath: string;
}

/** Parse `name` or `name:version` as typed on a command line or in a URL. */
export function parseModelRef(text: string): ModelRef {
  const m = /^(.*?)(?::(\d+))?$/.exec(text.trim());
  const name = m?.[1] ?? '';
  assertModelName(name);
  return m?.[2] ? { name, version: Number(m[2]) } : { name };
}

/** Throws LS_ERR_MODEL_NAME for anything that is not a plain model name (no slashes, no dots first). */
export function assertModelName(name: string): void {
  if (!NAME_RE.test(name) || name.includes('..')) {
    throw new LsError('LS_ERR_MODEL_NAME', JSON.stringify(name.slice(0, 80)));
  }
}

export function parseVersion(text: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new LsError('LS_ERR_VERSION_NOT_FOUND', JSON.stringify(text.slice(0, 40)));
  return Number(text);
}

export class ModelRepository {
  /** Absolute, symlink-resolved root. */
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  static async open(root: string): Promise<ModelRepository> {
    let real: string;
    try {
      real = await fs.realpath(path.resolve(root));
      const st = await fs.stat(real);
      if (!st.isDirectory()) throw new Error('not a directory');
    } catch {
      throw new LsError('LS_ERR_REPO_NOT_FOUND', path.resolve(root), { subject: root });
    }
    return new ModelRepository(real);
  }

  /** Resolve a path below the root, refusing anything that escapes it (also through symlinks). */
  async safePath(...parts: string[]): Promise<string> {
    const joined = path.resolve(this.root, ...parts);
    if (!isInside(this.root, joined)) throw new LsError('LS_ERR_PATH_TRAVERSAL', parts.join('/'));
    let real: string;
    try {
      real = await fs.realpath(joined);
    } catch {
      return joined; // does not exist (yet): the lexical check above is what applies
    }
    if (!isInside(this.root, real)) throw new LsError('LS_ERR_PATH_TRAVERSAL', parts.join('/'));
    return real;
  }

  /** Names of all models (folders holding a config.yaml), sorted. */
  async listModels(): Promise<string[]> {
    const entries = await fs.readdir(this.root, { withFileTypes: true });
    const names: string[] = [];
    for (const e of entries) {
      if (!NAME_RE.test(e.name)) continue;
      if (!(e.isDirectory() || e.isSymbolicLink())) continue;
      try {
        await fs.access(await this.safePath(e.name, 'config.yaml'));
        names.push(e.name);
      } catch {
        // not a model folder, or a symlink leaving the repository: not listed
      }
    }
    return names.sort();
  }

  async hasModel(name: string): Promise<boolean> {
    assertModelName(name);
    try {
      await fs.access(await this.safePath(name, 'config.yaml'));
      return true;
    } catch {
      return false;
    }
  }

  /** Versions present on disk (folders named by a positive integer holding model.onnx), ascending. */
  async listVersions(name: string): Promise<number[]> {
    assertModelName(name);
    if (!(await this.hasModel(name))) throw new LsError('LS_ERR_MODEL_NOT_FOUND', name, { subject: name });
    const dir = await this.safePath(name);
    const out: number[] = [];
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      if (!/^[1-9]\d{0,8}$/.test(e.name)) continue;
      try {
        await fs.access(await this.safePath(name, e.name, 'model.onnx'));
        out.push(Number(e.name));
      } catch {
        // an empty or half-written version folder is not a version
      }
    }
    return out.sort((a, b) => a - b);
  }

  /** The next free version number (for tools that write a new version). */
  async nextVersion(name: string): Promise<number> {
    const dir = await this.safePath(name);
    let max = 0;
    try {
      for (const e of await fs.readdir(dir)) if (/^\d+$/.test(e)) max = Math.max(max, Number(e));
    } catch {
      // no folder yet
    }
    return max + 1;
  }

  /** Read and validate the config that applies to a version (version-level config.yaml first). */
  async readManifest(name: string, version?: number): Promise<{ manifest: Manifest; configPath: string }> {
    assertModelName(name);
    let configPath = await this.safePath(name, 'config.yaml');
    if (version !== undefined) {
      const vPath = await this.safePath(name, String(version), 'config.yaml');
      try {
        await fs.access(vPath);
        configPath = vPath;
      } catch {
        // no override: the model-level config applies
      }
    }
    let text: string;
    try {
      text = await fs.readFile(configPath, 'utf8');
    } catch {
      throw new LsError('LS_ERR_MODEL_NOT_FOUND', name, { subject: configPath });
    }
    return { manifest: parseManifest(text, configPath), configPath };
  }

  /** Find a model version: the newest when no version is given. */
  async resolve(ref: ModelRef): Promise<ResolvedModel> {
    const versions = await this.listVersions(ref.name);
    if (versions.length === 0) throw new LsError('LS_ERR_VERSION_NOT_FOUND', `${ref.name} has no version with a model.onnx`, { subject: ref.name });
    const version = ref.version ?? versions[versions.length - 1]!;
    if (!versions.includes(version)) {
      throw new LsError('LS_ERR_VERSION_NOT_FOUND', `${ref.name}:${version} (available: ${versions.join(', ')})`, { subject: ref.name });
    }
    const { manifest, configPath } = await this.readManifest(ref.name, version);
    const versionDir = await this.safePath(ref.name, String(version));
    return { name: ref.name, version, manifest, modelPath: path.join(versionDir, 'model.onnx'), versionDir, configPath };
  }
}

/** Validate config.yaml text; errors name the file, the field and what was expected. */
export function parseManifest(text: string, file: string): Manifest {
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (e) {
    throw new LsError('LS_ERR_CONFIG_INVALID', `not valid YAML: ${(e as Error).message.split('\n')[0]}`, { subject: file });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new LsError('LS_ERR_CONFIG_INVALID', formatZodIssues(parsed.error), { subject: file });
  }
  return deepFreeze(parsed.data);
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
