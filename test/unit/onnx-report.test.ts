import { describe, expect, it } from 'vitest';
import { formatReport, type OptimizeReport } from '../../src/optimize/report.ts';
import { compareLatency, median } from '../../src/optimize/benchmark.ts';
import type { InferenceSession } from '../../src/runtime/backend.ts';

const size = (file: number, gzip: number, params: number, zeros: number) => ({ file_bytes: file, gzip_bytes: gzip, params, zero_params: zeros, sparsity: zeros / params });

describe('optimization report', () => {
  const report: OptimizeReport = {
    model: 'steel-surface',
    source_version: 1,
    version: 2,
    path: '/repo/steel-surface/2/model.onnx',
    steps: ['int8-static-minmax'],
    size: { baseline: size(4096, 3072, 1000, 0), optimized: size(1024, 900, 1000, 10), file_ratio: 0.25, gzip_ratio: 900 / 3072 },
    engine_kernels: { baseline: { 'com.microsoft.nchwc.Conv': 2 }, optimized: { 'com.microsoft.QLinearConv': 2 }, integer_kernels: 2 },
    latency: [{ batch: 1, baseline_ms: 4, optimized_ms: 1, ratio: 0.25, baseline_per_s: 250, optimized_per_s: 1000, iterations: 9 }],
    threads: { intra_op: 1, inter_op: 'default' },
    accuracy: { samples: 10, output: 'logits', baseline_accuracy: 1, optimized_accuracy: 0.9, drop_points: 10, argmax_agreement: 0.9, max_abs_diff: 0.5, mean_abs_diff: 0.1 },
    warnings: ['something to know'],
    measured_at: '2026-12-03T00:00:00.000Z',
  };

  it('prints sizes, ratios, latency, kernels, accuracy and warnings', () => {
    const text = formatReport(report);
    expect(text).toContain('steel-surface:1 -> steel-surface:2 (int8-static-minmax)');
    expect(text).toMatch(/file size\s+4\.0 KiB\s+1\.0 KiB\s+0\.250x/);
    expect(text).toMatch(/sparsity\s+0\.00%\s+1\.00%/);
    expect(text).toMatch(/\s1\s+4\.00\s+1\.00\s+0\.250x\s+250\.0\s+1000\.0/);
    expect(text).toContain('engine kernels (optimized): QLinearConv 2');
    expect(text).toContain('original 100.00%, optimized 90.00%, drop 10.00 points');
    expect(text).toContain('agreement on the predicted class 90.00%');
    expect(text).toContain('warning: something to know');
  });
});

describe('side-by-side latency', () => {
  it('medians per session from an injected clock, alternating which runs first', async () => {
    let t = 0;
    const order: string[] = [];
    const session = (name: string, cost: number): InferenceSession => ({
      inputs: [], outputs: [], provider: 'cpu',
      run: async () => {
        order.push(name);
        t += cost;
        return {};
      },
      dispose: async () => {},
    });
    const rows = await compareLatency(session('a', 10), session('b', 4), () => ({}), { batches: [2], iterations: 4, warmup: 1, now: () => t });
    expect(rows).toEqual([{ batch: 2, baseline_ms: 10, optimized_ms: 4, ratio: 0.4, baseline_per_s: 200, optimized_per_s: 500, iterations: 4 }]);
    expect(order).toEqual(['a', 'b', 'a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});
