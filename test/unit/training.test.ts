import { describe, expect, it } from 'vitest';
import { adam, gd, momentum } from '../../src/training/optimizers.ts';
import { createSchedule } from '../../src/training/schedule.ts';
import { createRng } from '../../src/training/rng.ts';
import { DEFAULT_TRAIN_OPTIONS, predictScores, train, type Matrix } from '../../src/training/trainer.ts';
import { fitPreprocessor, parseDerived, transform } from '../../src/training/preprocessing.ts';
import { trainTabular } from '../../src/training/tabular.ts';
import { splitRows, kFolds } from '../../src/training/split.ts';
import { parseCsv } from '../../src/data/readers/csv.ts';
import { LsError } from '../../src/core/errors.ts';

function linearData(n: number, seed: number): { x: Matrix; y: Float64Array } {
  const rng = createRng(seed);
  const data = new Float64Array(n * 2);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    data[2 * i] = rng.normal();
    data[2 * i + 1] = rng.normal();
    y[i] = 3 * data[2 * i]! - 2 * data[2 * i + 1]! + 0.5;
  }
  return { x: { data, rows: n, cols: 2 }, y };
}

function expectLsError(fn: () => unknown, code: string, text?: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LsError);
    expect((e as LsError).code).toBe(code);
    if (text) expect((e as LsError).message).toMatch(text);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('optimizers', () => {
  it('plain gradient descent is exactly θ_new = θ_old − α ∇θ L', () => {
    const p = Float64Array.from([1, -2, 0.5]);
    gd().step([p], [Float64Array.from([0.5, 1, -4])], 0.1);
    expect(Array.from(p)).toEqual([1 - 0.1 * 0.5, -2 - 0.1 * 1, 0.5 - 0.1 * -4]);
  });
  it('momentum accumulates velocity v = μv + g', () => {
    const p = Float64Array.from([0]);
    const o = momentum(0.5);
    o.step([p], [Float64Array.from([1])], 1);
    o.step([p], [Float64Array.from([1])], 1);
    expect(p[0]).toBe(-(1 + 1.5));
  });
  it('Adam moves each parameter by about α on its first step', () => {
    const p = Float64Array.from([0, 0]);
    adam().step([p], [Float64Array.from([5, -0.01])], 0.1);
    expect(p[0]).toBeCloseTo(-0.1, 6);
    expect(p[1]).toBeCloseTo(0.1, 4);
  });
  it('schedules decay the learning rate', () => {
    expect(createSchedule('constant', 0.1, 10)(9)).toBe(0.1);
    expect(createSchedule('step', 0.1, 8)(2)).toBe(0.05);
    expect(createSchedule('cosine', 0.1, 10)(5)).toBeCloseTo(0.05, 10);
    expect(createSchedule('exponential', 0.1, 10)(1)).toBeCloseTo(0.097, 10);
  });
});

