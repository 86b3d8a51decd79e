/**
 * Few-shot fine-tuning of an inspection model without PyTorch: run the ONNX backbone to its
 * embedding output, train a new softmax head by gradient descent on the (standardised) embeddings,
 * and graft the head onto the backbone graph as the new `logits` output.
 */
import { LsError } from '../core/errors.ts';
import { decodeModel, encodeModel, makeNode, makeTensor, makeValueInfo, DataType, type ModelProto } from '../onnx/proto.ts';
import type { Network } from './models/network.ts';
import { DEFAULT_TRAIN_OPTIONS, predictScores, train, type TrainOptions, type TrainResult } from './trainer.ts';
import { columnStats, standardize, type Embeddings } from './embeddings.ts';
import { splitRows } from './split.ts';
import { argmax } from '../pipeline/post/classify.ts';

/** A trained head: standardisation + softmax regression over the embedding. */
export interface Head {
  readonly labels: readonly string[];
  readonly mean: Float64Array;
  readonly std: Float64Array;
  readonly network: Network;
  readonly result: TrainResult;
  /** Accuracy on the validation images held out from the few-shot set (NaN when there are none). */
  readonly valAccuracy: number;
  readonly rows: { train: number; val: number };
}

/** Defaults for training a head on a few dozen embeddings: small batches, more epochs, more patience. */
export const FINETUNE_DEFAULTS: Omit<TrainOptions, 'model'> = { ...DEFAULT_TRAIN_OPTIONS, lr: 0.01, epochs: 200, batchSize: 16, l2: 1e-3, patience: 30, schedule: 'constant' };

/** Train a softmax head on embeddings with class indices `y` (0..labels-1). */
export function trainHead(emb: Embeddings, y: readonly number[], labels: readonly string[], opts: Omit<TrainOptions, 'model'>, valFraction = 0.2): Head {
  const k = labels.length;
  if (k < 2) throw new LsError('LS_ERR_DATASET', `fine-tuning needs at least 2 classes, got ${k}`);
  const counts = labels.map((_, c) => y.filter((v) => v === c).length);
  counts.forEach((n, c) => {
    if (n < 2) throw new LsError('LS_ERR_DATASET', `class "${labels[c]}" has ${n} usable image(s); at least 2 are needed`);
  });
  const split = splitRows(emb.rows, 0, valFraction, opts.seed, y);
  const stats = columnStats(pick(emb.data, emb.dim, split.train), split.train.length, emb.dim);
  const x = standardize(emb.data, emb.rows, emb.dim, stats);
  const mat = (idx: readonly number[]): { data: Float64Array; rows: number; cols: number } => ({ data: pick(x, emb.dim, idx), rows: idx.length, cols: emb.dim });
  const t = (idx: readonly number[]): Float64Array => Float64Array.from(idx, (i) => y[i]!);
  const val = split.val.length ? mat(split.val) : undefined;
  const result = train({ kind: 'multiclass', classes: k }, mat(split.train), t(split.train), val, val ? t(split.val) : undefined, { ...opts, model: 'softmax' });
  let valAccuracy = NaN;
  if (val) {
    const s = predictScores(result.network, val);
    let correct = 0;
    split.val.forEach((i, j) => (argmax(s.subarray(j * k, (j + 1) * k)) === y[i] ? correct++ : 0));
    valAccuracy = correct / split.val.length;
  }
  return { labels, mean: stats.mean, std: stats.std, network: result.network, result, valAccuracy, rows: { train: split.train.length, val: split.val.length } };
}

function pick(data: Float64Array, dim: number, idx: readonly number[]): Float64Array {
  const out = new Float64Array(idx.length * dim);
  idx.forEach((r, j) => out.set(data.subarray(r * dim, (r + 1) * dim), j * dim));
  return out;
}

/**
 * The backbone graph with the head grafted on: the old score output is renamed (and no longer an
 * output), the embedding is flattened, standardised and fed to a Gemm that produces `scoreOutput`.
 */
export function graftHead(backbone: Uint8Array, head: Head, embeddingOutput = 'embedding', scoreOutput = 'logits'): Uint8Array {
  const model: ModelProto = decodeModel(backbone);
  const g = model.graph!;
  if (!(g.output ?? []).some((o) => o.name === embeddingOutput)) {
    throw new LsError('LS_ERR_MODEL_MISMATCH', `the backbone has no "${embeddingOutput}" output`);
  }
  const p = 'finetune_head';
  // Fine-tuning a fine-tuned model replaces its head instead of stacking a second one.
  g.node = (g.node ?? []).filter((n) => !(n.name ?? '').startsWith(`${p}_`));
  g.initializer = (g.initializer ?? []).filter((t) => !(t.name ?? '').startsWith(`${p}_`));
  const old = `backbone_${scoreOutput}`;
  for (const n of g.node ?? []) {
    n.input = (n.input ?? []).map((v) => (v === scoreOutput ? old : v));
    n.output = (n.output ?? []).map((v) => (v === scoreOutput ? old : v));
  }
  g.output = (g.output ?? []).filter((o) => o.name !== scoreOutput);
  const layer = head.network.layers[0]!;
  g.initializer = [
    ...(g.initializer ?? []),
    makeTensor(`${p}_mean`, [layer.inSize], Float32Array.from(head.mean)),
    makeTensor(`${p}_std`, [layer.inSize], Float32Array.from(head.std)),
    makeTensor(`${p}_W`, [layer.inSize, layer.outSize], Float32Array.from(layer.W)),
    makeTensor(`${p}_b`, [layer.outSize], Float32Array.from(layer.b)),
  ];
  g.node = [
    ...(g.node ?? []),
    makeNode('Flatten', [embeddingOutput], [`${p}_flat`], { axis: 1 }, `${p}_flatten`),
    makeNode('Sub', [`${p}_flat`, `${p}_mean`], [`${p}_centred`], {}, `${p}_sub`),
    makeNode('Div', [`${p}_centred`, `${p}_std`], [`${p}_scaled`], {}, `${p}_div`),
    makeNode('Gemm', [`${p}_scaled`, `${p}_W`, `${p}_b`], [scoreOutput], {}, `${p}_gemm`),
  ];
  g.output = [makeValueInfo(scoreOutput, DataType.FLOAT, ['batch', layer.outSize]), ...g.output];
  model.producerName = 'linesight finetune';
  return encodeModel(model);
}
