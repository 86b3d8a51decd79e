import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadedModel } from '../../src/pipeline/model.ts';
import { argmax } from '../../src/pipeline/post/classify.ts';
import { ModelRepository } from '../../src/repository/repository.ts';
import { getBackend } from '../../src/runtime/index.ts';

interface Fixture { labels: string[]; images: Array<{ file: string; label: string; logits: number[]; argmax: string }> }
const fixture = JSON.parse(readFileSync(new URL('../fixtures/steel-surface-parity.json', import.meta.url), 'utf8')) as Fixture;

describe('steel-surface: LineSight preprocessing + onnxruntime reproduce the PyTorch/cv2 logits', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    const repo = await ModelRepository.open('models');
    model = await LoadedModel.load(await repo.resolve({ name: 'steel-surface', version: 1 }), await getBackend());
  });
  afterAll(() => model.dispose());

  it('has at least 12 reference images covering every class', () => {
    expect(fixture.images.length).toBeGreaterThanOrEqual(12);
    expect(new Set(fixture.images.map((i) => i.label)).size).toBe(6);
  });

  for (const img of fixture.images) {
    it(`${img.file}: logits within 1e-3, same argmax`, async () => {
      const bytes = readFileSync(new URL(`../fixtures/${img.file}`, import.meta.url));
      const sample = await model.preprocess(bytes, img.file);
      const out = await model.infer(model.stackImages([sample]));
      const logits = Array.from(out.logits!.data as Float32Array);
      expect(logits).toHaveLength(6);
      for (let k = 0; k < 6; k++) expect(Math.abs(logits[k]! - img.logits[k]!)).toBeLessThan(1e-3);
      expect(fixture.labels[argmax(logits)]).toBe(img.argmax);
    });
  }
});
