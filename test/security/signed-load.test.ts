/** require_signed_models end to end: the real onnxruntime backend and the serving app refuse tampered models. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ModelRepository } from '../../src/repository/repository.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { LoadedModel } from '../../src/pipeline/model.ts';
import { buildApp } from '../../src/serving/app.ts';
import { setupSecurity, type Security } from '../../src/security/index.ts';
import { generateSigningKey, loadPrivateKey, signModel } from '../../src/security/signing.ts';
import { silentLogger } from '../../src/core/log.ts';
import { writeTinyRepo } from '../helpers/tiny-model.ts';
import { tempDir } from './helpers.ts';

describe('require_signed_models', () => {
  let tmp: ReturnType<typeof tempDir>;
  let repoDir: string;
  let repo: ModelRepository;
  let sec: Security;
  let admin: string;
  beforeAll(async () => {
    tmp = tempDir();
    repoDir = writeTinyRepo(path.join(tmp.dir, 'models'), { versions: [1, 2, 3] });
    repo = await ModelRepository.open(repoDir);
    const key = path.join(tmp.dir, 'sign.pem');
    await generateSigningKey(key);
    for (const v of [1, 2, 3]) await signModel(await repo.resolve({ name: 'tiny', version: v }), await loadPrivateKey(key));
    // version 2: the ONNX file is swapped after signing; version 3 keeps its signature but its config changes
    const other = readFileSync(path.join(repoDir, 'tiny', '1', 'model.onnx'));
    writeFileSync(path.join(repoDir, 'tiny', '2', 'model.onnx'), other);
    writeFileSync(path.join(repoDir, 'tiny', '3', 'config.yaml'), readFileSync(path.join(repoDir, 'tiny', 'config.yaml'), 'utf8').replace('max_batch_size: 8', 'max_batch_size: 2'));
    sec = await setupSecurity({ dataDir: path.join(tmp.dir, 'data'), log: silentLogger(), requireSignedModels: true, trustedKeys: [`${key}.pub`] });
    admin = readFileSync(sec.bootstrap.adminTokenFile!, 'utf8').trim();
  });
  afterAll(async () => {
    await sec.dispose();
    tmp.cleanup();
  });

  it('loads a signed version and refuses tampered ones with LS_ERR_MODEL_SIGNATURE', async () => {
    const backend = await getBackend();
    const ok = await LoadedModel.load(await repo.resolve({ name: 'tiny', version: 1 }), backend);
    expect(ok.version).toBe(1);
    await ok.dispose();
    await expect(LoadedModel.load(await repo.resolve({ name: 'tiny', version: 2 }), backend)).rejects.toMatchObject({ code: 'LS_ERR_MODEL_SIGNATURE', message: expect.stringMatching(/model\.onnx differs/) });
    await expect(LoadedModel.load(await repo.resolve({ name: 'tiny', version: 3 }), backend)).rejects.toMatchObject({ code: 'LS_ERR_MODEL_SIGNATURE', message: expect.stringMatching(/config\.yaml differs/) });
    appendFileSync(path.join(repoDir, 'tiny', '1', 'model.onnx'), Buffer.from([1, 2, 3]));
    await expect(LoadedModel.load(await repo.resolve({ name: 'tiny', version: 1 }), backend)).rejects.toMatchObject({ code: 'LS_ERR_MODEL_SIGNATURE' });
  });

  it.each([false, true])('the serving app (inference threads: %s) serves the signed version and reports the tampered one as unavailable', async (threads) => {
    const dir = writeTinyRepo(path.join(tmp.dir, `served-${threads}`), { versions: [1, 2], config: { version_policy: { all: true } } });
    const r2 = await ModelRepository.open(dir);
    const key = path.join(tmp.dir, 'sign.pem');
    for (const v of [1, 2]) await signModel(await r2.resolve({ name: 'tiny', version: v }), await loadPrivateKey(key));
    // a valid ONNX file, just not the signed one, so only the signature check can refuse it
    writeFileSync(path.join(dir, 'tiny', '2', 'model.onnx'), readFileSync(path.join(dir, 'tiny', '1', 'model.onnx')));
    // with inference threads the worker loads the bytes the signature check vetted, never the path
    const built = await buildApp({ repoDir: dir, plugins: [sec.plugin], audit: sec.audit, inferenceThreads: threads });
    try {
      const h = { authorization: `Bearer ${admin}` };
      expect((await built.app.inject({ method: 'GET', url: '/v2/models/tiny/versions/1/ready', headers: h })).statusCode).toBe(200);
      expect((await built.app.inject({ method: 'GET', url: '/v2/models/tiny/versions/2/ready', headers: h })).statusCode).not.toBe(200);
      const v2 = built.service.status().find((s) => s.name === 'tiny' && s.version === 2);
      expect(JSON.stringify(v2), JSON.stringify(built.service.status())).toMatch(/LS_ERR_MODEL_SIGNATURE|signature/);
    } finally {
      await built.dispose();
    }
  });

  it('after dispose the plain backend is back', async () => {
    const s2 = await setupSecurity({ dataDir: path.join(tmp.dir, 'data2'), log: silentLogger(), requireSignedModels: true, trustedKeys: [path.join(tmp.dir, 'sign.pem.pub')] });
    await s2.dispose();
    await sec.dispose();
    const m = await LoadedModel.load(await repo.resolve({ name: 'tiny', version: 2 }), await getBackend());
    expect(m.version).toBe(2);
    await m.dispose();
  });
});
