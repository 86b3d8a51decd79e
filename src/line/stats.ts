/**
 * Live figures of the line for the status line, `GET /v1/line/summary` and the `stats` event:
 * parts per second (last 10 s), defect rate and totals per station, latest values and failure
 * probability per machine. In memory; totals count since start-up.
 */
import type { MachineModelMetrics } from './pdm-metrics.ts';
import type { DecisionKind } from '../pipeline/decide.ts';
import type { AccuracyRow } from '../store/store.ts';
import type { StatsEvent } from './events.ts';

const RATE_WINDOW_MS = 10_000;

interface StationStats {
  line: string;
  station: string;
  total: number;
  defects: number;
  recent: number[];
  last_decision?: DecisionKind;
}

export interface MachineSnapshot {
  readonly line: string;
  readonly machine: string;
  readonly ts: number;
  readonly values: Readonly<Record<string, number>>;
  readonly probability?: number | undefined;
  readonly decision?: DecisionKind | undefined;
  readonly alert_active: boolean;
  readonly readings: number;
}

export class LiveStats {
  private readonly stations = new Map<string, StationStats>();
  private readonly machines = new Map<string, MachineSnapshot>();
  private accuracy: AccuracyRow[] = [];
  private machineAccuracy: MachineModelMetrics[] = [];
  readingsTotal = 0;

  /** Register a station so it shows before its first part. */
  addStation(line: string, station: string): void {
    const k = `${line}/${station}`;
    if (!this.stations.has(k)) this.stations.set(k, { line, station, total: 0, defects: 0, recent: [] });
  }

  part(line: string, station: string, ts: number, decision: DecisionKind): void {
    this.addStation(line, station);
    const s = this.stations.get(`${line}/${station}`)!;
    s.total++;
    if (decision !== 'PASS') s.defects++;
    s.last_decision = decision;
    s.recent.push(ts);
    this.trim(s, ts);
  }

  private trim(s: StationStats, now: number): void {
    let i = 0;
    while (i < s.recent.length && s.recent[i]! < now - RATE_WINDOW_MS) i++;
    if (i) s.recent.splice(0, i);
  }

  /** The newest reading of a machine (readingsTotal is counted by the caller). */
  machine(m: Omit<MachineSnapshot, 'readings'>, readings = 1): void {
    const prev = this.machines.get(`${m.line}/${m.machine}`);
    this.machines.set(`${m.line}/${m.machine}`, { ...m, readings: (prev?.readings ?? 0) + readings });
  }

  setAccuracy(rows: AccuracyRow[]): void {
    this.accuracy = rows;
  }

  setMachineAccuracy(rows: MachineModelMetrics[]): void {
    this.machineAccuracy = rows;
  }

  stationRows(now: number): StatsEvent['stations'] {
    return [...this.stations.values()].map((s) => {
      this.trim(s, now);
      return {
        line: s.line,
        station: s.station,
        parts_per_s: s.recent.length / (RATE_WINDOW_MS / 1000),
        defect_rate: s.total ? s.defects / s.total : 0,
        total: s.total,
        ...(s.last_decision ? { last_decision: s.last_decision } : {}),
      };
    });
  }

  machineRows(): MachineSnapshot[] {
    return [...this.machines.values()];
  }

  event(now: number): StatsEvent {
    return {
      type: 'stats',
      ts: now,
      stations: this.stationRows(now),
      accuracy: this.accuracy.map((a) => ({ model: a.model, version: a.version, labelled: a.labelled, correct: a.correct, accuracy: a.accuracy })),
      machine_accuracy: this.machineAccuracy,
    };
  }
}
