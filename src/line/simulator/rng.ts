import { mulberry32 } from '../../core/rng.ts';

/** A small seeded random source (mulberry32) so simulated lines are reproducible. Pure. */
export class Rng {
  private readonly uniform01: () => number;

  constructor(seed: number) {
    this.uniform01 = mulberry32(seed >>> 0 || 0x9e3779b9);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uniform01();
  }

  /** Normal with the given mean and standard deviation (Box-Muller). */
  normal(mean = 0, sd = 1): number {
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}
