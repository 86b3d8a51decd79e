/** A temporary model repository for serving tests: the tiny image classifier plus an "echo" model of many datatypes. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { DataType, encodeModel, makeNode, makeValueInfo } from '../../../src/onnx/proto.ts';
import { tinyImageClassifier, writeTinyRepo } from '../../helpers/tiny-model.ts';

/** Inputs of the echo model: each comes back unchanged as `<name>_out`. */
export const ECHO_INPUTS = [
  { name: 'f32', datatype: 'FP32', onnx: DataType.FLOAT, shape: [4] },
  { name: 'i64', datatype: 'INT64', onnx: DataType.INT64, shape: [2] },
  { name: 'h', datatype: 'FP16', onnx: DataType.FLOAT16, shape: [2] },
  { name: 's', datatype: 'BYTES', onnx: DataType.STRING, shape: [1] },
  { name: 'b', datatype: 'BOOL', onnx: DataType.BOOL, shape: [2] },
  { name: 'u8', datatype: 'UINT8', onnx: DataType.UINT8, shape: [3] },
  { name: 'nf', datatype: 'FP32', onnx: DataType.FLOAT, shape: [1], allow_nonfinite: true },
] as const;

export function echoModel(): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'echo',
      node: ECHO_INPUTS.map((i) => makeNode('Identity', [i.name], [`${i.name}_out`])),
      input: ECHO_INPUTS.map((i) => makeValueInfo(i.name, i.onnx, ['batch', ...i.shape])),
      output: ECHO_INPUTS.map((i) => makeValueInfo(`${i.name}_out`, i.onnx, ['batch', ...i.shape])),
    },
  });
}

export function writeEchoModel(root: string, config: Record<string, unknown> = {}): void {
  const dir = path.join(root, 'echo');
  mkdirSync(path.join(dir, '1'), { recursive: true });
  writeFileSync(path.join(dir, '1', 'model.onnx'), echoModel());
  writeFileSync(
    path.join(dir, 'config.yaml'),
    YAML.stringify({
      name: 'echo',
      task: 'regression',
      max_batch_size: 8,
      inputs: ECHO_INPUTS.map((i) => ({ name: i.name, datatype: i.datatype, shape: [...i.shape], ...('allow_nonfinite' in i ? { allow_nonfinite: true } : {}) })),
      outputs: ECHO_INPUTS.map((i) => ({ name: `${i.name}_out`, datatype: i.datatype, shape: [...i.shape] })),
      postprocess: { output: 'f32_out', activation: 'none' },
      ...config,
    }),
  );
}

/** A fresh repository with `tiny` (versions given) and `echo`; returns its path. */
export function makeServingRepo(opts: { tinyVersions?: number[]; tinyConfig?: Record<string, unknown> } = {}): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ls-serving-'));
  writeTinyRepo(root, { versions: opts.tinyVersions ?? [1], config: { dynamic_batching: { max_queue_delay_ms: 1 }, ...opts.tinyConfig } });
  writeEchoModel(root);
  return root;
}

/** One echo request input set (batch 1) in v2 JSON form. */
export function echoInputs(batch = 1): Array<{ name: string; shape: number[]; datatype: string; data: unknown[] }> {
  const rep = <T>(xs: T[]): T[] => Array.from({ length: batch }, () => xs).flat();
  return [
    { name: 'f32', shape: [batch, 4], datatype: 'FP32', data: rep([1.5, -2, 3.25, 0]) },
    { name: 'i64', shape: [batch, 2], datatype: 'INT64', data: rep([-5, 9007199254740991]) },
    { name: 'h', shape: [batch, 2], datatype: 'FP16', data: rep([0.5, -1.25]) },
    { name: 's', shape: [batch, 1], datatype: 'BYTES', data: rep(['héllo']) },
    { name: 'b', shape: [batch, 2], datatype: 'BOOL', data: rep([true, false]) },
    { name: 'u8', shape: [batch, 3], datatype: 'UINT8', data: rep([0, 128, 255]) },
    { name: 'nf', shape: [batch, 1], datatype: 'FP32', data: rep(['NaN']) },
  ];
}

/**
 * A model "wide" whose session holds ~1 MB of weights (64x64 input, 64 classes), so that a leaked
 * session shows up in RSS: 200 leaks would add well over 200 MB.
 */
export function writeWideModel(root: string): void {
  const dir = path.join(root, 'wide');
  mkdirSync(path.join(dir, '1'), { recursive: true });
  writeFileSync(path.join(dir, '1', 'model.onnx'), tinyImageClassifier(64, 64, 1));
  writeFileSync(
    path.join(dir, 'config.yaml'),
    YAML.stringify({
      name: 'wide', task: 'classification', max_batch_size: 4,
      inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 64, 64] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [64] }],
    }),
  );
}
