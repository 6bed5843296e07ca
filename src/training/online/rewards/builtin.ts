/**
 * The run spec's built-in reward functions (src/core/runs/specRewards.ts, already validated) as
 * {@link RewardFunction}s: each built-in kind maps to its verifier or to the demo's proxy reward. The other reward
 * sources (reward model, module, judge) are opened by ./openRewards.ts, which builds the whole list.
 */
import type { RewardFunctionSpec, RewardsSpec } from '../../../core/runs/specRewards';
import { proxyRewardFunction } from './proxyReward';
import type { RewardFunction, RewardOptions } from './rewardFunction';
import { exactMatchReward, jsonValidReward, lengthPenaltyReward, numericMatchReward, regexReward } from './verifiers';

/** The reward function of one built-in entry. */
export function builtinRewardFunction(f: RewardFunctionSpec, maxCompletionLength: number): RewardFunction {
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

/** The reward options of a spec's `rewards` section. */
export function rewardOptionsFromSpec(spec: RewardsSpec): RewardOptions {
  return { onError: spec.onError, timeoutMs: spec.timeoutSeconds * 1000 };
}
