/** Small real ONNX models built in tests through the protobuf schema (no fixtures to keep in sync). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DataType, encodeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/proto.ts';

/** A linear image classifier: [N,1,S,S] -> Flatten -> Gemm -> logits [N,K]; weights seeded. */
export function tinyImageClassifier(size = 8, classes = 3, seed = 1): Uint8Array {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const F = size * size;
  const W = Float32Array.from({ length: F * classes }, rnd);
  const B = Float32Array.from({ length: classes }, rnd);
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'linesight-tests',
    graph: {
      name: 'tiny',
      node: [makeNode('Flatten', ['image'], ['flat'], { axis: 1 }), makeNode('Gemm', ['flat', 'W', 'B'], ['logits'], { transB: 0 })],
      initializer: [makeTensor('W', [F, classes], W), makeTensor('B', [classes], B)],
      input: [makeValueInfo('image', DataType.FLOAT, ['batch', 1, size, size])],
      output: [makeValueInfo('logits', DataType.FLOAT, ['batch', classes])],
    },
  });
}

export interface TinyRepoOptions {
  name?: string;
  versions?: number[];
  labels?: string[];
  config?: Record<string, unknown>;
}

/** Write a model repository entry with a tiny image classifier; returns the repository root. */
export function writeTinyRepo(root: string, opts: TinyRepoOptions = {}): string {
  const name = opts.name ?? 'tiny';
  const labels = opts.labels ?? ['ok', 'scratch', 'dent'];
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const config = {
    name, task: 'classification', max_batch_size: 8,
    inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 8, 8] }],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [labels.length] }],
    preprocess: { kind: 'image', width: 8, height: 8, color: 'gray' },
    postprocess: { output: 'logits', activation: 'softmax', top_k: 3 },
    labels,
    decision: { reject_classes: labels.slice(1) },
    ...opts.config,
  };
  writeFileSync(path.join(dir, 'config.yaml'), YAML.stringify(config));
  for (const v of opts.versions ?? [1]) {
    mkdirSync(path.join(dir, String(v)), { recursive: true });
    writeFileSync(path.join(dir, String(v), 'model.onnx'), tinyImageClassifier(8, labels.length, v));
  }
  return root;
}
