/** Logistic regression: one logit z = x·w + b, P(positive) = σ(z), trained with binary cross-entropy. */
import { Network, createLayers } from './network.ts';
import type { Rng } from '../rng.ts';

/** A logistic regression model; starts at zero (the loss is convex, so no symmetry to break). */
export function createLogistic(inputs: number, rng: Rng): Network {
  return new Network('logistic', createLayers([inputs, 1], rng, true));
}
