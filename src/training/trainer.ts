/**
 * The training loop: seeded shuffling into mini-batches, forward, loss, explicit backward, L2,
 * an optimizer step with a scheduled learning rate, and early stopping on a validation split
 * (the best parameters seen on validation are the ones returned).
 */
import { LsError } from '../core/errors.ts';
import { balancedClassWeights, binaryCrossEntropy, mse, softmaxCrossEntropy, type Loss } from './losses.ts';
import { createOptimizer, type OptimizerName } from './optimizers.ts';
import { createSchedule, type ScheduleName } from './schedule.ts';
import { createRng, permutation, type Rng } from './rng.ts';
import { createLinear } from './models/linear.ts';
import { createLogistic } from './models/logistic.ts';
import { createSoftmax } from './models/softmax.ts';
import { createMlp } from './models/mlp.ts';
import type { ModelKind, Network } from './models/network.ts';

/** What is learned: a value, a binary label (0/1) or one of k classes (0..k-1). */
export type TrainTask = { kind: 'regression' } | { kind: 'binary' } | { kind: 'multiclass'; classes: number };

/** A design matrix: n rows of f features, row-major. */
export interface Matrix {
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/** How to train: model, optimizer, schedule, batches, regularisation, stopping, seed. */
export interface TrainOptions {
  readonly model: ModelKind;
  readonly hidden: readonly number[];
  readonly optimizer: OptimizerName;
  readonly lr: number;
  readonly schedule: ScheduleName;
  readonly epochs: number;
  readonly batchSize: number;
  /** L2 penalty λ: adds λ·W to the gradient of every weight matrix (biases are not penalised). */
  readonly l2: number;
  /** Epochs without a better validation loss before stopping; 0 = never stop early. */
  readonly patience: number;
  /** Weight classes by n / (k · count) in the cross-entropy (for rare failures). */
  readonly balanced: boolean;
  readonly seed: number;
  readonly onEpoch?: (e: EpochStats) => void;
}

/** Defaults that suit tables of a few thousand rows. */
export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'model'> = {
  hidden: [32, 16],
  optimizer: 'adam',
  lr: 0.01,
  schedule: 'cosine',
  epochs: 60,
  batchSize: 64,
  l2: 1e-4,
  patience: 10,
  balanced: false,
  seed: 42,
};

/** Loss per epoch, as the progress bar and the --json summary report it. */
export interface EpochStats {
  readonly epoch: number;
  readonly lr: number;
  readonly trainLoss: number;
  readonly valLoss: number | undefined;
}

/** The best network and the loss history of a run. */
export interface TrainResult {
  readonly network: Network;
  readonly history: readonly EpochStats[];
  /** The epoch whose parameters were kept (best validation loss). */
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
}

/** Output size of the network for a task. */
export function outputSize(task: TrainTask): number {
  return task.kind === 'multiclass' ? task.classes : 1;
}

/** A fresh network for the task; checks that the model kind fits the task. */
export function createNetwork(kind: ModelKind, task: TrainTask, inputs: number, hidden: readonly number[], rng: Rng): Network {
  if (kind === 'linear') {
    if (task.kind !== 'regression') throw new LsError('LS_ERR_TRAINING', 'the linear model is for regression; use logistic, softmax or mlp for classification');
    return createLinear(inputs, rng);
  }
  if (kind === 'logistic' || kind === 'softmax') {
    if (task.kind === 'regression') throw new LsError('LS_ERR_TRAINING', `the ${kind} model is for classification; use linear or mlp for regression`);
    return task.kind === 'binary' ? createLogistic(inputs, rng) : createSoftmax(inputs, task.classes, rng);
  }
  return createMlp(inputs, hidden, outputSize(task), rng);
}

/** The loss the task trains with. */
export function lossFor(task: TrainTask, targets: Float64Array, balanced: boolean): Loss {
  if (task.kind === 'regression') return mse;
  if (task.kind === 'binary') {
    if (!balanced) return binaryCrossEntropy();
    const w = balancedClassWeights(targets, 2);
    return binaryCrossEntropy([w[0]!, w[1]!]);
  }
  return softmaxCrossEntropy(balanced ? balancedClassWeights(targets, task.classes) : undefined);
}

function takeRows(m: Matrix, idx: ArrayLike<number>, from: number, to: number): Float64Array {
  const out = new Float64Array((to - from) * m.cols);
  for (let r = from; r < to; r++) out.set(m.data.subarray(idx[r]! * m.cols, (idx[r]! + 1) * m.cols), (r - from) * m.cols);
  return out;
}

function takeTargets(t: Float64Array, idx: ArrayLike<number>, from: number, to: number): Float64Array {
  const out = new Float64Array(to - from);
  for (let r = from; r < to; r++) out[r - from] = t[idx[r]!]!;
  return out;
}

/** Mean loss of a network over a whole matrix (in chunks, to bound memory). */
export function meanLoss(net: Network, loss: Loss, x: Matrix, y: Float64Array): number {
  let sum = 0;
  const k = net.outputSize;
  for (let s = 0; s < x.rows; s += 1024) {
    const e = Math.min(x.rows, s + 1024);
    const out = net.forward(x.data.subarray(s * x.cols, e * x.cols), e - s);
    sum += loss(out, y.subarray(s, e), e - s, k).loss;
  }
  return sum / Math.max(1, x.rows);
}

/** Outputs (scores before activation) of a network for every row. */
export function predictScores(net: Network, x: Matrix): Float64Array {
  const k = net.outputSize;
  const out = new Float64Array(x.rows * k);
  for (let s = 0; s < x.rows; s += 1024) {
    const e = Math.min(x.rows, s + 1024);
    out.set(net.forward(x.data.subarray(s * x.cols, e * x.cols), e - s), s * k);
  }
  return out;
}

function checkFinite(m: Matrix, y: Float64Array): void {
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i]!)) throw new LsError('LS_ERR_TRAINING', `feature value at row ${Math.floor(i / m.cols) + 1}, column ${(i % m.cols) + 1} is not finite`);
  }
  for (let i = 0; i < y.length; i++) if (!Number.isFinite(y[i]!)) throw new LsError('LS_ERR_TRAINING', `target at row ${i + 1} is not finite`);
}

