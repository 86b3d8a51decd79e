import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-run.ts';
import { auditEntries } from '../helpers/audit-entries.ts';
import { ModelRepository } from '../../src/repository/repository.ts';
import { getBackend } from '../../src/runtime/index.ts';
import { LoadedModel } from '../../src/pipeline/model.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const FIX = path.join(ROOT, 'test/fixtures/neu');
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ls-e2e-ft-'));
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

describe('linesight finetune', () => {
  it('trains a new head on a few images and writes backbone + head as a new version with its own config', async () => {
    // the bundled backbone, copied so the test never writes into models/
    const repo = path.join(tmp, 'models');
    await fs.cp(path.join(ROOT, 'models/steel-surface'), path.join(repo, 'steel-surface'), { recursive: true });
    // a 3-class few-shot set: two fixture images per class, plus one file that is not an image
    const data = path.join(tmp, 'few');
    for (const f of await fs.readdir(FIX)) {
      const cls = f.replace(/_\d+\.jpg$/, '');
      if (!['crazing', 'patches', 'scratches'].includes(cls)) continue;
      await fs.mkdir(path.join(data, cls), { recursive: true });
      await fs.copyFile(path.join(FIX, f), path.join(data, cls, f));
    }
    await fs.writeFile(path.join(data, 'patches', 'broken.jpg'), 'not a jpeg');
    const r = await runCli(['finetune', '--base', 'steel-surface:1', '--data', data, '--repo', repo, '--epochs', '60', '--json', '--audit-file', path.join(tmp, 'audit.log')]);
    // the broken file is reported and the exit code says so, but the version is written from the good images
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/LS_ERR_IMAGE_(CORRUPT|FORMAT).*broken\.jpg/);
    const s = JSON.parse(r.stdout) as { version: number; labels: string[]; images: number; config_path: string };
    expect(s.labels).toEqual(['crazing', 'patches', 'scratches']);
    expect(s.images).toBe(6);
    expect(s.version).toBe(2);
    expect(s.config_path).toBe(path.join(repo, 'steel-surface', '2', 'config.yaml'));
    const cfg = YAML.parse(await fs.readFile(s.config_path, 'utf8')) as Record<string, any>;
    expect(cfg.labels).toEqual(['crazing', 'patches', 'scratches']);
    expect(auditEntries(path.join(tmp, 'audit.log')).filter((x) => x.action === 'model.finetune')).toMatchObject([{ target: 'model:steel-surface:2', details: { base: 'steel-surface:1', images: 6 } }]);
    expect(cfg.decision.reject_classes).toEqual(['patches', 'scratches']);
    expect(cfg.metadata.base_model).toBe('steel-surface:1');
    // The new version loads through the normal pipeline and classifies its own training images.
    const resolved = await (await ModelRepository.open(repo)).resolve({ name: 'steel-surface', version: 2 });
    const model = await LoadedModel.load(resolved, await getBackend());
    try {
      expect(model.session.outputs.find((o) => o.name === 'logits')?.shape.at(-1)).toBe(3);
      const imgs = await Promise.all((await fs.readdir(FIX)).filter((f) => /^(crazing|patches|scratches)_/.test(f)).map(async (f) => ({ bytes: await fs.readFile(path.join(FIX, f)), subject: f })));
      const preds = await model.predictImages(imgs);
      const correct = preds.filter((p, i) => p.ok && imgs[i]!.subject.startsWith(p.value.label!)).length;
      expect(correct).toBe(imgs.length);
    } finally {
      await model.dispose();
    }
    // the base version is untouched
    const base = await (await ModelRepository.open(repo)).resolve({ name: 'steel-surface', version: 1 });
    expect(base.manifest.labels?.length).toBe(6);
  });

  it('refuses a folder with a single class', async () => {
    const one = path.join(tmp, 'one', 'crazing');
    await fs.mkdir(one, { recursive: true });
    await fs.copyFile(path.join(FIX, 'crazing_14.jpg'), path.join(one, 'a.jpg'));
    await fs.copyFile(path.join(FIX, 'crazing_16.jpg'), path.join(one, 'b.jpg'));
    const r = await runCli(['finetune', '--base', 'steel-surface', '--data', path.join(tmp, 'one'), '--repo', path.join(ROOT, 'models'), '--name', 'never-written', '--audit-file', path.join(tmp, 'audit.log')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^LS_ERR_DATASET: .*at least 2 classes/);
    await expect(fs.access(path.join(ROOT, 'models', 'never-written'))).rejects.toThrow();
    expect(auditEntries(path.join(tmp, 'audit.log')).map((x) => x.target)).not.toContain('model:never-written:1');
  });
});
