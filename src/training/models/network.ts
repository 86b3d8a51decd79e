/**
 * The network every trainable model is: dense layers with ReLU between them (none for the linear,
 * logistic and softmax models). Forward caches what backward needs; gradients are written out.
 */
import { denseBackward, denseForward, type DenseLayer } from './dense.ts';
import type { Rng } from '../rng.ts';

/** Model kinds accepted by --model. */
export const MODEL_KINDS = ['linear', 'logistic', 'softmax', 'mlp'] as const;
/** One of MODEL_KINDS. */
export type ModelKind = (typeof MODEL_KINDS)[number];

/** A trainable network: parameters in a fixed order [W0, b0, W1, b1, ...]. */
export class Network {
  private cache: { inputs: Float64Array[]; pre: Float64Array[] } | undefined;

  constructor(
    readonly kind: ModelKind,
    readonly layers: readonly DenseLayer[],
  ) {}

  get inputSize(): number {
    return this.layers[0]!.inSize;
  }
  get outputSize(): number {
    return this.layers[this.layers.length - 1]!.outSize;
  }

  /** All parameter arrays (views into the layers: updating them updates the network). */
  params(): Float64Array[] {
    return this.layers.flatMap((l) => [l.W, l.b]);
  }

  /** Indices in params() of the weight matrices (L2 applies to these, not to biases). */
  weightIndices(): number[] {
    return this.layers.map((_, i) => 2 * i);
  }

  /** Output scores [n × outputSize] (before sigmoid/softmax); caches activations for backward(). */
  forward(x: Float64Array, n: number): Float64Array {
    const inputs: Float64Array[] = [];
    const pre: Float64Array[] = [];
    let a = x;
    this.layers.forEach((layer, k) => {
      inputs.push(a);
      const z = denseForward(layer, a, n);
      pre.push(z);
      if (k < this.layers.length - 1) {
        const h = new Float64Array(z.length);
        for (let i = 0; i < z.length; i++) h[i] = z[i]! > 0 ? z[i]! : 0;
        a = h;
      } else a = z;
    });
    this.cache = { inputs, pre };
    return a;
  }

  /** Gradients of the loss for the last forward() batch, given ∂L/∂outputs; same order as params(). */
  backward(dOut: Float64Array, n: number): Float64Array[] {
    if (!this.cache) throw new Error('backward() called before forward()');
    const grads: Float64Array[] = new Array(this.layers.length * 2);
    let dz = dOut;
    for (let k = this.layers.length - 1; k >= 0; k--) {
      const g = denseBackward(this.layers[k]!, this.cache.inputs[k]!, dz, n, k > 0);
      grads[2 * k] = g.dW;
      grads[2 * k + 1] = g.db;
      if (k > 0) {
        // Through the ReLU: the gradient passes where the pre-activation was positive.
        const pre = this.cache.pre[k - 1]!;
        const dx = g.dx!;
        for (let i = 0; i < dx.length; i++) if (pre[i]! <= 0) dx[i] = 0;
        dz = dx;
      }
    }
    return grads;
  }

  /** A deep copy (for keeping the best parameters during early stopping). */
  clone(): Network {
    return new Network(this.kind, this.layers.map((l) => ({ inSize: l.inSize, outSize: l.outSize, W: Float64Array.from(l.W), b: Float64Array.from(l.b) })));
  }

  /** Plain JSON of the weights. */
  toJSON(): { kind: ModelKind; layers: Array<{ inSize: number; outSize: number; W: number[]; b: number[] }> } {
    return { kind: this.kind, layers: this.layers.map((l) => ({ inSize: l.inSize, outSize: l.outSize, W: Array.from(l.W), b: Array.from(l.b) })) };
  }
}

/** Dense layers of the given sizes; He initialisation before ReLUs, small Glorot-like at the output. */
export function createLayers(sizes: readonly number[], rng: Rng, zeroInit = false): DenseLayer[] {
  const layers: DenseLayer[] = [];
  for (let k = 0; k + 1 < sizes.length; k++) {
    const I = sizes[k]!;
    const O = sizes[k + 1]!;
    const W = new Float64Array(I * O);
    const last = k + 2 === sizes.length;
    const scale = last ? Math.sqrt(1 / (I + O)) : Math.sqrt(2 / I);
    if (!zeroInit) for (let i = 0; i < W.length; i++) W[i] = rng.normal() * scale;
    layers.push({ inSize: I, outSize: O, W, b: new Float64Array(O) });
  }
  return layers;
}
