/**
 * Decision rules on a stream of scores or decisions: threshold, hysteresis and K-consecutive.
 * Each rule is a small state machine; `stepRule` is pure and returns the next state and whether
 * the rule just fired (rising edge), so an alert is raised once per episode, not once per reading.
 */
import type { DecisionKind } from '../pipeline/decide.ts';
import type { RuleConfig } from './line-config.ts';

/** The state a rule carries between readings. */
export interface RuleState {
  readonly active: boolean;
  /** How many consecutive inputs met the condition. */
  readonly streak: number;
}

export const INITIAL_RULE_STATE: RuleState = Object.freeze({ active: false, streak: 0 });

/** What a rule saw: a score (probability) and/or the decision of a part. */
export interface RuleInput {
  readonly score?: number;
  readonly decision?: DecisionKind;
}

export interface RuleStep {
  readonly state: RuleState;
  /** True exactly when the rule went from inactive to active on this input. */
  readonly fired: boolean;
  /** True exactly when the rule went from active to inactive on this input. */
  readonly cleared: boolean;
}

function meets(rule: RuleConfig, x: RuleInput): boolean {
  if (rule.type === 'consecutive' && rule.decision !== undefined) return x.decision === rule.decision;
  const above = rule.above ?? 0.5;
  return x.score !== undefined && Number.isFinite(x.score) && x.score >= above;
}

/** Advance a rule by one input. */
export function stepRule(rule: RuleConfig, state: RuleState, x: RuleInput): RuleStep {
  const hit = meets(rule, x);
  const streak = hit ? state.streak + 1 : 0;
  const k = rule.k;
  let active: boolean;
  if (rule.type === 'hysteresis') {
    if (state.active) {
      // stays active until the score drops below the lower threshold
      active = !(x.score !== undefined && Number.isFinite(x.score) && x.score < rule.clear_below);
    } else {
      active = streak >= k;
    }
  } else {
    active = streak >= k;
  }
  return { state: { active, streak }, fired: active && !state.active, cleared: !active && state.active };
}
