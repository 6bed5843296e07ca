/**
 * A PPO session on the tiny fixture model: TRL's PPO metrics stream, checkpoints carry the adaptive KL controller's
 * kl_coef, and a run stopped after one rollout and resumed logs the same metrics as one that ran straight through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunSpec } from '../../../src/core/runs/spec';
import { events, metricsByStep, onlineSpec, promptRows, resolved, run } from './onlineFixtures';
import { workspace } from './sessionFixtures';

const PPO_METRICS = ['objective/kl', 'objective/entropy', 'objective/non_score_reward', 'objective/rlhf_reward', 'objective/scores', 'objective/kl_coef', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'policy/entropy_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'val/num_eos_tokens', 'lr', 'episode', 'rewards/vowel/mean', 'loss', 'grad_norm', 'learning_rate', 'num_tokens'];

test('a PPO session logs TRL PPO metrics, checkpoints kl_coef; stopped after a rollout and resumed = straight through', async () => {
  const ws = workspace(promptRows(8));
  const spec = (runDir: string): RunSpec =>
    resolved(
      onlineSpec(ws, runDir, {
        method: 'ppo',
        hyperparameters: { response_length: 6, num_ppo_epochs: 2, num_mini_batches: 2, adap_kl_ctrl: true, target: 0.05, horizon: 8, kl_coef: 0.1, temperature: 1 },
        rewards: { functions: [{ kind: 'regex', pattern: '[aeiou]', name: 'vowel' }] },
        batchSize: 2,
        maxSteps: 12,
        intervals: { logging: 4, eval: 0, checkpoint: 4, sample: 4 },
      }),
    );
  const runPpo = (runDir: string, stopAfter?: number) => run(spec(runDir), runDir, stopAfter);
  const straightDir = path.join(ws.dir, 'straight');
  const straight = await runPpo(straightDir);
  assert.equal(straight.reason, 'completed', straight.error);
  assert.equal(straight.step, 12);
  const evs = events(straightDir);
  const started = evs.find((e) => e.type === 'started');
  assert.ok(started?.type === 'started' && started.params.method === 'ppo' && started.params.totalSteps === 12);
  const byStep = metricsByStep(evs);
  assert.deepEqual([...byStep.keys()], [4, 8, 12]);
  for (const m of byStep.values()) for (const k of PPO_METRICS) assert.ok(Number.isFinite(m[k]), `metric ${k}: ${m[k]}`);
  assert.deepEqual([...byStep.values()].map((m) => m.episode), [4, 8, 12]);
  const coefs = [...byStep.values()].map((m) => m['objective/kl_coef'] as number);
  assert.ok(new Set(coefs).size === 3, `the adaptive controller moves kl_coef: ${coefs}`);
  assert.deepEqual(evs.filter((e) => e.type === 'checkpoint').map((e) => e.params.step), [4, 8]);
  const state = JSON.parse(fs.readFileSync(path.join(straightDir, 'checkpoints', 'step-8', 'alignment_state.json'), 'utf8')) as { online?: { kl_coef?: number } };
  assert.equal(state.online?.kl_coef, coefs[1]);
  assert.ok(fs.existsSync(path.join(straightDir, 'final', 'config.json')));

  const resumedDir = path.join(ws.dir, 'resumed');
  const first = await runPpo(resumedDir, 1);
  assert.equal(first.reason, 'stopped');
  assert.equal(first.step, 4);
  const second = await runPpo(resumedDir);
  assert.equal(second.reason, 'completed', second.error);
  const rev = events(resumedDir);
  const at = rev.findIndex((e) => e.type === 'warning' && /^resuming from checkpoints\/step-4/.test(e.params.message));
  assert.ok(at >= 0);
  const resumed = metricsByStep(rev.slice(at));
  assert.deepEqual([...resumed.keys()], [8, 12]);
  for (const s of [8, 12]) assert.deepEqual(resumed.get(s), byStep.get(s), `step ${s}: resumed = straight`);
});
