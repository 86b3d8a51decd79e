/**
 * Open Inference Protocol v2 metadata: `GET /v2` (server), `GET /v2/models/{m}[/versions/{v}]`
 * (model: name, versions, platform, inputs/outputs with -1 for variable dimensions) and
 * `GET /v2/models/{m}[/versions/{v}]/ready`, and Triton's model-configuration extension
 * `GET /v2/models/{m}[/versions/{v}]/config` (config.yaml in Triton's JSON shape).
 */
import type { FastifyPluginAsync } from 'fastify';
import { createRequire } from 'node:module';
import type { Manifest, TensorSpec } from '../../../repository/manifest.ts';
import { assertModelName, parseVersion } from '../../../repository/repository.ts';
import type { InferenceService } from '../../inference-service.ts';
import { hasModelControl } from '../../model-control.ts';
import { tritonModelConfig } from '../../protocol/triton-config.ts';

const pkg = createRequire(import.meta.url)('../../../../package.json') as { version: string };

/** Extensions of the protocol this server implements. */
export const V2_EXTENSIONS = ['binary_tensor_data', 'model_configuration', 'model_repository', 'statistics'] as const;

/** The v2 tensor metadata of a config entry: the batch dimension (-1) first when the model batches. */
export function tensorMetadata(m: Manifest, specs: readonly TensorSpec[]): Array<{ name: string; datatype: string; shape: number[] }> {
  return specs.map((s) => ({ name: s.name, datatype: s.datatype, shape: m.max_batch_size > 0 ? [-1, ...s.shape] : [...s.shape] }));
}

/** Versions of a model that can be requested now. */
export function servedVersions(service: InferenceService, name: string): number[] {
  if (hasModelControl(service)) return service.readyVersions(name);
  return service.status().filter((s) => s.name === name && s.state === 'READY').map((s) => s.version);
}

interface Params {
  m: string;
  v?: string;
}

export const v2MetadataRoutes: FastifyPluginAsync = async (app) => {
  const service = app.linesight.service;
  app.get('/v2', { config: { role: 'viewer' } }, async () => ({ name: 'linesight', version: pkg.version, extensions: [...V2_EXTENSIONS] }));

  const metadata = async (p: Params) => {
    assertModelName(p.m);
    const version = p.v === undefined ? undefined : parseVersion(p.v);
    const m = await service.manifest(p.m, version);
    const versions = servedVersions(service, p.m);
    return {
      name: p.m,
      versions: (version !== undefined ? [version] : versions).map(String),
      platform: m.platform,
      inputs: tensorMetadata(m, m.inputs),
      outputs: tensorMetadata(m, m.outputs),
    };
  };
  app.get<{ Params: Params }>('/v2/models/:m', { config: { role: 'viewer' } }, async (req) => metadata(req.params));
  app.get<{ Params: Params }>('/v2/models/:m/versions/:v', { config: { role: 'viewer' } }, async (req) => metadata(req.params));

  const config = async (p: Params) => {
    assertModelName(p.m);
    return tritonModelConfig(await service.manifest(p.m, p.v === undefined ? undefined : parseVersion(p.v)));
  };
  app.get<{ Params: Params }>('/v2/models/:m/config', { config: { role: 'viewer' } }, async (req) => config(req.params));
  app.get<{ Params: Params }>('/v2/models/:m/versions/:v/config', { config: { role: 'viewer' } }, async (req) => config(req.params));

  const ready = async (p: Params): Promise<boolean> => {
    assertModelName(p.m);
    const version = p.v === undefined ? undefined : parseVersion(p.v);
    await service.manifest(p.m, version); // 404 for an unknown model or version
    const versions = servedVersions(service, p.m);
    if (version !== undefined) return versions.includes(version);
    return versions.length > 0;
  };
  app.get<{ Params: Params }>('/v2/models/:m/ready', { config: { role: 'public' } }, async (req, reply) => reply.code((await ready(req.params)) ? 200 : 400).send());
  app.get<{ Params: Params }>('/v2/models/:m/versions/:v/ready', { config: { role: 'public' } }, async (req, reply) =>
    reply.code((await ready(req.params)) ? 200 : 400).send(),
  );
};
