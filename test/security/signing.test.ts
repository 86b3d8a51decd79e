import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ModelRepository } from '../../src/repository/repository.ts';
import { createModelGuard, generateSigningKey, loadPrivateKey, loadTrustedKeys, signModel, verifyModel } from '../../src/security/signing.ts';
import { writeTinyRepo } from '../helpers/tiny-model.ts';
import { tempDir } from './helpers.ts';

describe('signed models', () => {
  let tmp: ReturnType<typeof tempDir>;
  let repo: ModelRepository;
  let keyFile: string;
  beforeEach(async () => {
    tmp = tempDir();
    writeTinyRepo(path.join(tmp.dir, 'models'), { versions: [1, 2] });
    repo = await ModelRepository.open(path.join(tmp.dir, 'models'));
    keyFile = path.join(tmp.dir, 'keys', 'signing.pem');
    await generateSigningKey(keyFile);
  });
  afterEach(() => tmp.cleanup());

  const resolve = (v = 1) => repo.resolve({ name: 'tiny', version: v });
  const guard = async () => createModelGuard({ requireSigned: true, trusted: await loadTrustedKeys([`${keyFile}.pub`]) });

  it('a tampered model.onnx is refused', async () => {
    await signModel(await resolve(), await loadPrivateKey(keyFile));
    appendFileSync((await resolve()).modelPath, Buffer.from([0]));
    await expect((await guard()).check(await resolve())).rejects.toMatchObject({ code: 'LS_ERR_MODEL_SIGNATURE', message: expect.stringMatching(/model\.onnx differs/) });
  });

  it('a tampered config.yaml is refused', async () => {
    await signModel(await resolve(), await loadPrivateKey(keyFile));
    const cfg = (await resolve()).configPath;
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('max_batch_size: 8', 'max_batch_size: 4'));
    await expect((await guard()).check(await resolve())).rejects.toMatchObject({ code: 'LS_ERR_MODEL_SIGNATURE', message: expect.stringMatching(/config\.yaml differs/) });
  });

  it('an unsigned version, an edited signature.json, a copied signature and an untrusted key are refused', async () => {
    const g = await guard();
    await expect(g.check(await resolve(2))).rejects.toMatchObject({ code: 'LS_ERR_MODEL_SIGNATURE', message: expect.stringMatching(/no signature/) });
    const sig = await signModel(await resolve(), await loadPrivateKey(keyFile));
    const sigFile = path.join((await resolve()).versionDir, 'signature.json');
    // the attacker rewrites the hashes to match a swapped model: the ed25519 signature no longer matches
    writeFileSync(sigFile, JSON.stringify({ ...sig, files: { ...sig.files, 'model.onnx': 'f'.repeat(64) } }));
    await expect(g.check(await resolve())).rejects.toMatchObject({ message: expect.stringMatching(/does not match signature\.json/) });
    // version 1's valid signature copied to version 2
    writeFileSync(sigFile, JSON.stringify(sig));
    writeFileSync(path.join((await resolve(2)).versionDir, 'signature.json'), JSON.stringify(sig));
    await expect(g.check(await resolve(2))).rejects.toMatchObject({ message: expect.stringMatching(/signature is for tiny:1/) });
    // signed by a key this box does not trust
    const other = path.join(tmp.dir, 'keys', 'other.pem');
    await generateSigningKey(other);
    await signModel(await resolve(2), await loadPrivateKey(other));
    await expect(g.check(await resolve(2))).rejects.toMatchObject({ message: expect.stringMatching(/not trusted/) });
  });

  it('a correctly signed model passes; without require_signed_models nothing is checked', async () => {
    await signModel(await resolve(), await loadPrivateKey(keyFile));
    const v = await verifyModel(await resolve(), await loadTrustedKeys([`${keyFile}.pub`]));
    expect(v).toMatchObject({ model: 'tiny', version: 1, algorithm: 'ed25519' });
    await expect((await guard()).check(await resolve())).resolves.toBeUndefined();
    const off = createModelGuard({ requireSigned: false, trusted: new Map() });
    await expect(off.check(await resolve(2))).resolves.toBeUndefined();
  });

  it('the private key file is owner-only and key generation never overwrites', async () => {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    await expect(generateSigningKey(keyFile)).rejects.toMatchObject({ code: 'LS_ERR_SECURITY_CONFIG' });
    expect(() => createModelGuard({ requireSigned: true, trusted: new Map() })).toThrow(/trusted public key/);
  });
});
