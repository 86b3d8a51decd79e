/** Which model versions to serve, from config.yaml's `version_policy` (Triton's three kinds). Pure. */
import type { VersionPolicy } from '../repository/manifest.ts';

/** The versions of `available` that the policy selects, ascending. */
export function selectVersions(policy: VersionPolicy, available: readonly number[]): number[] {
  const sorted = [...new Set(available)].sort((a, b) => a - b);
  if ('all' in policy) return sorted;
  if ('specific' in policy) return sorted.filter((v) => policy.specific.includes(v));
  return sorted.slice(Math.max(0, sorted.length - policy.latest));
}
