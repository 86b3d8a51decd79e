/** Multi-layer perceptron: 1-3 hidden ReLU layers, then a linear output layer. */
import { LsError } from '../../core/errors.ts';
import { Network, createLayers } from './network.ts';
import type { Rng } from '../rng.ts';

/** An MLP inputs → hidden... → outputs with seeded He initialisation. */
export function createMlp(inputs: number, hidden: readonly number[], outputs: number, rng: Rng): Network {
  if (hidden.length < 1 || hidden.length > 3) throw new LsError('LS_ERR_TRAINING', `an MLP has 1 to 3 hidden layers, got ${hidden.length}`);
  if (hidden.some((h) => !Number.isInteger(h) || h < 1 || h > 4096)) throw new LsError('LS_ERR_TRAINING', `hidden layer sizes must be integers 1..4096, got ${hidden.join(',')}`);
  return new Network('mlp', createLayers([inputs, ...hidden, outputs], rng));
}
