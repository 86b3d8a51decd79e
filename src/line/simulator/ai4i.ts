/**
 * A machine following the physics of the AI4I 2020 data set (Matzka 2020): air temperature as a
 * random walk around 300 K (sd 2 K), process temperature = air + 10 K (sd 1 K), torque around 40 Nm
 * (sd 10), rotational speed around 1539 rpm falling with torque as in the data (correlation −0.88,
 * sd 179 rpm, 1168-2886 rpm; the paper's "speed from a power of 2860 W" does not match its own
 * data, whose mean power is 6280 W, and put every speed at the floor), tool wear growing by 5/3/2 min per
 * process for H/M/L variants. Failure modes as in the data set: tool wear (TWF, replacement or failure
 * between 200 and 240 min), heat dissipation (HDF: temperature difference < 8.6 K and speed < 1380 rpm),
 * power (PWF: < 3500 W or > 9000 W), overstrain (OSF: wear x torque > 11,000/12,000/13,000 minNm for
 * L/M/H) and random failures (RNF, 0.1 %). To make a demo show alerts, a machine now and then drifts
 * into one failure mode for a while (a "degradation episode"). Pure, seeded.
 */
import type { Rng } from './rng.ts';

export type MachineType = 'L' | 'M' | 'H';
export type FailureMode = 'TWF' | 'HDF' | 'PWF' | 'OSF' | 'RNF';

export interface Ai4iValues {
  air_temperature_k: number;
  process_temperature_k: number;
  rotational_speed_rpm: number;
  torque_nm: number;
  tool_wear_min: number;
}

export interface Ai4iReading {
  readonly type: MachineType;
  readonly values: Ai4iValues;
  /** Failure modes the AI4I rules give for this reading (ground truth). */
  readonly failures: readonly FailureMode[];
}

const WEAR_PER_PROCESS: Record<MachineType, number> = { L: 2, M: 3, H: 5 };
/** Rotational speeds seen in the data set. */
const SPEED_MIN = 1168;
const SPEED_MAX = 2886;
const OSF_LIMIT: Record<MachineType, number> = { L: 11_000, M: 12_000, H: 13_000 };

/** The AI4I failure rules for one reading (without the random failure). */
export function ai4iFailures(type: MachineType, v: Ai4iValues, toolLimit: number): FailureMode[] {
  const out: FailureMode[] = [];
  if (v.tool_wear_min >= toolLimit) out.push('TWF');
  if (v.process_temperature_k - v.air_temperature_k < 8.6 && v.rotational_speed_rpm < 1380) out.push('HDF');
  const power = v.torque_nm * (v.rotational_speed_rpm * 2 * Math.PI) / 60;
  if (power < 3500 || power > 9000) out.push('PWF');
  if (v.tool_wear_min * v.torque_nm > OSF_LIMIT[type]) out.push('OSF');
  return out;
}

export interface MachineSimOptions {
  readonly type?: MachineType;
  /** Minutes of tool wear per reading, as a fraction of AI4I's per-process wear (slows the demo's tool cycle). */
  readonly wearScale?: number;
  /** Chance per reading that a degradation episode starts. */
  readonly episodeChance?: number;
  /** Readings an episode lasts. */
  readonly episodeLength?: number;
}

export class Ai4iMachine {
  readonly type: MachineType;
  private air = 300;
  private procOffset = 10;
  private wear = 0;
  private toolLimit: number;
  private episode: { mode: 'HDF' | 'PWF' | 'OSF'; left: number; total: number } | undefined;
  private readonly wearScale: number;
  private readonly episodeChance: number;
  private readonly episodeLength: number;

  constructor(private readonly rng: Rng, o: MachineSimOptions = {}) {
    this.type = o.type ?? (rng.next() < 0.5 ? 'L' : rng.next() < 0.6 ? 'M' : 'H');
    this.wearScale = o.wearScale ?? 0.25;
    this.episodeChance = o.episodeChance ?? 0.002;
    this.episodeLength = o.episodeLength ?? 60;
    this.toolLimit = rng.uniform(200, 240);
    this.wear = rng.uniform(0, 150);
  }

  /** The next reading. */
  step(): Ai4iReading {
    const r = this.rng;
    this.air = 300 + (this.air - 300) * 0.98 + r.normal(0, 0.3);
    this.procOffset = 10 + (this.procOffset - 10) * 0.95 + r.normal(0, 0.15);
    let torque = Math.max(3, r.normal(40, 10));
    // the data set's linear relation: slope −0.88 × 179 / 10 rpm per Nm, residual sd 179 × √(1 − 0.88²)
    let speed = Math.min(SPEED_MAX, Math.max(SPEED_MIN, 1539 - 15.75 * (torque - 40) + r.normal(0, 85)));
    let procOffset = this.procOffset;
    if (!this.episode && r.next() < this.episodeChance) {
      this.episode = { mode: r.pick(['HDF', 'PWF', 'OSF'] as const), left: this.episodeLength, total: this.episodeLength };
    }
    if (this.episode) {
      // ramp up to full severity over the first half of the episode
      const k = Math.min(1, (this.episode.total - this.episode.left) / (this.episode.total / 2));
      if (this.episode.mode === 'HDF') {
        procOffset -= 3 * k;
        speed = speed - (speed - 1300) * k;
      } else if (this.episode.mode === 'PWF') {
        torque = torque + (68 - torque) * k;
        speed = speed + (1500 - speed) * k;
      } else {
        torque = torque + (62 - torque) * k;
        this.wear = Math.max(this.wear, 150 + 60 * k);
      }
      if (--this.episode.left <= 0) this.episode = undefined;
    }
    this.wear += WEAR_PER_PROCESS[this.type] * this.wearScale;
    const values: Ai4iValues = {
      air_temperature_k: round(this.air, 1),
      process_temperature_k: round(this.air + procOffset, 1),
      rotational_speed_rpm: Math.round(speed),
      torque_nm: round(torque, 1),
      tool_wear_min: Math.floor(this.wear),
    };
    const failures = ai4iFailures(this.type, values, this.toolLimit);
    if (r.next() < 0.001) failures.push('RNF');
    if (this.wear >= this.toolLimit) {
      // the tool is replaced (or failed): a new one with a new life
      this.wear = 0;
      this.toolLimit = r.uniform(200, 240);
    }
    return { type: this.type, values, failures };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
