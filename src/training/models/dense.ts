/** A fully connected layer z = x W + b on row-major Float64Arrays, with its explicit gradients. */

/** Weights W [in × out] (row-major) and bias b [out]. */
export interface DenseLayer {
  readonly inSize: number;
  readonly outSize: number;
  readonly W: Float64Array;
  readonly b: Float64Array;
}

/** z[n × out] = x[n × in] · W + b. */
export function denseForward(layer: DenseLayer, x: Float64Array, n: number): Float64Array {
  const { inSize: I, outSize: O, W, b } = layer;
  const z = new Float64Array(n * O);
  for (let r = 0; r < n; r++) {
    const zo = r * O;
    for (let j = 0; j < O; j++) z[zo + j] = b[j]!;
    const xo = r * I;
    for (let i = 0; i < I; i++) {
      const xv = x[xo + i]!;
      if (xv === 0) continue;
      const wo = i * O;
      for (let j = 0; j < O; j++) z[zo + j]! += xv * W[wo + j]!;
    }
  }
  return z;
}

/**
 * Given ∂L/∂z, returns ∂L/∂W = xᵀ·dz, ∂L/∂b = Σ_rows dz and, when wanted, ∂L/∂x = dz·Wᵀ.
 */
export function denseBackward(
  layer: DenseLayer,
  x: Float64Array,
  dz: Float64Array,
  n: number,
  wantInputGrad: boolean,
): { dW: Float64Array; db: Float64Array; dx?: Float64Array } {
  const { inSize: I, outSize: O, W } = layer;
  const dW = new Float64Array(I * O);
  const db = new Float64Array(O);
  const dx = wantInputGrad ? new Float64Array(n * I) : undefined;
  for (let r = 0; r < n; r++) {
    const zo = r * O;
    const xo = r * I;
    for (let j = 0; j < O; j++) db[j]! += dz[zo + j]!;
    for (let i = 0; i < I; i++) {
      const xv = x[xo + i]!;
      const wo = i * O;
      let acc = 0;
      for (let j = 0; j < O; j++) {
        const g = dz[zo + j]!;
        dW[wo + j]! += xv * g;
        acc += g * W[wo + j]!;
      }
      if (dx) dx[xo + i] = acc;
    }
  }
  return dx ? { dW, db, dx } : { dW, db };
}
