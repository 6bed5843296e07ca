/**
 * An online DPO session on the tiny fixture model: it streams TRL's online-DPO metrics, samples with their scores,
 * checkpoints and a final model; batchSize counts prompts (pairs); a run stopped after 2 rollouts and resumed logs
 * the same metrics as one that ran straight through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { events, metricsByStep, onlineSpec, promptRows, resolved, run } from './onlineFixtures';
import { workspace, type Workspace } from './sessionFixtures';

/** Rewards that differ between most pairs of the untrained model's completions (vowels, length). */
const dpoSpec = (ws: Workspace, runDir: string): Record<string, unknown> =>
  onlineSpec(ws, runDir, {
    method: 'online-dpo',
    hyperparameters: { max_new_tokens: 6, beta: 0.1, temperature: 1 },
    rewards: { functions: [{ kind: 'regex', pattern: '[aeiou]', name: 'vowel' }, { kind: 'length_penalty', softPunishCache: 4, weight: 0.5 }] },
    batchSize: 3,
    gradientAccumulationSteps: 2,
  });

test('an online DPO session streams TRL online-DPO metrics and samples, checkpoints; stopped at 2 and resumed = straight through', async () => {
  const ws = workspace(promptRows(6));
  const straightDir = path.join(ws.dir, 'straight');
  const straight = await run(resolved(dpoSpec(ws, straightDir)), straightDir);
  assert.equal(straight.reason, 'completed', straight.error);
  assert.equal(straight.step, 4);
  const evs = events(straightDir);
  const started = evs.find((e) => e.type === 'started');
  assert.ok(started?.type === 'started' && started.params.method === 'online-dpo' && started.params.totalSteps === 4 && started.params.examples.train === 6);
  const byStep = metricsByStep(evs);
  assert.deepEqual([...byStep.keys()], [1, 2, 3, 4]);
  for (const m of byStep.values()) {
    for (const k of ['objective/kl', 'objective/entropy', 'objective/non_score_reward', 'objective/rlhf_reward', 'objective/scores', 'val/contain_eos_token', 'beta', 'pairs/ties', 'pairs/trained', 'rewards/vowel/mean', 'num_tokens', 'loss', 'grad_norm', 'learning_rate']) {
      assert.ok(Number.isFinite(m[k]), `metric ${k}: ${m[k]}`);
    }
    // 6 prompts per rollout (batchSize 3 pairs x 2 accumulation steps): every pair trains or ties.
    assert.ok(((m['pairs/trained'] as number) + (m['pairs/ties'] as number)) === 6, 'six pairs per step');
  }
  assert.ok([...byStep.values()].some((m) => Number.isFinite(m['rewards/margins']) && Number.isFinite(m['logps/chosen'])), 'pair metrics logged');
  const samples = evs.filter((e) => e.type === 'samples');
  assert.deepEqual(samples.map((e) => e.params.step), [2, 4]);
  const s0 = samples[0];
  assert.ok(s0?.type === 'samples' && s0.params.scoreKind === 'reward' && s0.params.samples.every((s) => typeof s.scores?.policy === 'number'));
  assert.deepEqual(evs.filter((e) => e.type === 'checkpoint').map((e) => e.params.step), [2]);
  assert.ok(fs.existsSync(path.join(straightDir, 'final', 'config.json')));

  const resumedDir = path.join(ws.dir, 'resumed');
  const spec = resolved(dpoSpec(ws, resumedDir));
  const first = await run(spec, resumedDir, 2);
  assert.equal(first.reason, 'stopped');
  assert.equal(first.step, 2);
  const second = await run(spec, resumedDir);
  assert.equal(second.reason, 'completed', second.error);
  const resumedEvs = events(resumedDir);
  assert.ok(resumedEvs.some((e) => e.type === 'warning' && /^resuming from checkpoints\/step-2/.test(e.params.message)));
  const resumed = metricsByStep(resumedEvs.slice(resumedEvs.findIndex((e) => e.type === 'warning' && /^resuming/.test(e.params.message))));
  assert.deepEqual([...resumed.keys()], [3, 4]);
  for (const s of [3, 4]) assert.deepEqual(resumed.get(s), byStep.get(s), `step ${s}: resumed = straight`);
});
