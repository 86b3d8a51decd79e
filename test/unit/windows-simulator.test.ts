import { describe, expect, it } from 'vitest';
import { Ai4iMachine, ai4iFailures } from '../../src/line/simulator/ai4i.ts';
import { Rng } from '../../src/line/simulator/rng.ts';

describe('AI4I simulator physics', () => {
  const ok = { air_temperature_k: 300, process_temperature_k: 310, rotational_speed_rpm: 1500, torque_nm: 40, tool_wear_min: 100 };

  it('applies the five AI4I failure rules', () => {
    expect(ai4iFailures('L', ok, 220)).toEqual([]);
    expect(ai4iFailures('L', { ...ok, tool_wear_min: 225 }, 220)).toContain('TWF');
    expect(ai4iFailures('L', { ...ok, process_temperature_k: 308, rotational_speed_rpm: 1300 }, 999)).toContain('HDF');
    // power = torque * omega: 10 Nm at 1500 rpm is 1.6 kW (< 3.5 kW); 70 Nm at 1500 rpm is 11 kW (> 9 kW)
    expect(ai4iFailures('L', { ...ok, torque_nm: 10 }, 999)).toContain('PWF');
    expect(ai4iFailures('L', { ...ok, torque_nm: 70 }, 999)).toContain('PWF');
    // overstrain: wear x torque above 11,000 (L) / 13,000 (H) minNm
    expect(ai4iFailures('L', { ...ok, tool_wear_min: 200, torque_nm: 56 }, 999)).toContain('OSF');
    expect(ai4iFailures('H', { ...ok, tool_wear_min: 200, torque_nm: 56 }, 999)).not.toContain('OSF');
  });

  it('is reproducible from its seed and stays in the AI4I value ranges', () => {
    const run = (seed: number) => {
      const m = new Ai4iMachine(new Rng(seed), { type: 'M' });
      return Array.from({ length: 2000 }, () => m.step());
    };
    const a = run(5);
    expect(run(5)).toEqual(a);
    expect(run(6)).not.toEqual(a);
    for (const r of a) {
      expect(r.values.air_temperature_k).toBeGreaterThan(290);
      expect(r.values.air_temperature_k).toBeLessThan(310);
      expect(r.values.process_temperature_k - r.values.air_temperature_k).toBeGreaterThan(5);
      expect(r.values.rotational_speed_rpm).toBeGreaterThanOrEqual(1168);
      expect(r.values.rotational_speed_rpm).toBeLessThanOrEqual(2886);
      expect(r.values.torque_nm).toBeGreaterThan(0);
      expect(r.values.tool_wear_min).toBeLessThanOrEqual(240);
    }
    // the tool is replaced: wear falls back to near zero at least once in 2,000 readings
    expect(a.some((r, i) => i > 0 && r.values.tool_wear_min < a[i - 1]!.values.tool_wear_min)).toBe(true);
  });

  it('without episodes, matches the data set: speed falls with torque around 1539 rpm, and failures stay rare', () => {
    const m = new Ai4iMachine(new Rng(9), { type: 'M', episodeChance: 0 });
    const rs = Array.from({ length: 5000 }, () => m.step());
    const speed = rs.map((r) => r.values.rotational_speed_rpm);
    const torque = rs.map((r) => r.values.torque_nm);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
    const corr = mean(speed.map((s, i) => (s - mean(speed)) * (torque[i]! - mean(torque)))) / (sd(speed) * sd(torque));
    expect(mean(speed)).toBeGreaterThan(1490);
    expect(mean(speed)).toBeLessThan(1590);
    expect(sd(speed)).toBeGreaterThan(140);
    expect(sd(speed)).toBeLessThan(220);
    expect(corr).toBeLessThan(-0.8);
    // AI4I: 3.4 % of runs fail (most of them tool wear, heat, power, overstrain in similar shares)
    const rate = rs.filter((r) => r.failures.length).length / rs.length;
    expect(rate).toBeLessThan(0.06);
  });

  it('produces failures at a plausible rate with degradation episodes', () => {
    const m = new Ai4iMachine(new Rng(3), { episodeChance: 0.01, episodeLength: 40 });
    const n = 5000;
    const failures = Array.from({ length: n }, () => m.step()).filter((r) => r.failures.length).length;
    expect(failures / n).toBeGreaterThan(0.02);
    expect(failures / n).toBeLessThan(0.6);
  });

  it('gives the bundled failure model runs it can tell apart: ROC-AUC of machine-failure on 3,000 simulated runs (printed)', async () => {
    const { ModelRepository } = await import('../../src/repository/repository.ts');
    const { LoadedModel } = await import('../../src/pipeline/model.ts');
    const { getBackend } = await import('../../src/runtime/index.ts');
    const { failureProbability } = await import('../../src/line/machines.ts');
    const { rocAuc } = await import('../../src/eval/binary.ts');
    const rng = new Rng(7);
    const machines = [0, 1, 2].map(() => new Ai4iMachine(rng));
    const runs = Array.from({ length: 1000 }, () => machines.map((m) => m.step())).flat();
    const model = await LoadedModel.load(await (await ModelRepository.open('models')).resolve({ name: 'machine-failure' }), await getBackend());
    try {
      const rows = runs.map((r) => ({
        Type: r.type, 'Air temperature [K]': r.values.air_temperature_k, 'Process temperature [K]': r.values.process_temperature_k,
        'Rotational speed [rpm]': r.values.rotational_speed_rpm, 'Torque [Nm]': r.values.torque_nm, 'Tool wear [min]': r.values.tool_wear_min,
      }));
      const p = (await model.predictRows(rows)).map((x) => failureProbability(x, model.manifest.decision.positive_label));
      const failed = runs.map((r) => (r.failures.length ? 1 : 0));
      const auc = rocAuc(p, failed);
      console.log(`[simulator] machine-failure on ${runs.length} simulated runs (${failed.filter(Boolean).length} failures): ROC-AUC ${auc.toFixed(3)}`);
      expect(auc).toBeGreaterThan(0.9);
    } finally {
      await model.dispose();
    }
  });
});
