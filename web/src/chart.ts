/**
 * uPlot charts sized to their panel: the chart follows its container through a ResizeObserver,
 * so the same page works on a 1366x768 laptop and a 1920x1080 wall screen. Axis and grid colours
 * match the page theme. Each chart records how many values each series draws in `data-series-lengths` (read by the
 * browser test and handy when checking a screen remotely).
 */
import uPlot from 'uplot';

/** Page theme colours used in charts (kept in step with styles.css). */
export const THEME = {
  text: '#cbd5e1',
  grid: 'rgba(148,163,184,0.18)',
  axis: 'rgba(148,163,184,0.45)',
  p: '#38bdf8',
  center: '#a3e635',
  limit: '#f87171',
  violation: '#facc15',
  series: ['#38bdf8', '#f472b6', '#a3e635', '#fb923c', '#c084fc', '#2dd4bf', '#facc15', '#f87171'],
} as const;

/** Axis settings readable on the dark theme. */
export function axis(extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return {
    stroke: THEME.text,
    grid: { stroke: THEME.grid, width: 1 },
    ticks: { stroke: THEME.axis, width: 1 },
    font: '12px system-ui, sans-serif',
    labelFont: '12px system-ui, sans-serif',
    ...extra,
  };
}

/** Time axis with 24-hour wall-clock labels (the shop floor does not read "5:29pm"). */
export function timeAxis(): uPlot.Axis {
  return axis({
    // HH:MM:SS labels need room: at least 80 px between ticks, and whole seconds at least
    space: 80,
    incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400],
    values: (_u, ticks) => {
      const span = ticks.length > 1 ? (ticks[ticks.length - 1] ?? 0) - (ticks[0] ?? 0) : 0;
      const opts: Intl.DateTimeFormatOptions = span >= 600 ? { hour: '2-digit', minute: '2-digit', hour12: false } : { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
      return ticks.map((t) => new Date(t * 1000).toLocaleTimeString([], opts));
    },
  });
}

/** A uPlot instance that resizes with its container. */
export class ResponsiveChart {
  readonly plot: uPlot;
  private readonly observer: ResizeObserver;

  constructor(
    private readonly container: HTMLElement,
    opts: Omit<uPlot.Options, 'width' | 'height'>,
    data: uPlot.AlignedData,
    private readonly heightPx = 220,
  ) {
    const width = Math.max(240, container.clientWidth);
    this.plot = new uPlot({ ...opts, width, height: this.heightPx }, data, container);
    this.mark(data);
    this.observer = new ResizeObserver(() => {
      const w = Math.max(240, this.container.clientWidth);
      if (Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: this.heightPx });
    });
    this.observer.observe(container);
  }

  setData(data: uPlot.AlignedData): void {
    this.plot.setData(data);
    this.mark(data);
  }

  private mark(data: uPlot.AlignedData): void {
    // non-null values per series: an all-gap series draws nothing even though it has a length
    const lengths = data.slice(1).map((s) => {
      let n = 0;
      const values = s as ArrayLike<number | null | undefined>;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v !== null && v !== undefined && Number.isFinite(v)) n++;
      }
      return n;
    });
    this.container.dataset.seriesLengths = lengths.join(',');
    this.container.dataset.points = String(data[0]?.length ?? 0);
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot.destroy();
  }
}
