/**
 * `alignment train --method ppo` from flags: --max-new-tokens reaches PPO's `response_length`, PPO's own options go
 * through --set, and the run writes TRL's PPO metrics to events.jsonl and a final model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSessionEvents } from '../../../src/protocol/session';
import { alignment } from './cliCapture';

const QUESTIONS = ['What is the capital of France?', 'Name a color.', 'What is 3 plus 4?', 'Say hello.'];
const PPO_METRICS = ['objective/kl', 'objective/entropy', 'objective/non_score_reward', 'objective/rlhf_reward', 'objective/scores', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'val/num_eos_tokens', 'lr', 'episode'];

test('alignment train --method ppo --reward regex=[0-9]: TRL PPO metrics in events.jsonl', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-ppo-'));
  const data = path.join(dir, 'prompts.jsonl');
  fs.writeFileSync(data, QUESTIONS.map((q) => JSON.stringify({ prompt: [{ role: 'user', content: q }] })).join('\n') + '\n');
  const runDir = path.join(dir, 'run');
  process.env['ALIGNMENT_CACHE_DIR'] ??= path.join(os.tmpdir(), 'alignment-cache-test');
  const r = await alignment(
    'train', '--method', 'ppo', '--data', data, '--model', 'builtin', '--steps', '8', '--batch-size', '2', '--lr', '3e-3', '--max-length', '64', '--eval-split', '0',
    '--set', 'num_mini_batches=2', '--set', 'num_ppo_epochs=2', '--set', 'kl_estimator=k3', '--set', 'missing_eos_penalty=1', '--max-new-tokens', '4', '--temperature', '1',
    '--reward', 'regex=[0-9]', '--logging-steps', '4', '--run-dir', runDir, '--json', '--threads', '1',
  );
  assert.equal(r.code, 0, r.err);
  const spec = JSON.parse(fs.readFileSync(path.join(runDir, 'spec.json'), 'utf8')) as { method: string; hyperparameters: Record<string, unknown> };
  assert.equal(spec.method, 'ppo');
  assert.equal(spec.hyperparameters.response_length, 4);
  assert.equal(spec.hyperparameters.kl_estimator, 'k3');
  const evs = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
  const metrics = evs.flatMap((e) => (e.type === 'metrics' ? [e.params] : []));
  assert.deepEqual(metrics.map((m) => m.step), [4, 8]);
  for (const m of metrics) for (const k of [...PPO_METRICS, 'rewards/regex/mean']) assert.ok(Number.isFinite(m.metrics[k]), `${k} at step ${m.step}: ${m.metrics[k]}`);
  // 4 prompts per rollout (batch 2 x 2 mini-batches), 2 PPO epochs x 2 mini-batches = 4 optimizer steps per rollout.
  assert.deepEqual(metrics.map((m) => m.metrics.episode), [4, 8]);
  // missing_eos_penalty 1: the score is the reward less 1 for each completion cut at the length limit.
  for (const { metrics: m } of metrics) assert.ok(Math.abs((m['objective/scores'] as number) - ((m['rewards/regex/mean'] as number) - (m['completions/clipped_ratio'] as number))) < 1e-9, JSON.stringify(m));
  assert.ok(metrics.some((m) => (m.metrics['completions/clipped_ratio'] as number) > 0), 'some completions hit the limit');
  assert.ok(evs.some((e) => e.type === 'finished' && e.params.reason === 'completed' && e.params.step === 8));
  assert.ok(fs.existsSync(path.join(runDir, 'final', 'config.json')));
});

test('alignment train --method ppo needs a --reward', async () => {
  const a = await alignment('train', '--method', 'ppo', '--data', 'x.jsonl');
  assert.equal(a.code, 2);
  assert.match(a.err, /--method ppo needs at least one --reward/);
});
