/**
 * Tiny stand-ins for the bundled models, built with src/onnx/proto.ts, so line tests run without the
 * trained files: `machine-failure` (logistic model over the five AI4I numeric features; risk grows
 * with torque and tool wear) and `steel-surface` (mean brightness -> 6 class logits).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DataType, encodeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/proto.ts';

/** A healthy machine reading (sensor values as the line's fixture config names them). */
export const HEALTHY_VALUES = { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 40, tool_wear_min: 20 };

export const AI4I_FEATURES = ['Air temperature [K]', 'Process temperature [K]', 'Rotational speed [rpm]', 'Torque [Nm]', 'Tool wear [min]'] as const;

function machineFailureOnnx(): Uint8Array {
  // z = w . ((x - mean) / std) + b ; logits = [0, z] so softmax gives P(failure) = sigmoid(z)
  const mean = [300, 310, 1539, 40, 108];
  const std = [2, 1.5, 180, 10, 63];
  const w = [0.3, -0.1, 0.5, 2.0, 1.6];
  const W = new Float32Array(10);
  w.forEach((v, i) => (W[i * 2 + 1] = v));
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'machine_failure_fixture',
      initializer: [
        makeTensor('mean', [5], Float32Array.from(mean)),
        makeTensor('std', [5], Float32Array.from(std)),
        makeTensor('W', [5, 2], W),
        makeTensor('b', [2], Float32Array.from([0, -5])),
      ],
      node: [makeNode('Sub', ['features', 'mean'], ['c']), makeNode('Div', ['c', 'std'], ['s']), makeNode('MatMul', ['s', 'W'], ['m']), makeNode('Add', ['m', 'b'], ['logits'])],
      input: [makeValueInfo('features', DataType.FLOAT, ['batch', 5])],
      output: [makeValueInfo('logits', DataType.FLOAT, ['batch', 2])],
    },
  });
}

const MACHINE_CONFIG = `name: machine-failure
description: test stand-in (logistic on AI4I features)
task: classification
max_batch_size: 1024
inputs:
  - { name: features, datatype: FP32, shape: [5] }
outputs:
  - { name: logits, datatype: FP32, shape: [2] }
preprocess:
  kind: tabular
  features:
${AI4I_FEATURES.map((f) => `    - { name: "${f}" }`).join('\n')}
postprocess: { output: logits, activation: softmax, top_k: 2 }
labels: [ok, failure]
decision: { threshold: 0.5, positive_label: failure, on_threshold: ALERT }
`;

function steelOnnx(): Uint8Array {
  const W = Float32Array.from([30, -10, 5, -20, 10, -15]);
  const B = Float32Array.from([-10, 5, -2, 10, -4, 7]);
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'steel_fixture',
      initializer: [makeTensor('W', [1, 6], W), makeTensor('B', [6], B)],
      node: [makeNode('GlobalAveragePool', ['image'], ['g']), makeNode('Flatten', ['g'], ['f'], { axis: 1 }), makeNode('Gemm', ['f', 'W', 'B'], ['logits'])],
      input: [makeValueInfo('image', DataType.FLOAT, ['batch', 1, 224, 224])],
      output: [makeValueInfo('logits', DataType.FLOAT, ['batch', 6])],
    },
  });
}

const STEEL_CONFIG = `name: steel-surface
task: classification
max_batch_size: 16
inputs:
  - { name: image, datatype: FP32, shape: [1, 224, 224] }
outputs:
  - { name: logits, datatype: FP32, shape: [6] }
preprocess: { kind: image, mode: opencv, width: 224, height: 224, color: gray, scale: 0.00392156862745098 }
postprocess: { output: logits, activation: softmax, top_k: 3 }
labels: [crazing, inclusion, patches, pitted_surface, rolled-in_scale, scratches]
decision: { reject_classes: [inclusion, patches, pitted_surface, scratches], min_probability: 0.3 }
`;

/** Write both fixture models into `<dir>/models` and return that folder. */
export function writeFixtureRepo(dir: string): string {
  const repo = path.join(dir, 'models');
  mkdirSync(path.join(repo, 'machine-failure', '1'), { recursive: true });
  writeFileSync(path.join(repo, 'machine-failure', 'config.yaml'), MACHINE_CONFIG);
  writeFileSync(path.join(repo, 'machine-failure', '1', 'model.onnx'), machineFailureOnnx());
  mkdirSync(path.join(repo, 'steel-surface', '1'), { recursive: true });
  writeFileSync(path.join(repo, 'steel-surface', 'config.yaml'), STEEL_CONFIG);
  writeFileSync(path.join(repo, 'steel-surface', '1', 'model.onnx'), steelOnnx());
  return repo;
}