describe('trainer', () => {
  const base = { ...DEFAULT_TRAIN_OPTIONS, l2: 0, patience: 0, schedule: 'constant' as const };

  it('linear regression with plain GD recovers the true coefficients', () => {
    const { x, y } = linearData(200, 1);
    const r = train({ kind: 'regression' }, x, y, undefined, undefined, { ...base, model: 'linear', optimizer: 'gd', lr: 0.1, epochs: 200, batchSize: 200 });
    const l = r.network.layers[0]!;
    expect(l.W[0]).toBeCloseTo(3, 3);
    expect(l.W[1]).toBeCloseTo(-2, 3);
    expect(l.b[0]).toBeCloseTo(0.5, 3);
    // the loss decreases monotonically with full-batch GD at this rate
    const losses = r.history.map((h) => h.trainLoss);
    for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThanOrEqual(losses[i - 1]!);
  });

  it('is reproducible for a seed and differs for another seed', () => {
    const { x, y } = linearData(100, 2);
    const opts = { ...base, model: 'mlp' as const, hidden: [8], epochs: 5, batchSize: 16 };
    const a = train({ kind: 'regression' }, x, y, undefined, undefined, opts);
    const b = train({ kind: 'regression' }, x, y, undefined, undefined, opts);
    const c = train({ kind: 'regression' }, x, y, undefined, undefined, { ...opts, seed: 7 });
    expect(Array.from(a.network.layers[0]!.W)).toEqual(Array.from(b.network.layers[0]!.W));
    expect(Array.from(a.network.layers[0]!.W)).not.toEqual(Array.from(c.network.layers[0]!.W));
  });

  it('L2 shrinks the weights', () => {
    const { x, y } = linearData(100, 3);
    const o = { ...base, model: 'linear' as const, optimizer: 'gd' as const, lr: 0.1, epochs: 100, batchSize: 100 };
    const free = train({ kind: 'regression' }, x, y, undefined, undefined, o).network.layers[0]!.W;
    const reg = train({ kind: 'regression' }, x, y, undefined, undefined, { ...o, l2: 1 }).network.layers[0]!.W;
    expect(Math.abs(reg[0]!)).toBeLessThan(Math.abs(free[0]!) * 0.7);
  });

  it('stops early when validation loss stops improving and keeps the best epoch', () => {
    const rng = createRng(4);
    // pure noise targets: validation loss cannot keep improving
    const n = 60;
    const x: Matrix = { data: Float64Array.from({ length: n * 3 }, () => rng.normal()), rows: n, cols: 3 };
    const y = Float64Array.from({ length: n }, () => rng.normal());
    const vx: Matrix = { data: Float64Array.from({ length: 30 * 3 }, () => rng.normal()), rows: 30, cols: 3 };
    const vy = Float64Array.from({ length: 30 }, () => rng.normal());
    const r = train({ kind: 'regression' }, x, y, vx, vy, { ...base, model: 'mlp', hidden: [32], lr: 0.05, epochs: 500, patience: 5 });
    expect(r.stoppedEarly).toBe(true);
    expect(r.history.length).toBeLessThan(500);
    expect(r.history.length - r.bestEpoch).toBe(5);
    const best = Math.min(...r.history.map((h) => h.valLoss!));
    expect(r.history[r.bestEpoch - 1]!.valLoss).toBe(best);
  });

  it('learns XOR with an MLP (non-linear) but not with logistic regression', () => {
    const pts = [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]];
    const data = new Float64Array(400 * 2);
    const y = new Float64Array(400);
    for (let i = 0; i < 400; i++) {
      const p = pts[i % 4]!;
      data[2 * i] = p[0]! * 2 - 1;
      data[2 * i + 1] = p[1]! * 2 - 1;
      y[i] = p[2]!;
    }
    const x = { data, rows: 400, cols: 2 };
    const mlp = train({ kind: 'binary' }, x, y, undefined, undefined, { ...base, model: 'mlp', hidden: [8], lr: 0.05, epochs: 40 });
    const lin = train({ kind: 'binary' }, x, y, undefined, undefined, { ...base, model: 'logistic', lr: 0.05, epochs: 40 });
    const acc = (s: Float64Array): number => s.slice(0, 4).reduce((a, v, i) => a + (Number(v > 0) === pts[i]![2] ? 1 : 0), 0) / 4;
    expect(acc(predictScores(mlp.network, x))).toBe(1);
    expect(acc(predictScores(lin.network, x))).toBeLessThan(1);
  });

  it('refuses bad settings and non-finite data with LS_ERR_TRAINING', () => {
    const { x, y } = linearData(10, 5);
    expectLsError(() => train({ kind: 'binary' }, x, y, undefined, undefined, { ...base, model: 'linear' }), 'LS_ERR_TRAINING', /regression/);
    expectLsError(() => train({ kind: 'regression' }, x, y, undefined, undefined, { ...base, model: 'mlp', lr: -1 }), 'LS_ERR_TRAINING', /learning rate/);
    const bad = Float64Array.from(x.data);
    bad[3] = NaN;
    expectLsError(() => train({ kind: 'regression' }, { ...x, data: bad }, y, undefined, undefined, { ...base, model: 'linear' }), 'LS_ERR_TRAINING', /not finite/);
    expectLsError(() => train({ kind: 'regression' }, x, y.map(() => 1e200), undefined, undefined, { ...base, model: 'linear', optimizer: 'gd', lr: 10, epochs: 50 }), 'LS_ERR_TRAINING', /diverged/);
  });
});

