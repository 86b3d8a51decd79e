import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LsError } from '../../src/core/errors.ts';
import { LoadedModel } from '../../src/pipeline/model.ts';
import { ModelRepository, parseModelRef } from '../../src/repository/repository.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { writeTinyRepo } from '../helpers/tiny-model.ts';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'ls-repo-'));

async function errorOf(p: Promise<unknown>): Promise<LsError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(LsError);
  return e as LsError;
}

describe('model references', () => {
  it('parses name and name:version', () => {
    expect(parseModelRef('steel-surface')).toEqual({ name: 'steel-surface' });
    expect(parseModelRef('steel-surface:3')).toEqual({ name: 'steel-surface', version: 3 });
  });

  it('refuses names that could leave the repository', () => {
    for (const bad of ['../../etc', '..', 'a/b', '/etc/passwd', '', '.hidden', 'a\\b']) {
      expect(() => parseModelRef(bad), bad).toThrow(LsError);
    }
  });
});

describe('model repository', () => {
  it('lists models and versions, and resolves the newest version by default', async () => {
    const repo = await ModelRepository.open(writeTinyRepo(tmp(), { versions: [1, 2, 10] }));
    expect(await repo.listModels()).toEqual(['tiny']);
    expect(await repo.listVersions('tiny')).toEqual([1, 2, 10]);
    expect((await repo.resolve({ name: 'tiny' })).version).toBe(10);
    expect((await repo.resolve({ name: 'tiny', version: 2 })).version).toBe(2);
    expect((await errorOf(repo.resolve({ name: 'tiny', version: 3 }))).code).toBe('LS_ERR_VERSION_NOT_FOUND');
    expect((await errorOf(repo.resolve({ name: 'nope' }))).code).toBe('LS_ERR_MODEL_NOT_FOUND');
    expect(await repo.nextVersion('tiny')).toBe(11);
  });

  it('a version-level config.yaml replaces the model-level one', async () => {
    const root = writeTinyRepo(tmp(), { versions: [1, 2] });
    writeFileSync(path.join(root, 'tiny', '2', 'config.yaml'), 'name: tiny\ntask: classification\ninputs: [{name: image, datatype: FP32, shape: [1, 8, 8]}]\noutputs: [{name: logits, datatype: FP32, shape: [3]}]\nlabels: [a, b, c]\n');
    const repo = await ModelRepository.open(root);
    expect((await repo.resolve({ name: 'tiny', version: 2 })).manifest.labels).toEqual(['a', 'b', 'c']);
    expect((await repo.resolve({ name: 'tiny', version: 1 })).manifest.labels).toEqual(['ok', 'scratch', 'dent']);
  });

  it('an invalid config.yaml names the file, the field and what was expected', async () => {
    const root = writeTinyRepo(tmp(), { config: { max_batch_size: 'lots' } });
    const repo = await ModelRepository.open(root);
    const e = await errorOf(repo.resolve({ name: 'tiny' }));
    expect(e.code).toBe('LS_ERR_CONFIG_INVALID');
    expect(e.subject).toBe(path.join(repo.root, 'tiny', 'config.yaml'));
    expect(e.message).toMatch(/max_batch_size: .*number/i);
  });

  it('invalid YAML is refused with the file named', async () => {
    const root = writeTinyRepo(tmp());
    writeFileSync(path.join(root, 'tiny', 'config.yaml'), 'name: [unclosed\n');
    const e = await errorOf((await ModelRepository.open(root)).resolve({ name: 'tiny' }));
    expect(e.code).toBe('LS_ERR_CONFIG_INVALID');
    expect(e.toLine()).toContain('config.yaml');
  });

  it('does not follow a symlinked model folder out of the repository', async () => {
    const outside = writeTinyRepo(tmp(), { name: 'secret' });
    const root = writeTinyRepo(tmp());
    symlinkSync(path.join(outside, 'secret'), path.join(root, 'secret'));
    const repo = await ModelRepository.open(root);
    expect(await repo.listModels()).toEqual(['tiny']);
    expect((await errorOf(repo.resolve({ name: 'secret' }))).code).toMatch(/LS_ERR_(PATH_TRAVERSAL|MODEL_NOT_FOUND)/);
  });

  it('a missing repository folder is a clear error', async () => {
    expect((await errorOf(ModelRepository.open('/nonexistent/models'))).code).toBe('LS_ERR_REPO_NOT_FOUND');
  });
});

describe('loading models', () => {
  it('loads a model, runs it, and releases it', async () => {
    const repo = await ModelRepository.open(writeTinyRepo(tmp()));
    const m = await LoadedModel.load(await repo.resolve({ name: 'tiny' }), await getBackend());
    const out = await m.infer({ image: { datatype: 'FP32', shape: [2, 1, 8, 8], data: new Float32Array(128).fill(0.5) } });
    expect(out.logits!.shape).toEqual([2, 3]);
    const p = m.postprocess(out, 1);
    expect(p.top).toHaveLength(3);
    expect(['PASS', 'REJECT']).toContain(p.decision);
    await m.dispose();
    expect((await errorOf(m.infer({ image: { datatype: 'FP32', shape: [1, 1, 8, 8], data: new Float32Array(64) } }))).code).toBe('LS_ERR_MODEL_NOT_READY');
  });

  it('refuses a corrupt, truncated or empty ONNX file', async () => {
    const root = writeTinyRepo(tmp());
    const repo = await ModelRepository.open(root);
    const file = path.join(root, 'tiny', '1', 'model.onnx');
    for (const bytes of [Buffer.from('this is not onnx at all'), Buffer.alloc(0)]) {
      writeFileSync(file, bytes);
      const e = await errorOf(LoadedModel.load(await repo.resolve({ name: 'tiny' }), await getBackend()));
      expect(e.code).toBe('LS_ERR_MODEL_CORRUPT');
      expect(e.subject).toBe(file);
    }
  });

  it('refuses an ONNX whose inputs disagree with config.yaml', async () => {
    const root = writeTinyRepo(tmp(), { config: { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 8, 8] }] } });
    const repo = await ModelRepository.open(root);
    const e = await errorOf(LoadedModel.load(await repo.resolve({ name: 'tiny' }), await getBackend()));
    expect(e.code).toBe('LS_ERR_MODEL_MISMATCH');
    expect(e.message).toContain('"pixels"');

    const root2 = writeTinyRepo(tmp(), { config: { inputs: [{ name: 'image', datatype: 'FP32', shape: [3, 8, 8] }] } });
    const e2 = await errorOf(LoadedModel.load(await (await ModelRepository.open(root2)).resolve({ name: 'tiny' }), await getBackend()));
    expect(e2.code).toBe('LS_ERR_MODEL_MISMATCH');
    expect(e2.message).toContain('shape');
  });
});
