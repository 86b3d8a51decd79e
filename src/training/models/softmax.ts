/** Softmax (multinomial logistic) regression: k logits z = x·W + b, trained with cross-entropy. */
import { Network, createLayers } from './network.ts';
import type { Rng } from '../rng.ts';

/** A softmax regression model for `classes` classes; starts at zero. */
export function createSoftmax(inputs: number, classes: number, rng: Rng): Network {
  return new Network('softmax', createLayers([inputs, classes], rng, true));
}
