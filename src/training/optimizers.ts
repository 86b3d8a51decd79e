/**
 * Optimizers update parameter arrays in place from their gradients. `gd` is the spec's rule
 * exactly: θ_new = θ_old − α ∇θ L.
 */

/** One update step for all parameter arrays with learning rate `lr`. */
export interface Optimizer {
  readonly name: string;
  step(params: readonly Float64Array[], grads: readonly Float64Array[], lr: number): void;
}

/** Plain gradient descent: θ ← θ − α g. */
export function gd(): Optimizer {
  return {
    name: 'gd',
    step(params, grads, lr) {
      params.forEach((p, k) => {
        const g = grads[k]!;
        for (let i = 0; i < p.length; i++) p[i] = p[i]! - lr * g[i]!;
      });
    },
  };
}

/** Gradient descent with momentum: v ← μ v + g; θ ← θ − α v. */
export function momentum(mu = 0.9): Optimizer {
  let velocity: Float64Array[] | undefined;
  return {
    name: 'momentum',
    step(params, grads, lr) {
      velocity ??= params.map((p) => new Float64Array(p.length));
      params.forEach((p, k) => {
        const g = grads[k]!;
        const v = velocity![k]!;
        for (let i = 0; i < p.length; i++) {
          v[i] = mu * v[i]! + g[i]!;
          p[i] = p[i]! - lr * v[i]!;
        }
      });
    },
  };
}

/** Adam (Kingma & Ba) with bias correction. */
export function adam(beta1 = 0.9, beta2 = 0.999, eps = 1e-8): Optimizer {
  let m: Float64Array[] | undefined;
  let v: Float64Array[] | undefined;
  let t = 0;
  return {
    name: 'adam',
    step(params, grads, lr) {
      m ??= params.map((p) => new Float64Array(p.length));
      v ??= params.map((p) => new Float64Array(p.length));
      t++;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      params.forEach((p, k) => {
        const g = grads[k]!;
        const mk = m![k]!;
        const vk = v![k]!;
        for (let i = 0; i < p.length; i++) {
          mk[i] = beta1 * mk[i]! + (1 - beta1) * g[i]!;
          vk[i] = beta2 * vk[i]! + (1 - beta2) * g[i]! * g[i]!;
          p[i] = p[i]! - (lr * (mk[i]! / c1)) / (Math.sqrt(vk[i]! / c2) + eps);
        }
      });
    },
  };
}

/** Optimizer names accepted by --optimizer. */
export const OPTIMIZERS = ['gd', 'momentum', 'adam'] as const;
/** One of OPTIMIZERS. */
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** An optimizer by name. */
export function createOptimizer(name: OptimizerName): Optimizer {
  return name === 'gd' ? gd() : name === 'momentum' ? momentum() : adam();
}
