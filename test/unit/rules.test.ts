import { describe, expect, it } from 'vitest';
import { INITIAL_RULE_STATE, stepRule, type RuleState } from '../../src/line/rules.ts';
import type { RuleConfig } from '../../src/line/line-config.ts';

function run(rule: RuleConfig, inputs: Array<{ score?: number; decision?: 'PASS' | 'REJECT' | 'REVIEW' | 'ALERT' }>) {
  let s: RuleState = INITIAL_RULE_STATE;
  return inputs.map((x) => {
    const r = stepRule(rule, s, x);
    s = r.state;
    return `${r.state.active ? 'A' : '-'}${r.fired ? '!' : ''}${r.cleared ? 'c' : ''}`;
  });
}

describe('rules', () => {
  it('threshold fires once per episode', () => {
    expect(run({ type: 'threshold', above: 0.5, k: 1 }, [{ score: 0.2 }, { score: 0.6 }, { score: 0.7 }, { score: 0.4 }, { score: 0.5 }])).toEqual(['-', 'A!', 'A', '-c', 'A!']);
  });

  it('hysteresis stays active until the score falls below clear_below', () => {
    const r: RuleConfig = { type: 'hysteresis', above: 0.6, clear_below: 0.3, k: 1 };
    expect(run(r, [{ score: 0.7 }, { score: 0.5 }, { score: 0.31 }, { score: 0.29 }, { score: 0.5 }, { score: 0.61 }])).toEqual(['A!', 'A', 'A', '-c', '-', 'A!']);
  });

  it('hysteresis with k needs k consecutive readings above to fire', () => {
    const r: RuleConfig = { type: 'hysteresis', above: 0.6, clear_below: 0.3, k: 2 };
    expect(run(r, [{ score: 0.7 }, { score: 0.5 }, { score: 0.7 }, { score: 0.8 }])).toEqual(['-', '-', '-', 'A!']);
  });

  it('K-consecutive decisions', () => {
    const r: RuleConfig = { type: 'consecutive', decision: 'REJECT', k: 3 };
    const d = (decision: 'PASS' | 'REJECT') => ({ decision });
    expect(run(r, [d('REJECT'), d('REJECT'), d('PASS'), d('REJECT'), d('REJECT'), d('REJECT'), d('REJECT')])).toEqual(['-', '-', '-', '-', '-', 'A!', 'A']);
  });

  it('K-consecutive scores; NaN never meets a threshold', () => {
    const r: RuleConfig = { type: 'consecutive', above: 0.5, k: 2 };
    expect(run(r, [{ score: 0.9 }, { score: NaN }, { score: 0.9 }, { score: 0.9 }])).toEqual(['-', '-', '-', 'A!']);
  });
});
