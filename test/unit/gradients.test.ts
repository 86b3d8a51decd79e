import { describe, expect, it } from 'vitest';
import { binaryCrossEntropy, mse, softmaxCrossEntropy, type Loss } from '../../src/training/losses.ts';
import { createRng } from '../../src/training/rng.ts';
import { createLinear } from '../../src/training/models/linear.ts';
import { createLogistic } from '../../src/training/models/logistic.ts';
import { createSoftmax } from '../../src/training/models/softmax.ts';
import { createMlp } from '../../src/training/models/mlp.ts';
import type { Network } from '../../src/training/models/network.ts';

const N = 5;
const F = 4;

function randomArray(n: number, seed: number, scale = 1): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: n }, () => rng.normal() * scale);
}

/** Randomise all parameters so zero-initialised models have non-trivial gradients too. */
function randomise(net: Network, seed: number): Network {
  const rng = createRng(seed);
  for (const p of net.params()) for (let i = 0; i < p.length; i++) p[i] = rng.normal() * 0.7;
  return net;
}

function lossOf(net: Network, loss: Loss, x: Float64Array, t: Float64Array): number {
  return loss(net.forward(x, N), t, N, net.outputSize).loss;
}

/** Compare every analytic gradient entry with a central finite difference. */
function checkGradients(net: Network, loss: Loss, t: Float64Array): number {
  const x = randomArray(N * net.inputSize, 7);
  const out = net.forward(x, N);
  const { grad } = loss(out, t, N, net.outputSize);
  const grads = net.backward(grad, N);
  const eps = 1e-6;
  let checked = 0;
  net.params().forEach((p, k) => {
    for (let i = 0; i < p.length; i++) {
      const orig = p[i]!;
      p[i] = orig + eps;
      const up = lossOf(net, loss, x, t);
      p[i] = orig - eps;
      const down = lossOf(net, loss, x, t);
      p[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const analytic = grads[k]![i]!;
      expect(Math.abs(numeric - analytic), `param ${k}[${i}]: numeric ${numeric} analytic ${analytic}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(numeric)));
      checked++;
    }
  });
  return checked;
}

const regressionTargets = randomArray(N, 3);
const binaryTargets = Float64Array.from([0, 1, 1, 0, 1]);
const classTargets = Float64Array.from([0, 2, 1, 2, 0]);

describe('loss gradients with respect to the outputs', () => {
  const cases: Array<[string, Loss, number, Float64Array]> = [
    ['mse', mse, 1, regressionTargets],
    ['binary cross-entropy', binaryCrossEntropy(), 1, binaryTargets],
    ['class-weighted binary cross-entropy', binaryCrossEntropy([0.3, 4]), 1, binaryTargets],
    ['softmax cross-entropy', softmaxCrossEntropy(), 3, classTargets],
    ['class-weighted softmax cross-entropy', softmaxCrossEntropy([1, 0.5, 3]), 3, classTargets],
  ];
  for (const [name, loss, k, t] of cases) {
    it(name, () => {
      const z = randomArray(N * k, 11, 2);
      const { grad } = loss(z, t, N, k);
      for (let i = 0; i < z.length; i++) {
        const orig = z[i]!;
        z[i] = orig + 1e-6;
        const up = loss(z, t, N, k).loss;
        z[i] = orig - 1e-6;
        const down = loss(z, t, N, k).loss;
        z[i] = orig;
        expect(grad[i]!).toBeCloseTo((up - down) / 2e-6, 6);
      }
    });
  }

  it('MSE is exactly ½ Σ (y − y_true)²', () => {
    const r = mse(Float64Array.from([1, 2, 4]), Float64Array.from([0, 2, 1]), 3, 1);
    expect(r.loss).toBe(0.5 * (1 + 0 + 9));
    expect(Array.from(r.grad)).toEqual([1, 0, 3]);
  });

  it('binary cross-entropy stays finite for extreme logits', () => {
    const r = binaryCrossEntropy()(Float64Array.from([800, -800]), Float64Array.from([0, 1]), 2, 1);
    expect(r.loss).toBeCloseTo(1600, 6);
    expect(Array.from(r.grad)).toEqual([1, -1]);
  });
});

describe('every parameter gradient matches finite differences', () => {
  it('linear regression + MSE', () => {
    expect(checkGradients(randomise(createLinear(F, createRng(1)), 2), mse, regressionTargets)).toBe(F + 1);
  });
  it('logistic regression + class-weighted cross-entropy', () => {
    expect(checkGradients(randomise(createLogistic(F, createRng(1)), 3), binaryCrossEntropy([0.5, 3]), binaryTargets)).toBe(F + 1);
  });
  it('softmax regression + cross-entropy', () => {
    expect(checkGradients(randomise(createSoftmax(F, 3, createRng(1)), 4), softmaxCrossEntropy(), classTargets)).toBe(F * 3 + 3);
  });
  for (const hidden of [[6], [6, 5], [6, 5, 4]]) {
    it(`MLP ${hidden.join('-')} with MSE, binary and softmax cross-entropy`, () => {
      checkGradients(createMlp(F, hidden, 1, createRng(5)), mse, regressionTargets);
      checkGradients(createMlp(F, hidden, 1, createRng(6)), binaryCrossEntropy([1, 2]), binaryTargets);
      const checked = checkGradients(createMlp(F, hidden, 3, createRng(7)), softmaxCrossEntropy([2, 1, 1]), classTargets);
      const sizes = [F, ...hidden, 3];
      let expected = 0;
      for (let k = 0; k + 1 < sizes.length; k++) expected += sizes[k]! * sizes[k + 1]! + sizes[k + 1]!;
      expect(checked).toBe(expected);
    });
  }
});
