/**
 * Shapes of the line API answers the dashboard reads (contract 5, src/line/http/). Live event types,
 * parts, alerts, accuracy rows, machine history points and the p-chart come straight from the
 * server's own types (src/line/events.ts, src/store/store.ts, src/line/spc.ts, src/line/pdm-metrics.ts),
 * so the page and the server cannot drift apart; the summary and model-list shapes below are the
 * ones the routes assemble inline.
 */
import type { DecisionKind } from '../../src/pipeline/decide.ts';
import type { AccuracyRow, AlertRecord, MachinePoint, PartView } from '../../src/store/store.ts';

export type { DecisionKind };
export type { LineEvent, InspectionEvent, MachineEvent, AlertEvent, FeedbackEvent, StatsEvent } from '../../src/line/events.ts';

/** One camera station in GET /v1/line/summary. */
export interface StationSummary {
  readonly line: string;
  readonly station: string;
  readonly parts_per_s: number;
  readonly defect_rate: number;
  readonly total: number;
  readonly last_decision?: DecisionKind | null;
}

/** One machine in GET /v1/line/summary. */
export interface MachineSummary {
  readonly line?: string;
  readonly machine: string;
  readonly ts?: number | null;
  readonly values: Readonly<Record<string, number>>;
  readonly probability?: number | null;
  readonly decision?: DecisionKind | null;
}

/** GET /v1/line/summary. */
export interface LineSummary {
  /** The configured lines with their station and machine ids (shown before they first report). */
  readonly lines?: ReadonlyArray<{ readonly id: string; readonly stations: ReadonlyArray<{ readonly id: string; readonly model: string }>; readonly machines: ReadonlyArray<{ readonly id: string; readonly model: string }> }>;
  readonly stations: readonly StationSummary[];
  readonly machines: readonly MachineSummary[];
  readonly open_alerts: number;
}


/** One inspected part (GET /v1/parts/recent, GET /v1/parts/:id): the store's own view of it. */
export type Part = PartView;

/** One alert (GET /v1/alerts), as stored. */
export type Alert = AlertRecord;

/** Live metrics of a machine model against the outcomes machines reported (GET /v1/accuracy `machines`, and the stats event). */
export type { MachineModelMetrics } from '../../src/line/pdm-metrics.ts';

/** Live accuracy of one model version against QA feedback (GET /v1/accuracy `models`). */
export type Accuracy = AccuracyRow;

/** One interval of the p-chart, exactly as the server computes it (src/line/spc.ts). */
export type { PChartPoint } from '../../src/line/spc.ts';
import type { PChartPoint } from '../../src/line/spc.ts';

/** GET /v1/spc/p-chart. */
export interface PChart {
  readonly station?: string | null;
  readonly interval_s?: number;
  readonly cl: number;
  readonly total_n?: number;
  readonly total_defects?: number;
  readonly points: readonly PChartPoint[];
}

/** One reading in a machine history (GET /v1/machines/:id/history). */
export type MachineHistoryPoint = MachinePoint;

/** GET /v1/machines/:id/history. */
export interface MachineHistory {
  readonly machine: string;
  readonly points: readonly MachineHistoryPoint[];
}

/** A model version the server knows (from the repository index). */
export interface ModelRow {
  readonly name: string;
  readonly version: number;
  readonly state: string;
  readonly reason?: string;
}
