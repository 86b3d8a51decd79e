/** Linear regression y = x·w + b, trained with the spec's MSE loss. */
import { Network, createLayers } from './network.ts';
import type { Rng } from '../rng.ts';

/** A linear model with `outputs` values per row (1 for ordinary regression); starts at zero. */
export function createLinear(inputs: number, rng: Rng, outputs = 1): Network {
  return new Network('linear', createLayers([inputs, outputs], rng, true));
}
