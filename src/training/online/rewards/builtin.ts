/**
 * The run spec's reward functions (src/core/runs/specRewards.ts, already validated) as {@link WeightedReward}s: each
 * built-in kind maps to its verifier or to the demo's proxy reward.
 */
import type { RewardFunctionSpec, RewardsSpec } from '../../../core/runs/specRewards';
import { proxyRewardFunction } from './proxyReward';
import type { RewardFunction, RewardOptions, WeightedReward } from './rewardFunction';
import { exactMatchReward, jsonValidReward, lengthPenaltyReward, numericMatchReward, regexReward } from './verifiers';

function build(f: RewardFunctionSpec, maxCompletionLength: number): RewardFunction {
  const field = f.field !== undefined ? { field: f.field } : {};
  switch (f.kind) {
    case 'exact_match':
      return exactMatchReward({ ...field, name: f.name, ...(f.caseSensitive !== undefined ? { caseSensitive: f.caseSensitive } : {}) });
    case 'numeric_match':
      return numericMatchReward({ ...field, name: f.name });
    case 'regex':
      return regexReward(f.pattern ?? '', { name: f.name, ...(f.flags ? { flags: f.flags } : {}) });
    case 'json_valid':
      return jsonValidReward({ name: f.name, ...(f.objectOnly !== undefined ? { objectOnly: f.objectOnly } : {}) });
    case 'length_penalty':
      return lengthPenaltyReward({ name: f.name, maxCompletionLength, softPunishCache: f.softPunishCache ?? maxCompletionLength });
    case 'proxy':
      return proxyRewardFunction({ ...field, name: f.name });
  }
}

/** The weighted reward functions of a spec's `rewards` section. */
export function rewardFunctionsFromSpec(spec: RewardsSpec, maxCompletionLength: number): WeightedReward[] {
  return spec.functions.map((f) => ({ fn: build(f, maxCompletionLength), weight: f.weight }));
}

/** The reward options of a spec's `rewards` section. */
export function rewardOptionsFromSpec(spec: RewardsSpec): RewardOptions {
  return { onError: spec.onError, timeoutMs: spec.timeoutSeconds * 1000 };
}
