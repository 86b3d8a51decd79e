/** Pure logic of the dashboard (web/src): metrics parsing and quantiles, SSE parsing, chart data. */
import { describe, expect, it } from 'vitest';
import { pChart } from '../../src/line/spc.ts';
import { Metrics } from '../../src/monitoring/metrics.ts';
import { listOf } from '../../web/src/api.ts';
import { alignSeries } from '../../web/src/machines.ts';
import { modelFigures } from '../../web/src/models.ts';
import { pchartData, visiblePoints } from '../../web/src/pchart.ts';
import { counterRate, histogramDelta, histogramQuantile, histograms, parsePrometheus } from '../../web/src/prom.ts';
import { backoffMs, SseParser } from '../../web/src/sse.ts';

describe('prometheus text parser', () => {
  it('reads names, escaped labels, special values and skips comments', () => {
    const text = [
      '# HELP x_total a counter',
      '# TYPE x_total counter',
      'x_total{model="steel-surface",path="C:\\\\a \\"b\\"\\nc"} 42',
      'up 1 1700000000000',
      'y{le="+Inf"} +Inf',
      'z NaN',
      '',
    ].join('\n');
    const s = parsePrometheus(text);
    expect(s).toHaveLength(4);
    expect(s[0]).toEqual({ name: 'x_total', labels: { model: 'steel-surface', path: 'C:\\a "b"\nc' }, value: 42 });
    expect(s[1]).toEqual({ name: 'up', labels: {}, value: 1 });
    expect(s[2]?.value).toBe(Infinity);
    expect(Number.isNaN(s[3]?.value)).toBe(true);
  });

  it('rejects malformed lines with a SyntaxError', () => {
    expect(() => parsePrometheus('novalue')).toThrow(SyntaxError);
    expect(() => parsePrometheus('x{a="1" 3')).toThrow(SyntaxError);
    expect(() => parsePrometheus('x abc')).toThrow(SyntaxError);
  });

  it('interpolates quantiles like PromQL histogram_quantile', () => {
    const buckets = [
      { le: 1, count: 0 },
      { le: 2, count: 50 },
      { le: 4, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(2, 9);
    expect(histogramQuantile(0.25, buckets)).toBeCloseTo(1.5, 9);
    expect(histogramQuantile(0.75, buckets)).toBeCloseTo(3, 9);
    // beyond the last finite bucket: its upper bound
    expect(histogramQuantile(0.99, [{ le: 1, count: 1 }, { le: Infinity, count: 10 }])).toBe(1);
    expect(Number.isNaN(histogramQuantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }]))).toBe(true);
  });

  it('takes bucket differences between scrapes and survives counter resets', () => {
    const a = { labels: {}, buckets: [{ le: 1, count: 10 }, { le: Infinity, count: 10 }], sum: 5, count: 10 };
    const b = { labels: {}, buckets: [{ le: 1, count: 10 }, { le: Infinity, count: 30 }], sum: 65, count: 30 };
    const d = histogramDelta(b, a);
    expect(d.count).toBe(20);
    expect(d.buckets.map((x) => x.count)).toEqual([0, 20]);
    expect(histogramDelta(a, b)).toBe(a);
    expect(counterRate(110, 100, 5)).toBe(2);
    expect(counterRate(3, 100, 1)).toBe(3);
    expect(Number.isNaN(counterRate(3, undefined, 1))).toBe(true);
  });

  it('computes per-model rates, stage percentiles and batch sizes from the real /metrics text', async () => {
    const m = new Metrics();
    const t0 = parsePrometheus(await m.text());
    for (let i = 0; i < 100; i++) {
      m.observeTimings('steel-surface', 1, { preprocess_ms: 3, inference_ms: i < 50 ? 1.5 : 7, total_ms: 12 });
      m.requests.inc({ model: 'steel-surface', version: '1', endpoint: 'mqtt', status: '200' });
    }
    m.batchSize.observe({ model: 'steel-surface', version: '1' }, 8);
    m.batchSize.observe({ model: 'steel-surface', version: '1' }, 16);
    const text = await m.text();
    const t1 = parsePrometheus(text);
    expect(histograms(t1, 'linesight_inference_duration_seconds')).toHaveLength(1);
    const figs = modelFigures({ at: 10_000, samples: t1 }, { at: 0, samples: t0 });
    expect(figs).toHaveLength(1);
    const f = figs[0]!;
    expect(f.model).toBe('steel-surface');
    expect(f.version).toBe('1');
    expect(f.requestsPerS).toBeCloseTo(10, 9);
    // 3 ms lies in the (2.5, 5] ms bucket
    expect(f.stages.preprocess.p50).toBeGreaterThan(2.5);
    expect(f.stages.preprocess.p50).toBeLessThanOrEqual(5);
    // half the inferences at 1.5 ms, half at 7 ms: p50 at the edge of the low bucket, p99 in (5, 10]
    expect(f.stages.inference.p50).toBeLessThanOrEqual(2.5);
    expect(f.stages.inference.p99).toBeGreaterThan(5);
    expect(f.stages.inference.p99).toBeLessThanOrEqual(10);
    expect(f.batchMean).toBe(12);
    expect(Number.isNaN(f.stages.queue.p50)).toBe(true);
  });
});

