/**
 * A run with a person with the refit on (`refit_reward_model`, `refit_policy`; src/training/online/humanRefit.ts):
 * after each round's DPO update a reward model is fitted on all of the person's labels so far and the policy takes
 * GRPO (or PPO) steps against it. The scripted labeler prefers the candidate with more vowels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HumanRefit, readRefitState, REFIT_STATE_FILE, type RefitPair } from '../../../src/training/online/humanRefit';
import { humanDpoConfig } from '../../../src/training/online/humanDpoTrainer';
import { loadHfModel } from '../../../src/engine/models/hfMapping';
import { buildModel } from '../../../src/engine/models/transformer';
import { TextTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { encodeRolloutPrompt } from '../../../src/training/online/rollout';
import { events, metricsByStep, promptRows } from './onlineFixtures';
import { humanSpec, runWithLabeler, vowelDecide } from './humanFixtures';
import { workspace } from './sessionFixtures';
import { resolveRunSpec } from '../../../src/core/runs/spec';

test('refit on: each round fits the reward model on the labels (accuracy up) and GRPO steps against it; metrics and checkpoint keep it', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  const spec = humanSpec(ws, runDir, { refit_reward_model: true, refit_reward_epochs: 4, refit_policy: 'grpo', refit_policy_steps: 2 });
  const res = await runWithLabeler(spec, runDir, vowelDecide);
  assert.equal(res.reason, 'completed', res.error);
  const byStep = metricsByStep(events(runDir));
  const rounds = [...byStep.values()];
  assert.equal(rounds.length, 2);
  for (const m of rounds) {
    const [before, after] = [m['reward_model/accuracy_before'] as number, m['reward_model/accuracy_after'] as number];
    assert.ok(after > before || after === 1, `reward model accuracy ${before} -> ${after}: ${JSON.stringify(m)}`);
    assert.ok((m['reward_model/pairs'] as number) > 0);
    for (const k of ['reward_model/loss', 'reward_model/accuracy', 'reward_model/margin', 'refit/reward', 'refit/reward_std', 'refit/loss', 'refit/rewards/reward_model/mean', 'loss', 'human/round']) assert.ok(Number.isFinite(m[k]), `${k} in ${JSON.stringify(m)}`);
  }
  // Round 2 fits on round 1's labels too.
  assert.ok((rounds[1]?.['reward_model/pairs'] as number) > (rounds[0]?.['reward_model/pairs'] as number));
  // The checkpoints keep the refit reward model (the score head included) and the policy refit's rollouts.
  const ckpts = fs.readdirSync(path.join(runDir, 'checkpoints')).filter((d) => d.startsWith('step-'));
  assert.ok(ckpts.length > 0);
  for (const c of ckpts) {
    const st = readRefitState(path.join(runDir, 'checkpoints', c));
    assert.ok(st?.rewardModel.has('score.weight'), `${c}/${REFIT_STATE_FILE}`);
    assert.ok((st?.policyRollouts ?? 0) >= 2);
  }
});

test('a refit_policy without refit_reward_model is refused, naming the field', () => {
  // In the spec (so the launch form shows it under the field) and in the trainer's config.
  const ws = workspace(promptRows(2));
  const r = resolveRunSpec(humanSpec(ws, path.join(ws.dir, 'run'), { refit_policy: 'ppo' }));
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path), ['hyperparameters.refit_policy']);
  assert.ok(resolveRunSpec(humanSpec(ws, path.join(ws.dir, 'run'), { refit_policy: 'ppo', refit_reward_model: true })).ok);
  assert.throws(() => humanDpoConfig({ refit_policy: 'grpo' }), /hyperparameters\.refit_policy: "grpo" trains the policy against the refit reward model; set refit_reward_model to true/);
  assert.throws(() => humanDpoConfig({ refit_reward_model: true, refit_policy: 'sac' }), /hyperparameters\.refit_policy: "sac" is not one of none, grpo, ppo/);
});

test('the refit reward model learns the labeled pairs, and GRPO steps against it raise its reward of the policy\'s samples', async () => {
  const ws = workspace();
  const loaded = loadHfModel(ws.model);
  const model = buildModel(loaded.config, 'lm', { maxLength: 32 });
  const weights = new Map([...loaded.weights].map(([k, v]) => [k, v.data] as const));
  const tokenizer = TextTokenizer.fromFolder(ws.model);
  const prompts = promptRows(4).map((l, i) => ({ id: `p${i}`, prompt: (JSON.parse(l) as { prompt: { role: 'user'; content: string }[] }).prompt }));
  const refit = await HumanRefit.create({
    refit: { rewardModel: true, rewardEpochs: 8, policy: 'grpo', policySteps: 16 },
    sampling: { maxNewTokens: 6, temperature: 1, topK: 0, topP: 1, samplesPerPrompt: 4, promptsPerRound: 4 },
    model,
    weights,
    tokenizer,
    prompts,
    microBatchPairs: 4,
    optim: { optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0 } },
    seed: 3,
    threads: 1,
  });
  try {
    // The person prefers completions with many vowels over ones with none.
    const enc = (s: string): number[] => tokenizer.encode(s, { addSpecialTokens: false });
    const promptIds = prompts.map((p) => encodeRolloutPrompt(tokenizer, p));
    const pairs: RefitPair[] = ['aeiou', 'oa ea', 'ai ou', 'eee'].flatMap((good, i) => ['xyz', 'rst', 'grr nt'].map((bad, j) => ({ id: `r1-p${i * 3 + j}`, promptIds: promptIds[i % 4] as number[], chosen: enc(good), rejected: enc(bad) })));
    const r = await refit.run(1, pairs, weights);
    const m = r.metrics;
    assert.ok((m['reward_model/accuracy_after'] as number) > (m['reward_model/accuracy_before'] as number), JSON.stringify(m));
    assert.ok((m['reward_model/accuracy_after'] as number) >= 0.9, JSON.stringify(m));
    assert.equal(m['reward_model/pairs'], pairs.length);
    // The reward model is fixed during the policy's steps, so its mean reward of the samples measures the policy.
    const rewards = (r.rollouts ?? []).map((x) => x.reward as number);
    assert.equal(rewards.length, 16);
    const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
    const [early, late] = [sum(rewards.slice(0, 4)), sum(rewards.slice(12))];
    assert.ok(late > early, `the reward model's mean reward of the policy's samples per rollout: ${rewards.map((x) => x.toFixed(3)).join(', ')}`);
    assert.ok(r.policyWeights && [...r.policyWeights].some(([k, v]) => v.some((x, i) => x !== weights.get(k)?.[i])), 'the policy moved');
    // State round trip: a fresh refit restored from the state scores as the fitted one.
    const state = await refit.state();
    const again = await HumanRefit.create({ refit: { rewardModel: true, rewardEpochs: 1, policy: 'none', policySteps: 1 }, sampling: { maxNewTokens: 6, temperature: 1, topK: 0, topP: 1, samplesPerPrompt: 4, promptsPerRound: 4 }, model, weights, tokenizer, prompts, microBatchPairs: 4, optim: { optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0 } }, seed: 3, threads: 1 });
    try {
      const items = pairs.map((p, i) => ({ promptId: prompts[i % 4]?.id as string, completion: p.chosen }));
      assert.notDeepEqual(await again.rewards(items), await refit.rewards(items));
      await again.restore(state);
      assert.deepEqual(await again.rewards(items), await refit.rewards(items));
    } finally {
      await again.dispose();
    }
  } finally {
    await refit.dispose();
  }
});

test('a resumed run with the refit restores the refit reward model from its checkpoint', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  const hyper = { refit_reward_model: true, refit_reward_epochs: 2, refit_policy: 'ppo', refit_policy_steps: 1 };
  const first = await runWithLabeler(humanSpec(ws, runDir, { ...hyper, rounds: 1 }), runDir, vowelDecide);
  assert.equal(first.reason, 'completed', first.error);
  const ckpt = fs.readdirSync(path.join(runDir, 'checkpoints')).filter((d) => d.startsWith('step-'));
  assert.equal(ckpt.length, 1);
  const saved = readRefitState(path.join(runDir, 'checkpoints', ckpt[0] as string));
  assert.equal(saved?.policyRollouts, 1);
  // The same run asked for a second round resumes after round 1, with the saved reward model.
  fs.rmSync(path.join(runDir, 'final'), { recursive: true });
  const second = await runWithLabeler(humanSpec(ws, runDir, { ...hyper, rounds: 2 }), runDir, vowelDecide);
  assert.equal(second.reason, 'completed', second.error);
  const warnings = events(runDir).flatMap((e) => (e.type === 'warning' ? [e.params.message] : []));
  assert.ok(warnings.some((w) => /^resuming from checkpoints\/step-\d+ \(step \d+, after round 1\)$/.test(w)), warnings.join('\n'));
  assert.ok(!warnings.some((w) => /has no refit reward model/.test(w)), warnings.join('\n'));
  const round2 = [...metricsByStep(events(runDir)).values()].find((m) => m['human/round'] === 2) as Record<string, number>;
  assert.ok(Number.isFinite(round2['refit/objective/scores']) && Number.isFinite(round2['reward_model/accuracy_after']), JSON.stringify(round2));
  const latest = fs.readdirSync(path.join(runDir, 'checkpoints')).filter((d) => d.startsWith('step-')).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  assert.equal(readRefitState(path.join(runDir, 'checkpoints', latest[latest.length - 1] as string))?.policyRollouts, 2);
});
