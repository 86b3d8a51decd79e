import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../src/runtime/index.ts';
import { DEFAULT_TRAIN_OPTIONS, predictScores } from '../../src/training/trainer.ts';
import { parseDerived, transform } from '../../src/training/preprocessing.ts';
import { trainTabular, tableHash } from '../../src/training/tabular.ts';
import { exportTabularOnnx } from '../../src/training/export-onnx.ts';
import { tabularManifest } from '../../src/training/tabular-manifest.ts';
import { writeModelVersion } from '../../src/training/write-model.ts';
import { parseCsv } from '../../src/data/readers/csv.ts';
import { createRng } from '../../src/training/rng.ts';
import { ModelRepository } from '../../src/repository/repository.ts';
import { LoadedModel } from '../../src/pipeline/model.ts';
import { decodeModel } from '../../src/onnx/proto.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';

const rng = createRng(9);
const TYPES = ['L', 'M', 'H'];
const lines = ['speed;torque;type;wear;fail;value'];
for (let i = 0; i < 300; i++) {
  const speed = 1400 + rng.normal() * 150;
  const torque = 40 + rng.normal() * 10;
  const type = TYPES[i % 3]!;
  const wear = Math.floor(rng.next() * 240);
  const fail = speed * torque > 62000 || (type === 'L' && wear > 200) ? 1 : 0;
  const value = 0.01 * speed - 0.3 * torque + (type === 'H' ? 5 : 0) + rng.normal() * 0.1;
  lines.push([speed.toFixed(1), torque.toFixed(2), type, wear, fail, value.toFixed(4)].join(';'));
}
const table = parseCsv(lines.join('\r\n'));
const opts = { ...DEFAULT_TRAIN_OPTIONS, epochs: 15, testFraction: 0.2, valFraction: 0.2, derived: [parseDerived('power=speed*torque')] };
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ls-export-'));
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

function feeds(): Record<string, Tensor> {
  const col = (name: string): string[] => table.rows.map((r) => r[table.columns.indexOf(name)]!);
  return {
    speed: { datatype: 'FP32', shape: [table.rows.length, 1], data: Float32Array.from(col('speed'), Number) },
    torque: { datatype: 'FP32', shape: [table.rows.length, 1], data: Float32Array.from(col('torque'), Number) },
    type: { datatype: 'BYTES', shape: [table.rows.length, 1], data: col('type') },
    wear: { datatype: 'FP32', shape: [table.rows.length, 1], data: Float32Array.from(col('wear'), Number) },
  };
}

function trainerScores(m: ReturnType<typeof trainTabular>): Float64Array {
  const cols = new Map(['speed', 'torque', 'type', 'wear'].map((n) => [n, table.rows.map((r) => r[table.columns.indexOf(n)]!)] as const));
  return predictScores(m.network, transform(m.pre, cols));
}

describe('ONNX export', () => {
  for (const [label, task, target, model] of [
    ['binary MLP', 'classification', 'fail', 'mlp'],
    ['logistic regression', 'classification', 'fail', 'logistic'],
    ['multi-class softmax', 'classification', 'type', 'softmax'],
    ['regression MLP with target scaling', 'regression', 'value', 'mlp'],
    ['linear regression', 'regression', 'value', 'linear'],
  ] as const) {
    it(`${label}: onnxruntime output equals the trainer's forward pass within 1e-5`, async () => {
      const features = target === 'type' ? ['speed', 'torque', 'wear'] : ['speed', 'torque', 'type', 'wear'];
      const m = trainTabular(table, { ...opts, model, task, target, features });
      const ex = exportTabularOnnx(m.pre, m.network, task);
      const session = await (await getBackend()).load(ex.onnx);
      try {
        const f = feeds();
        const out = await session.run(Object.fromEntries(features.map((n) => [n, f[n]!])));
        const got = out[ex.outputs[0]!.name]!;
        const want = target === 'type'
          ? predictScores(m.network, transform(m.pre, new Map(features.map((n) => [n, table.rows.map((r) => r[table.columns.indexOf(n)]!)]))))
          : trainerScores(m);
        expect(got.data.length).toBe(want.length);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(Number(got.data[i]) - want[i]!) / Math.max(1, Math.abs(want[i]!)));
        expect(worst).toBeLessThan(1e-5);
      } finally {
        await session.dispose();
      }
    });
  }

  it('writes a repository entry that loads, predicts raw rows and records features, labels, threshold, metrics and data hash', async () => {
    const m = trainTabular(table, { ...opts, model: 'mlp', task: 'classification', target: 'fail', drop: ['value'] });
    const ex = exportTabularOnnx(m.pre, m.network, 'classification');
    const manifest = tabularManifest(m, ex, { onThreshold: 'ALERT', dataFile: 'mem.csv', dataSha256: tableHash(table), dataRows: table.rows.length, trainedAt: '2026-01-01T00:00:00Z', options: { ...opts, model: 'mlp' } });
    const w = await writeModelVersion(tmp, 'fail-model', ex.onnx, manifest, 'test');
    expect(w.version).toBe(1);
    const w2 = await writeModelVersion(tmp, 'fail-model', ex.onnx, manifest, 'test');
    expect(w2.configPath).toBe(path.join(tmp, 'fail-model', '2', 'config.yaml'));
    const repo = await ModelRepository.open(tmp);
    const resolved = await repo.resolve({ name: 'fail-model', version: 1 });
    expect(resolved.manifest.preprocess).toMatchObject({ kind: 'tabular', features: [{ name: 'speed', type: 'numeric' }, { name: 'torque' }, { name: 'type', type: 'categorical', categories: ['H', 'L', 'M'] }, { name: 'wear' }] });
    expect(resolved.manifest.decision).toMatchObject({ on_threshold: 'ALERT', positive_label: '1' });
    expect(resolved.manifest.metadata).toMatchObject({ data: { sha256: tableHash(table) }, test_metrics: { roc_auc: expect.any(Number) } });
    const loaded = await LoadedModel.load(resolved, await getBackend());
    try {
      const preds = await loaded.predictRows([{ speed: 1700, torque: 60, type: 'M', wear: 10 }, { speed: 1300, torque: 30, type: 'H', wear: 10 }]);
      expect(preds[0]!.decision).toBe('ALERT');
      expect(preds[1]!.decision).toBe('PASS');
      expect(preds[0]!.probabilities!['1']).toBeGreaterThan(preds[1]!.probabilities!['1']!);
    } finally {
      await loaded.dispose();
    }
    // The graph is standard ONNX (decodes with the protobuf schema) with preprocessing inside.
    const ops = decodeModel(ex.onnx).graph!.node!.map((n) => n.opType);
    expect(ops).toEqual(expect.arrayContaining(['Equal', 'Cast', 'Mul', 'Concat', 'Sub', 'Div', 'Gemm', 'Relu']));
  });

  it('same data and seed give the same model bytes', () => {
    const a = exportTabularOnnx(...(() => { const m = trainTabular(table, { ...opts, model: 'mlp', task: 'classification', target: 'fail' }); return [m.pre, m.network, 'classification'] as const; })());
    const b = exportTabularOnnx(...(() => { const m = trainTabular(table, { ...opts, model: 'mlp', task: 'classification', target: 'fail' }); return [m.pre, m.network, 'classification'] as const; })());
    expect(Buffer.from(a.onnx).equals(Buffer.from(b.onnx))).toBe(true);
  });
});