describe('API answers', () => {
  it('takes the list out of a wrapped answer, accepts a bare array, and never throws on odd bodies', () => {
    expect(listOf<number>({ parts: [1, 2] }, 'parts')).toEqual([1, 2]);
    expect(listOf<number>([3], 'parts')).toEqual([3]);
    expect(listOf<number>({ alerts: 'x' }, 'alerts')).toEqual([]);
    expect(listOf<number>(null, 'models')).toEqual([]);
  });
});

describe('SSE parser', () => {
  it('assembles messages across chunk boundaries, ignores comments, joins multi-line data', () => {
    const p = new SseParser();
    expect(p.push(': heartbeat\n\nevent: stats\nda')).toEqual([]);
    expect(p.push('ta: {"a":1}\r\n\r\nevent: alert\ndata: x\ndata: y\n')).toEqual([{ event: 'stats', data: '{"a":1}' }]);
    expect(p.push('\n')).toEqual([{ event: 'alert', data: 'x\ny' }]);
    expect(p.push('data:z\n\n')).toEqual([{ event: 'message', data: 'z' }]);
  });

  it('backs off from 0.5 s doubling up to the ceiling', () => {
    expect([1, 2, 3, 4, 5, 10].map((n) => backoffMs(n, 5000))).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
  });
});

describe('chart data', () => {
  it('turns the server p-chart into aligned series with violations only where a rule broke', () => {
    const groups = Array.from({ length: 12 }, (_, i) => ({ start: 1_000_000 + i * 10_000, n: 50, defects: i === 10 ? 30 : 2 }));
    const chart = pChart(groups);
    const data = pchartData(chart);
    expect(data).toHaveLength(6);
    expect(data[0]).toEqual(groups.map((g) => g.start / 1000));
    expect(data[1]?.[10]).toBeCloseTo(0.6, 9);
    const violations = data[5] as Array<number | null>;
    expect(violations[10]).toBeCloseTo(0.6, 9);
    expect(violations.filter((v) => v !== null).length).toBe(chart.points.filter((p) => p.violations.length > 0).length);
  });

  it('drops leading empty intervals but keeps a minimum window', () => {
    const pts = [0, 0, 0, 0, 5, 0, 7].map((n, i) => ({ n, i }));
    expect(visiblePoints(pts, 2).map((p) => p.i)).toEqual([4, 5, 6]);
    expect(visiblePoints(pts, 5).map((p) => p.i)).toEqual([2, 3, 4, 5, 6]);
    expect(visiblePoints(pts.map((p) => ({ ...p, n: 0 })), 3).map((p) => p.i)).toEqual([4, 5, 6]);
    const data = pchartData(pChart([{ start: 0, n: 0, defects: 0 }, { start: 10_000, n: 10, defects: 1 }]), 1);
    expect(data[0]).toEqual([10]);
  });

  it('aligns per-machine series on one time axis with gaps', () => {
    const data = alignSeries([
      { ts: [1000, 3000], p: [0.1, 0.3] },
      { ts: [2000, 3000], p: [0.2, 0.4] },
    ]);
    expect(data).toEqual([
      [1, 2, 3],
      [0.1, null, 0.3],
      [null, 0.2, 0.4],
    ]);
  });
});
