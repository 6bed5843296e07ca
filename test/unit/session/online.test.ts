/**
 * GRPO and RLOO sessions on the tiny fixture model: a run streams TRL's metrics, the samples with their rewards,
 * checkpoints and a final model; a run stopped after k rollouts and resumed logs the same metrics as one that ran
 * straight through; bad reward setups fail with a message that names what to fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { events, metricsByStep, onlineSpec, promptRows, resolved, run } from './onlineFixtures';
import { workspace } from './sessionFixtures';

test('a GRPO session streams TRL metrics, samples with rewards, checkpoints; stopped at 2 and resumed = straight through', async () => {
  const ws = workspace(promptRows(6));
  const straightDir = path.join(ws.dir, 'straight');
  const straight = await run(resolved(onlineSpec(ws, straightDir)), straightDir);
  assert.equal(straight.reason, 'completed', straight.error);
  assert.equal(straight.step, 4);
  const evs = events(straightDir);
  const started = evs.find((e) => e.type === 'started');
  assert.ok(started?.type === 'started' && started.params.method === 'grpo' && started.params.totalSteps === 4 && started.params.examples.train === 6);
  const byStep = metricsByStep(evs);
  assert.deepEqual([...byStep.keys()], [1, 2, 3, 4]);
  for (const m of byStep.values()) {
    for (const k of ['reward', 'reward_std', 'frac_reward_zero_std', 'rewards/vowel/mean', 'rewards/exact_match/mean', 'kl', 'entropy', 'clip_ratio/region_mean', 'completions/mean_length', 'num_tokens', 'loss', 'grad_norm', 'learning_rate']) {
      assert.ok(Number.isFinite(m[k]), `metric ${k}: ${m[k]}`);
    }
  }
  const samples = evs.filter((e) => e.type === 'samples');
  assert.deepEqual(samples.map((e) => e.params.step), [2, 4]);
  const s0 = samples[0];
  assert.ok(s0?.type === 'samples' && s0.params.scoreKind === 'reward' && s0.params.scoreLabel === 'reward = 1·vowel + 0.5·exact_match');
  assert.ok(s0.params.samples.length > 0 && s0.params.samples.every((s) => /^item \d: say (yes|no)$/.test(s.prompt) && typeof s.scores?.policy === 'number'));
  assert.deepEqual(evs.filter((e) => e.type === 'checkpoint').map((e) => e.params.step), [2]);
  assert.ok(fs.existsSync(path.join(straightDir, 'final', 'config.json')));

  const resumedDir = path.join(ws.dir, 'resumed');
  const spec = resolved(onlineSpec(ws, resumedDir));
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

test('RLOO with num_iterations 2: steps count optimizer steps, checkpoints resume on rollout boundaries', async () => {
  const ws = workspace(promptRows(4));
  const dir = path.join(ws.dir, 'run');
  const spec = resolved(onlineSpec(ws, dir, { method: 'rloo', hyperparameters: { num_generations: 2, max_completion_length: 5, num_iterations: 2 }, batchSize: 4, maxSteps: 8, intervals: { logging: 2, eval: 0, checkpoint: 4, sample: 0 }, earlyStopping: { metric: 'reward', patience: 1 } }));
  const first = await run(spec, dir, 2);
  assert.equal(first.reason, 'stopped');
  assert.equal(first.step, 4);
  const second = await run(spec, dir);
  assert.equal(second.reason, 'completed', second.error);
  assert.equal(second.step, 8);
  const m = metricsByStep(events(dir));
  assert.deepEqual([...m.keys()], [2, 4, 6, 8]);
  assert.ok([...m.values()].every((x) => Number.isFinite(x.reward) && Number.isFinite(x.kl)));
  assert.ok(events(dir).some((e) => e.type === 'warning' && /earlyStopping is not applied to rloo runs/.test(e.params.message)), 'an option the online loop does not apply is said');
});

test('bad reward setups: a missing reference answer names file, line and field; a throwing reward stops with its name', async () => {
  const rows = promptRows(4);
  rows[2] = JSON.stringify({ prompt: 'no answer here' });
  const ws = workspace(rows);
  const dir = path.join(ws.dir, 'run');
  const res = await run(resolved(onlineSpec(ws, dir)), dir);
  assert.equal(res.reason, 'failed');
  assert.match(res.error ?? '', /exact_match.*data\.jsonl:3, field "answer"/);
  const err = events(dir).find((e) => e.type === 'error');
  assert.ok(err?.type === 'error' && err.params.fatal && !/\n\s+at /.test(err.params.detail ?? ''), 'a user error carries no stack');

  // numeric_match throws on a reference answer without a number ("yes"): the run stops, naming function and prompt.
  const ws2 = workspace(promptRows(4));
  const numeric = { functions: [{ kind: 'numeric_match' }], onError: 'stop' };
  const stopDir = path.join(ws2.dir, 'stop');
  const stopped = await run(resolved(onlineSpec(ws2, stopDir, { rewards: numeric, maxSteps: 2 })), stopDir);
  assert.equal(stopped.reason, 'failed');
  assert.match(stopped.error ?? '', /reward function "numeric_match" failed on prompt data\.jsonl:\d+ \(.*data\.jsonl:\d+\) "user: item \d: say (yes|no)".*holds no number.*onError/);
  // onError "skip": the samples are skipped and reported, the run finishes.
  const skipDir = path.join(ws2.dir, 'skip');
  const skipped = await run(resolved(onlineSpec(ws2, skipDir, { rewards: { ...numeric, onError: 'skip' }, maxSteps: 2 })), skipDir);
  assert.equal(skipped.reason, 'completed', skipped.error);
  assert.ok(events(skipDir).some((e) => e.type === 'warning' && /sample\(s\) skipped/.test(e.params.message)));
});

test('a GRPO session with LoRA and beta > 0 (the reference is the base model) trains and saves a merged model', async () => {
  const ws = workspace(promptRows(4));
  const dir = path.join(ws.dir, 'run');
  const spec = resolved(onlineSpec(ws, dir, { lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, maxSteps: 2, intervals: { logging: 1, eval: 0, checkpoint: 0, sample: 1 } }));
  const res = await run(spec, dir);
  assert.equal(res.reason, 'completed', res.error);
  const m = metricsByStep(events(dir));
  assert.ok(Math.abs(m.get(1)?.kl ?? NaN) < 1e-6, 'KL 0 at the first update: the LoRA policy starts as the base model');
  assert.ok(Number.isFinite(m.get(2)?.reward));
  const started = events(dir).find((e) => e.type === 'started');
  const params = started?.type === 'started' ? started.params.parameters : undefined;
  assert.ok(params && params.trainable < params.total, 'only the adapters train');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'final', 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.ok(cfg.model_type !== undefined);
  assert.ok(!fs.readdirSync(path.join(dir, 'final')).some((f) => /adapter/.test(f)), 'adapters are merged into the saved weights');
});