describe('preprocessing', () => {
  it('standardises numeric columns and one-hots categories (unknown category = all zeros)', () => {
    const pre = fitPreprocessor([{ name: 'a', values: ['1', '3'] }, { name: 't', values: ['L', 'H'] }], [parseDerived('p=a*a')]);
    expect(pre.width).toBe(1 + 2 + 1);
    const m = transform(pre, new Map([['a', ['1', '3', '2']], ['t', ['H', 'L', 'X']]]));
    expect(Array.from(m.data)).toEqual([-1, 1, 0, -1, 1, 0, 1, 1, 0, 0, 0, -0.25]);
  });
  it('parses derived features', () => {
    expect(parseDerived('power=Torque [Nm]*Rotational speed [rpm]')).toEqual({ name: 'power', op: 'mul', a: 'Torque [Nm]', b: 'Rotational speed [rpm]' });
    expect(parseDerived('d=Process temperature [K]-Air temperature [K]').op).toBe('sub');
    expectLsError(() => parseDerived('nonsense'), 'LS_ERR_VALIDATION');
  });
  it('reports non-numeric, empty and NaN/Inf cells of a numeric column by row', () => {
    expectLsError(() => fitPreprocessor([{ name: 'a', values: ['1', '2', 'abc', '4', '5', '6'] }]), 'LS_ERR_CSV', /row 3: "abc"/);
    expectLsError(() => fitPreprocessor([{ name: 'a', values: ['1', 'NaN', '3'] }]), 'LS_ERR_CSV', /row 2: "NaN"/);
    expectLsError(() => fitPreprocessor([{ name: 'a', values: ['1', 'inf', '3'] }]), 'LS_ERR_CSV', /row 2/);
    expectLsError(() => fitPreprocessor([{ name: 'a', values: ['1', '', '3'] }]), 'LS_ERR_CSV', /row 2: empty/);
  });
});

describe('training on a table', () => {
  const csv = (rows: string[]): ReturnType<typeof parseCsv> => parseCsv(['x,kind,y', ...rows].join('\n'));
  const rows = Array.from({ length: 60 }, (_, i) => `${i},${i % 2 ? 'A' : 'B'},${i > 30 ? 1 : 0}`);
  const opts = { ...DEFAULT_TRAIN_OPTIONS, model: 'logistic' as const, target: 'y', task: 'classification' as const, testFraction: 0.2, valFraction: 0.2, epochs: 30 };

  it('splits stratified and reproducibly', () => {
    const strata = Float64Array.from({ length: 100 }, (_, i) => (i < 10 ? 1 : 0));
    const s = splitRows(100, 0.2, 0.25, 1, strata);
    expect(s.test.length).toBe(20);
    expect(s.test.filter((i) => i < 10).length).toBe(2);
    expect(s.train.length + s.val.length + s.test.length).toBe(100);
    expect(splitRows(100, 0.2, 0.25, 1, strata)).toEqual(s);
    const folds = kFolds(100, 5, 1, strata);
    for (let f = 0; f < 5; f++) expect(Array.from(folds).filter((x, i) => x === f && i < 10).length).toBe(2);
  });

  it('trains a binary classifier with a threshold and test metrics', () => {
    const m = trainTabular(csv(rows), opts);
    expect(m.labels).toEqual(['0', '1']);
    expect(m.metrics.kind).toBe('binary');
    if (m.metrics.kind === 'binary') expect(m.metrics.roc_auc).toBeGreaterThan(0.9);
    expect(m.threshold).toBeGreaterThan(0);
  });

  it('refuses a missing target, a single class and too few rows per class', () => {
    expectLsError(() => trainTabular(csv(rows), { ...opts, target: 'nope' }), 'LS_ERR_CSV', /no column "nope"/);
    expectLsError(() => trainTabular(csv(rows.map((r) => r.replace(/,[01]$/, ',1'))), opts), 'LS_ERR_TRAINING', /single class/);
    expectLsError(() => trainTabular(csv([...rows.map((r) => r.replace(/,[01]$/, ',0')), '1,A,1']), opts), 'LS_ERR_TRAINING', /only 1 row/);
    expectLsError(() => trainTabular(csv(rows), { ...opts, task: 'regression', model: 'linear', target: 'kind' }), 'LS_ERR_TRAINING', /numeric target/);
    // a NaN label is reported, never learned as a third class
    expectLsError(() => trainTabular(csv([...rows, '5,A,NaN']), opts), 'LS_ERR_CSV', /"y".*row 61: "NaN"/);
  });
});
