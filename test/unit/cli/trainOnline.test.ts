/**
 * `alignment train --method grpo` from flags on a prompt-only dataset the test writes: reward functions, weights and
 * sampling options reach the run spec, the run writes events with TRL's reward metrics, and on a toy task (reward 1
 * when the completion holds a digit; the untrained built-in model writes one in about 40% of its 4-token replies)
 * the mean reward rises over the steps. Bad online flags are usage errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSessionEvents } from '../../../src/protocol/session';
import { alignment } from './cliCapture';

const QUESTIONS = ['What is the capital of France?', 'Name a color.', 'What is 3 plus 4?', 'Say hello.', 'What animal says moo?', 'What month comes after May?', 'Tell me a fruit.', 'How are you?'];

test('alignment train --method grpo --reward regex=[0-9]: TRL reward metrics in events.jsonl, and the mean reward rises', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-grpo-'));
  const data = path.join(dir, 'prompts.jsonl');
  fs.writeFileSync(data, QUESTIONS.map((q, i) => JSON.stringify({ prompt: [{ role: 'user', content: q }], answer: String(i) })).join('\n') + '\n');
  const runDir = path.join(dir, 'run');
  process.env['ALIGNMENT_CACHE_DIR'] ??= path.join(os.tmpdir(), 'alignment-cache-test');
  const r = await alignment(
    'train', '--method', 'grpo', '--data', data, '--model', 'builtin', '--steps', '14', '--batch-size', '32', '--lr', '5e-3', '--max-length', '64', '--eval-split', '0',
    '--set', 'num_generations=8', '--set', 'beta=0.04', '--max-new-tokens', '4', '--temperature', '1', '--top-p', '1',
    '--reward', 'regex=[0-9]', '--reward', 'exact_match', '--reward-weight', '1', '--reward-weight', '0', '--on-reward-error', 'skip',
    '--logging-steps', '1', '--run-dir', runDir, '--json', '--threads', '1',
  );
  assert.equal(r.code, 0, r.err);
  const spec = JSON.parse(fs.readFileSync(path.join(runDir, 'spec.json'), 'utf8')) as { hyperparameters: Record<string, unknown>; rewards: unknown };
  assert.equal(spec.hyperparameters.max_completion_length, 4);
  assert.deepEqual(spec.rewards, { functions: [{ kind: 'regex', weight: 1, name: 'regex', pattern: '[0-9]' }, { kind: 'exact_match', weight: 0, name: 'exact_match', field: 'answer' }], onError: 'skip', timeoutSeconds: 60 });
  const evs = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
  const reward: number[] = [];
  for (const e of evs) {
    if (e.type !== 'metrics') continue;
    assert.ok(typeof e.params.metrics['rewards/regex/mean'] === 'number' && typeof e.params.metrics['rewards/exact_match/mean'] === 'number');
    reward.push(e.params.metrics.reward as number);
  }
  assert.ok(evs.some((e) => e.type === 'finished' && e.params.reason === 'completed' && e.params.step === 14));
  assert.ok(evs.some((e) => e.type === 'samples' && e.params.scoreKind === 'reward'));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(reward.slice(0, 3));
  const last = mean(reward.slice(-3));
  console.log(`  cli grpo: reward ${reward.map((x) => x.toFixed(2)).join(' ')}`);
  assert.equal(reward.length, 14);
  assert.ok(first > 0.1 && first < 0.7, `the untrained model has room to learn (first rewards ${first})`);
  assert.ok(last >= 0.8 && last >= first + 0.25, `mean reward rose from ${first.toFixed(3)} to ${last.toFixed(3)}`);
});

test('online flags: a method that does not sample refuses them; grpo needs a --reward; weights match rewards', async () => {
  const a = await alignment('train', '--method', 'dpo', '--data', 'x.jsonl', '--reward', 'proxy');
  assert.equal(a.code, 2);
  assert.match(a.err, /--reward: only for the online methods \(--method [a-z|-]*grpo[a-z|-]*\)/);
  const b = await alignment('train', '--method', 'grpo', '--data', 'x.jsonl');
  assert.equal(b.code, 2);
  assert.match(b.err, /--method grpo needs at least one --reward/);
  const c = await alignment('train', '--method', 'rloo', '--data', 'x.jsonl', '--reward', 'proxy', '--reward-weight', '1', '--reward-weight', '2');
  assert.match(c.err, /--reward-weight: give one per --reward \(1\), or none; got 2/);
  const d = await alignment('train', '--method', 'rloo', '--data', 'x.jsonl', '--reward', 'bleu');
  assert.match(d.err, /--reward: unknown reward function "bleu" \(one of exact_match, numeric_match, regex, json_valid, length_penalty, proxy, rm=PATH .*, module=PATH\[#EXPORT\] .*, judge=MODEL@URL .*\)/);
});
