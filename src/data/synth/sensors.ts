/**
 * Synthetic machine readings following the physics of the AI4I 2020 data set (Matzka 2020), with
 * its five failure modes. SYNTHETIC: for tests, demos and the simulator, never a substitute for plant data.
 *  - TWF tool wear failure: the tool fails at a random wear between 200 and 240 min;
 *  - HDF heat dissipation: process − air temperature < 8.6 K and speed < 1380 rpm;
 *  - PWF power: torque × angular speed < 3500 W or > 9000 W;
 *  - OSF overstrain: tool wear × torque > 11,000 (L), 12,000 (M), 13,000 (H) min·Nm;
 *  - RNF random: 0.1 % of processes fail regardless.
 */
import { createRng, type Rng } from '../../training/rng.ts';

/** AI4I product quality variant: low, medium, high. */
export type ProductType = 'L' | 'M' | 'H';

/** One reading, with the same value names the simulator publishes. */
export interface SensorValues {
  readonly air_temperature_k: number;
  readonly process_temperature_k: number;
  readonly rotational_speed_rpm: number;
  readonly torque_nm: number;
  readonly tool_wear_min: number;
}

/** Which of the five AI4I failure modes a reading triggers. */
export interface FailureModes {
  readonly TWF: boolean;
  readonly HDF: boolean;
  readonly PWF: boolean;
  readonly OSF: boolean;
  readonly RNF: boolean;
}

/** One process: product type, readings and failures. */
export interface SensorReading {
  readonly type: ProductType;
  readonly values: SensorValues;
  readonly failures: FailureModes;
  /** Any failure mode. */
  readonly failure: boolean;
}

/** Wear added per process, by product quality variant (AI4I: H/M/L add 5/3/2 minutes). */
const WEAR_PER_PROCESS: Record<ProductType, number> = { L: 2, M: 3, H: 5 };
const OSF_LIMIT: Record<ProductType, number> = { L: 11000, M: 12000, H: 13000 };

/** The failure modes a reading triggers (RNF needs the generator's randomness, so it is passed in). */
export function failureModes(type: ProductType, v: SensorValues, toolLife: number, random: boolean): FailureModes {
  const power = v.torque_nm * ((v.rotational_speed_rpm * 2 * Math.PI) / 60);
  return {
    TWF: v.tool_wear_min >= toolLife,
    HDF: v.process_temperature_k - v.air_temperature_k < 8.6 && v.rotational_speed_rpm < 1380,
    PWF: power < 3500 || power > 9000,
    OSF: v.tool_wear_min * v.torque_nm > OSF_LIMIT[type],
    RNF: random,
  };
}

/** Seed and optional fixed product type of a generator. */
export interface SensorGeneratorOptions {
  readonly seed?: number;
  /** Force a product type; default L 50 %, M 30 %, H 20 % as in AI4I. */
  readonly type?: ProductType;
}

/** A stateful generator: temperatures drift as random walks and the tool wears until it fails or is replaced. */
export class SensorGenerator {
  private readonly rng: Rng;
  private air = 300;
  private processOffset = 10;
  private wear = 0;
  private toolLife: number;

  constructor(private readonly opts: SensorGeneratorOptions = {}) {
    this.rng = createRng(opts.seed ?? 1);
    this.toolLife = this.newToolLife();
  }

  private newToolLife(): number {
    return 200 + this.rng.next() * 40;
  }

  private pickType(): ProductType {
    if (this.opts.type) return this.opts.type;
    const u = this.rng.next();
    return u < 0.5 ? 'L' : u < 0.8 ? 'M' : 'H';
  }

  /** The next process: a reading and the failures it causes. */
  next(): SensorReading {
    const r = this.rng;
    const type = this.pickType();
    // AR(1) random walks around AI4I's means: air 300 K (sd 2), process = air + 10 K (sd 1).
    this.air = 300 + 0.97 * (this.air - 300) + r.normal() * 2 * Math.sqrt(1 - 0.97 ** 2);
    this.processOffset = 10 + 0.97 * (this.processOffset - 10) + r.normal() * Math.sqrt(1 - 0.97 ** 2);
    const torque = clamp(40 + r.normal() * 10, 3.8, 76.6);
    // Speed falls as torque rises (roughly constant power), with noise, as in AI4I's speed/torque scatter.
    const speed = clamp(1540 - 14 * (torque - 40) + r.normal() * 90, 1181, 2886);
    this.wear += WEAR_PER_PROCESS[type];
    const values: SensorValues = {
      // Clamped to the ranges AI4I records, so models trained on AI4I see plausible readings.
      air_temperature_k: round(clamp(this.air, 295.3, 304.4), 1),
      process_temperature_k: round(clamp(this.air + this.processOffset, 305.7, 313.8), 1),
      rotational_speed_rpm: Math.round(speed),
      torque_nm: round(torque, 1),
      tool_wear_min: this.wear,
    };
    const failures = failureModes(type, values, this.toolLife, r.next() < 0.001);
    const failure = failures.TWF || failures.HDF || failures.PWF || failures.OSF || failures.RNF;
    // A failed or worn-out tool is replaced.
    if (failures.TWF || failures.OSF || this.wear >= 240) {
      this.wear = 0;
      this.toolLife = this.newToolLife();
    }
    return { type, values, failures, failure };
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** AI4I's own column names, in its order. */
export const AI4I_COLUMNS = [
  'UDI', 'Product ID', 'Type', 'Air temperature [K]', 'Process temperature [K]', 'Rotational speed [rpm]', 'Torque [Nm]', 'Tool wear [min]',
  'Machine failure', 'TWF', 'HDF', 'PWF', 'OSF', 'RNF',
] as const;

/** `n` synthetic rows in the AI4I layout (same columns), reproducible for a seed. */
export function synthSensorTable(n: number, seed = 1): Array<Array<string | number>> {
  const gen = new SensorGenerator({ seed });
  const rows: Array<Array<string | number>> = [];
  for (let i = 0; i < n; i++) {
    const r = gen.next();
    const v = r.values;
    const f = r.failures;
    rows.push([
      i + 1, `${r.type}${10000 + i}`, r.type, v.air_temperature_k, v.process_temperature_k, v.rotational_speed_rpm, v.torque_nm, v.tool_wear_min,
      r.failure ? 1 : 0, +f.TWF, +f.HDF, +f.PWF, +f.OSF, +f.RNF,
    ]);
  }
  return rows;
}
