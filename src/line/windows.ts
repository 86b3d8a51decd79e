/**
 * Rolling windows over a stream of sensor values: mean, std, min, max, slope or last value over
 * the last N readings or the last T seconds. Pure (time comes from the readings themselves).
 */
import type { WindowSpec } from './line-config.ts';

/** One rolling window of (time, value) pairs. Mean and std are kept as running sums: O(1) per reading. */
export class RollingWindow {
  private ts: number[] = [];
  private vs: number[] = [];
  private head = 0;
  private sum = 0;
  private sumSq = 0;

  constructor(readonly spec: WindowSpec) {}

  /** Number of values currently in the window. */
  get size(): number {
    return this.vs.length - this.head;
  }

  /** Add a value observed at `tsMs` and drop what fell out of the window. */
  push(tsMs: number, value: number): void {
    this.ts.push(tsMs);
    this.vs.push(value);
    this.sum += value;
    this.sumSq += value * value;
    if (this.spec.readings !== undefined) {
      while (this.size > this.spec.readings) this.dropOne();
    } else {
      const from = tsMs - (this.spec.seconds ?? 0) * 1000;
      while (this.size > 1 && this.ts[this.head]! < from) this.dropOne();
    }
    // compact the arrays once the dead prefix is large, so memory stays bounded by the window size
    if (this.head > 1024 && this.head > this.size) {
      this.ts = this.ts.slice(this.head);
      this.vs = this.vs.slice(this.head);
      this.head = 0;
    }
  }

  private dropOne(): void {
    const v = this.vs[this.head]!;
    this.sum -= v;
    this.sumSq -= v * v;
    this.head++;
  }

  /** The aggregate over the window; NaN when it is empty. */
  value(): number {
    const n = this.size;
    if (n === 0) return NaN;
    switch (this.spec.agg) {
      case 'last':
        return this.vs[this.vs.length - 1]!;
      case 'mean':
        return this.sum / n;
      case 'std': {
        if (n < 2) return 0;
        // sample standard deviation; running sums can go slightly negative through rounding
        const mean = this.sum / n;
        return Math.sqrt(Math.max(0, (this.sumSq - n * mean * mean) / (n - 1)));
      }
      case 'min': {
        let m = Infinity;
        for (let i = this.head; i < this.vs.length; i++) m = Math.min(m, this.vs[i]!);
        return m;
      }
      case 'max': {
        let m = -Infinity;
        for (let i = this.head; i < this.vs.length; i++) m = Math.max(m, this.vs[i]!);
        return m;
      }
      case 'slope':
        return this.slope();
    }
  }

  /** Least-squares slope in value units per second; 0 with fewer than two distinct times. */
  private slope(): number {
    const n = this.size;
    if (n < 2) return 0;
    const t0 = this.ts[this.head]!;
    let st = 0, sv = 0, stt = 0, stv = 0;
    for (let i = this.head; i < this.vs.length; i++) {
      const t = (this.ts[i]! - t0) / 1000;
      const v = this.vs[i]!;
      st += t; sv += v; stt += t * t; stv += t * v;
    }
    const den = n * stt - st * st;
    return den <= 1e-12 ? 0 : (n * stv - st * sv) / den;
  }
}

/** The windows of one machine, one per windowed feature. */
export class MachineWindows {
  private readonly windows: Array<{ feature: string; value: string; w: RollingWindow }>;

  constructor(specs: ReadonlyArray<{ feature: string; value: string; window: WindowSpec }>) {
    this.windows = specs.map((s) => ({ feature: s.feature, value: s.value, w: new RollingWindow(s.window) }));
  }

  /** Feed one reading; returns each windowed feature's current aggregate. */
  push(tsMs: number, values: Readonly<Record<string, number>>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const x of this.windows) {
      const v = values[x.value];
      if (v !== undefined) x.w.push(tsMs, v);
      out[x.feature] = x.w.value();
    }
    return out;
  }
}
