/**
 * GRPO and RLOO configs from run-spec hyperparameters: the card's defaults (TRL's), the card's option lists, and
 * errors that name the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultHyperparameters, GRPO_LOSS_TYPE_IDS, methodCard } from '../../../../src/core/methods';
import { grpoConfig, grpoMethod } from '../../../../src/training/online/grpo';
import { rlooConfig, rlooMethod } from '../../../../src/training/online/rloo';

test('GRPO config: TRL defaults; epsilon_high follows epsilon unless set; the method wires them', () => {
  const c = grpoConfig();
  assert.deepEqual(
    { k: c.numGenerations, beta: c.beta, eps: c.epsilon, hi: c.epsilonHigh, scale: c.scaleRewards, loss: c.lossType, is: c.importanceSamplingLevel, mu: c.numIterations, mask: c.maskTruncatedCompletions },
    { k: 8, beta: 0, eps: 0.2, hi: 0.2, scale: 'group', loss: 'dapo', is: 'token', mu: 1, mask: false },
  );
  const d = grpoConfig({ epsilon: 0.1, epsilon_high: 0.28, scale_rewards: 'none', loss_type: 'dr_grpo', beta: 0.04, max_completion_length: 32 });
  const m = grpoMethod(d, ['\n\n']);
  assert.equal(m.needsReference, true);
  assert.deepEqual(m.loss, { kind: 'clipped', cfg: { epsilon: 0.1, epsilonHigh: 0.28, beta: 0.04, lossType: 'dr_grpo', maxCompletionLength: 32, importanceSamplingLevel: 'token' } });
  assert.deepEqual(m.sampling.stopStrings, ['\n\n']);
  assert.equal(grpoMethod(grpoConfig()).needsReference, false, 'beta 0 loads no reference');
  // Scale none: advantages are the centred rewards.
  assert.deepEqual(m.advantages({ rewards: [1, 3, 2, 2], valid: [true, true, true, true], k: 2 }), { advantages: [-1, 1, 0, 0], metrics: { frac_reward_zero_std: 0.5 } });
});

test('GRPO / RLOO config errors name the field', () => {
  assert.throws(() => grpoConfig({ loss_type: 'bnpo' }), /hyperparameters\.loss_type: "bnpo" is not one of grpo, dr_grpo, dapo/);
  assert.throws(() => grpoConfig({ scale_rewards: 'std' }), /hyperparameters\.scale_rewards/);
  assert.throws(() => grpoConfig({ num_iterations: 0 }), /hyperparameters\.num_iterations/);
  assert.throws(() => grpoConfig({ nonsense: 1 }), /hyperparameters\.nonsense: grpo has no such hyperparameter/);
  assert.throws(() => grpoConfig({ beta: 'high' }), /hyperparameters\.beta: expected a number/);
  assert.throws(() => rlooConfig({ normalize_advantages: 1 }), /hyperparameters\.normalize_advantages: expected a boolean/);
});

test('RLOO config: TRL defaults; the KL to the reference is folded into the rewards before the baseline', () => {
  const c = rlooConfig();
  assert.deepEqual({ k: c.numGenerations, beta: c.beta, eps: c.epsilon, hi: c.epsilonHigh, norm: c.normalizeAdvantages }, { k: 2, beta: 0.05, eps: 0.2, hi: 0.2, norm: false });
  const m = rlooMethod(rlooConfig({ beta: 0.5, num_generations: 2 }));
  assert.equal(m.needsReference, true);
  assert.deepEqual(m.loss, { kind: 'sequence', cfg: { epsilon: 0.2, epsilonHigh: 0.2 } });
  // r = [1 - 0.5 * 2, 1 - 0.5 * 0] = [0, 1]: A = [-1, 1]; without the KL they would tie.
  assert.deepEqual(m.advantages({ rewards: [1, 1], valid: [true, true], k: 2, klSums: [2, 0] }).advantages, [-1, 1]);
  assert.throws(() => m.advantages({ rewards: [1, 1], valid: [true, true], k: 2 }), /needs the completions' KL/);
});

test('the GRPO and RLOO cards hold every TRL hyperparameter the trainers read, and GRPO\'s loss types', () => {
  assert.deepEqual(Object.keys(defaultHyperparameters('grpo')).sort(), ['beta', 'epsilon', 'epsilon_high', 'importance_sampling_level', 'loss_type', 'mask_truncated_completions', 'max_completion_length', 'num_generations', 'num_iterations', 'scale_rewards', 'temperature', 'top_k', 'top_p']);
  assert.deepEqual(Object.keys(defaultHyperparameters('rloo')).sort(), ['beta', 'epsilon', 'epsilon_high', 'mask_truncated_completions', 'max_completion_length', 'normalize_advantages', 'num_generations', 'num_iterations', 'temperature', 'top_k', 'top_p']);
  const card = methodCard('grpo');
  assert.deepEqual(card.lossTypes?.map((l) => l.id), ['grpo', 'dr_grpo', 'dapo']);
  assert.deepEqual(GRPO_LOSS_TYPE_IDS, ['grpo', 'dr_grpo', 'dapo']);
  const lossParam = card.hyperparameters.find((p) => p.name === 'loss_type');
  assert.deepEqual(lossParam?.kind === 'choice' ? lossParam.options.map((o) => o.value) : [], GRPO_LOSS_TYPE_IDS);
  for (const m of ['reward', 'frac_reward_zero_std', 'clip_ratio/region_mean', 'completions/clipped_ratio', 'num_tokens']) assert.ok(card.metrics.includes(m), m);
  // A card default the user gives explicitly reads the same as leaving it out.
  assert.deepEqual(grpoConfig(defaultHyperparameters('grpo')), grpoConfig());
  assert.deepEqual(rlooConfig(defaultHyperparameters('rloo')), rlooConfig());
});
