/**
 * The demo's proxy reward (src/training/demo/proxyReward.ts) as a reward function: word-F1 against the reference
 * answer, minus 0.5 for a reply that did not end on its own, minus 0.1 per word past the answer's length + 2.
 */
import { proxyReward } from '../../demo/proxyReward';
import type { AnswerFieldOptions } from './verifiers';
import type { RewardFunction } from './rewardFunction';

export function proxyRewardFunction(opts: AnswerFieldOptions = {}): RewardFunction {
  const field = opts.field ?? 'answer';
  const name = opts.name ?? 'proxy_reward';
  return {
    name,
    requiredField: field,
    score: (samples) =>
      samples.map((s) => {
        const ref = s.prompt.fields?.[field];
        if (typeof ref !== 'string') throw new Error(`${name}: the reference answer in field "${field}" must be a string, got ${JSON.stringify(ref)}`);
        return proxyReward(s.completion, ref, s.terminated).total;
      }),
  };
}