/**
 * Train a network on (train) and stop early on (val). Deterministic for a given seed.
 * Throws LS_ERR_TRAINING when the data cannot train a model or the loss diverges.
 */
export function train(task: TrainTask, trainX: Matrix, trainY: Float64Array, valX: Matrix | undefined, valY: Float64Array | undefined, opts: TrainOptions): TrainResult {
  if (trainX.rows < 2) throw new LsError('LS_ERR_TRAINING', `at least 2 training rows are needed, got ${trainX.rows}`);
  if (trainY.length !== trainX.rows) throw new LsError('LS_ERR_TRAINING', `${trainX.rows} feature rows but ${trainY.length} targets`);
  if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw new LsError('LS_ERR_TRAINING', `the learning rate must be a positive number, got ${opts.lr}`);
  if (!(opts.epochs >= 1)) throw new LsError('LS_ERR_TRAINING', `epochs must be >= 1, got ${opts.epochs}`);
  checkFinite(trainX, trainY);
  if (valX && valY) checkFinite(valX, valY);
  const rng = createRng(opts.seed);
  const net = createNetwork(opts.model, task, trainX.cols, opts.hidden, rng);
  const loss = lossFor(task, trainY, opts.balanced);
  const optimizer = createOptimizer(opts.optimizer);
  const schedule = createSchedule(opts.schedule, opts.lr, opts.epochs);
  const params = net.params();
  const weightIdx = new Set(net.weightIndices());
  const k = net.outputSize;
  const bs = Math.max(1, Math.min(opts.batchSize, trainX.rows));
  const history: EpochStats[] = [];
  let best = { loss: Infinity, epoch: 0, net: net.clone() };
  let stale = 0;
  let stoppedEarly = false;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const lr = schedule(epoch);
    const order = permutation(trainX.rows, rng);
    let sum = 0;
    for (let s = 0; s < trainX.rows; s += bs) {
      const e = Math.min(trainX.rows, s + bs);
      const n = e - s;
      const xb = takeRows(trainX, order, s, e);
      const yb = takeTargets(trainY, order, s, e);
      const out = net.forward(xb, n);
      const { loss: l, grad } = loss(out, yb, n, k);
      sum += l;
      // Mean over the batch so the learning rate does not depend on the batch size.
      for (let i = 0; i < grad.length; i++) grad[i]! /= n;
      const grads = net.backward(grad, n);
      if (opts.l2 > 0) {
        grads.forEach((g, gi) => {
          if (!weightIdx.has(gi)) return;
          const p = params[gi]!;
          for (let i = 0; i < g.length; i++) g[i]! += opts.l2 * p[i]!;
        });
      }
      optimizer.step(params, grads, lr);
    }
    const trainLoss = sum / trainX.rows;
    if (!Number.isFinite(trainLoss)) {
      throw new LsError('LS_ERR_TRAINING', `the loss diverged at epoch ${epoch + 1} (lr ${lr}); lower --lr or check the data for extreme values`);
    }
    const valLoss = valX && valY && valX.rows ? meanLoss(net, loss, valX, valY) : undefined;
    const stats: EpochStats = { epoch: epoch + 1, lr, trainLoss, valLoss };
    history.push(stats);
    opts.onEpoch?.(stats);
    const monitored = valLoss ?? trainLoss;
    if (monitored < best.loss - 1e-9) {
      best = { loss: monitored, epoch: epoch + 1, net: net.clone() };
      stale = 0;
    } else if (opts.patience > 0 && ++stale >= opts.patience) {
      stoppedEarly = true;
      break;
    }
  }
  return { network: best.net, history, bestEpoch: best.epoch, stoppedEarly };
}
