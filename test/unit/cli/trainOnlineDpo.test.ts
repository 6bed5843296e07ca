/**
 * `alignment train --method online-dpo` from flags on a prompt-only dataset: the reward functions and sampling
 * options reach the run spec under the online-dpo card's names (--max-new-tokens is TRL's max_new_tokens), the run
 * writes TRL's online-DPO metrics to events.jsonl, and on the toy task (reward 1 when the completion holds a digit)
 * the mean score rises. (Resume is tested on the session: test/unit/session/onlineDpo.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { alignment } from './cliCapture';

const QUESTIONS = ['What is the capital of France?', 'Name a color.', 'What is 3 plus 4?', 'Say hello.', 'What animal says moo?', 'What month comes after May?', 'Tell me a fruit.', 'How are you?'];

const ONLINE_DPO_METRICS = ['objective/kl', 'objective/entropy', 'objective/non_score_reward', 'objective/rlhf_reward', 'objective/scores', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'val/contain_eos_token', 'beta', 'loss', 'grad_norm', 'learning_rate'];

test('alignment train --method online-dpo --reward regex=[0-9]: TRL online-DPO metrics in events.jsonl, and the mean score rises', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-online-dpo-'));
  const data = path.join(dir, 'prompts.jsonl');
  fs.writeFileSync(data, QUESTIONS.map((q) => JSON.stringify({ prompt: [{ role: 'user', content: q }] })).join('\n') + '\n');
  const runDir = path.join(dir, 'run');
  process.env['ALIGNMENT_CACHE_DIR'] ??= path.join(os.tmpdir(), 'alignment-cache-test');
  const r = await alignment(
    'train', '--method', 'online-dpo', '--data', data, '--model', 'builtin', '--steps', '14', '--batch-size', '16', '--lr', '1.2e-2', '--max-length', '64', '--eval-split', '0',
    '--max-new-tokens', '4', '--temperature', '1', '--reward', 'regex=[0-9]', '--logging-steps', '1', '--run-dir', runDir, '--json', '--threads', '1',
  );
  assert.equal(r.code, 0, r.err);
  const spec = JSON.parse(fs.readFileSync(path.join(runDir, 'spec.json'), 'utf8')) as { hyperparameters: Record<string, unknown>; rewards: unknown };
  assert.equal(spec.hyperparameters.max_new_tokens, 4);
  assert.equal(spec.hyperparameters.max_completion_length, undefined);
  assert.deepEqual(spec.rewards, { functions: [{ kind: 'regex', weight: 1, name: 'regex', pattern: '[0-9]' }], onError: 'stop', timeoutSeconds: 60 });
  const events = (): SessionEvent[] => parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
  const scores: number[] = [];
  for (const e of events()) {
    if (e.type !== 'metrics') continue;
    // rewards/* and logps/* are left out of a step in which every pair tied (no pair trained).
    for (const k of ONLINE_DPO_METRICS.filter((m) => !/^(rewards|logps)\//.test(m))) assert.equal(typeof e.params.metrics[k], 'number', `metric ${k} at step ${e.params.step}`);
    scores.push(e.params.metrics['objective/scores'] as number);
  }
  const first = events().find((e) => e.type === 'metrics');
  for (const k of ONLINE_DPO_METRICS) assert.equal(typeof (first?.type === 'metrics' ? first.params.metrics[k] : undefined), 'number', `metric ${k} at the first step`);
  assert.ok(events().some((e) => e.type === 'finished' && e.params.reason === 'completed' && e.params.step === 14));
  assert.ok(events().some((e) => e.type === 'samples' && e.params.scoreKind === 'reward'));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`  cli online-dpo: scores ${scores.map((x) => x.toFixed(2)).join(' ')}`);
  assert.equal(scores.length, 14);
  assert.ok(mean(scores.slice(-3)) >= mean(scores.slice(0, 3)) + 0.25, `mean score rose: ${scores}`);

  assert.ok(fs.existsSync(path.join(runDir, 'final', 'config.json')), 'the policy is saved');
});
