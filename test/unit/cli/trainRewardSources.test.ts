/**
 * `alignment train --method grpo` with the reward sources that are not built-in functions: a reward model
 * (`--reward rm=PATH`, a tiny random reward model whose tokenizer differs from the built-in policy's, so every score
 * goes through re-tokenized text) whose score GRPO raises; a JavaScript module (`--reward module=PATH#EXPORT`),
 * which the CLI runs because its user asked for it; a local LLM judge (`--reward judge=MODEL@URL`) with its key from
 * the environment; bad source flags are usage errors.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JUDGE_API_KEY_ENV } from '../../../src/core/runs/specRewardSources';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { heuristicJudge, startJudgeServer } from '../../support/judgeServer';
import { tinyRewardModel } from '../training/online/rewardSourceFixtures';
import { alignment } from './cliCapture';

const QUESTIONS = ['What is the capital of France?', 'Name a color.', 'What is 3 plus 4?', 'Say hello.', 'What animal says moo?', 'What month comes after May?', 'Tell me a fruit.', 'How are you?'];
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function workspace(): { dir: string; data: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-sources-'));
  dirs.push(dir);
  const data = path.join(dir, 'prompts.jsonl');
  fs.writeFileSync(data, QUESTIONS.map((q, i) => JSON.stringify({ prompt: [{ role: 'user', content: q }], answer: String(i) })).join('\n') + '\n');
  process.env['ALIGNMENT_CACHE_DIR'] ??= path.join(os.tmpdir(), 'alignment-cache-test');
  return { dir, data };
}

const events = (runDir: string): SessionEvent[] => parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;

function rewards(evs: readonly SessionEvent[], key: string): number[] {
  return evs.flatMap((e) => (e.type === 'metrics' && typeof e.params.metrics[key] === 'number' ? [e.params.metrics[key]] : []));
}

test('alignment train --method grpo --reward rm=<reward model>: a reward model with another tokenizer scores the samples, and GRPO raises its score', async () => {
  const { dir, data } = workspace();
  const rm = tinyRewardModel(dirs, 5);
  const runDir = path.join(dir, 'run');
  const r = await alignment(
    'train', '--method', 'grpo', '--data', data, '--model', 'builtin', '--steps', '24', '--batch-size', '32', '--lr', '5e-3', '--max-length', '64', '--eval-split', '0',
    '--set', 'num_generations=8', '--max-new-tokens', '4', '--temperature', '1', '--reward', `rm=${rm}`, '--logging-steps', '1', '--run-dir', runDir, '--json', '--threads', '1',
  );
  assert.equal(r.code, 0, r.err);
  const spec = JSON.parse(fs.readFileSync(path.join(runDir, 'spec.json'), 'utf8')) as { rewards: unknown };
  assert.deepEqual(spec.rewards, { functions: [{ kind: 'reward_model', weight: 1, name: 'reward_model', path: rm }], onError: 'stop', timeoutSeconds: 60 });
  const evs = events(runDir);
  const reward = rewards(evs, 'rewards/reward_model/mean');
  assert.equal(reward.length, 24);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  // The second half's mean score against the first half's: each half averages 12 steps x 32 samples, so with the
  // within-batch std s the difference of the two means has a standard error of about s * sqrt(2 / 384). A rise
  // of three standard errors is learning, not sampling noise.
  const half = reward.length / 2;
  const first = mean(reward.slice(0, half));
  const last = mean(reward.slice(half));
  const std = mean(rewards(evs, 'reward_std'));
  const se = std * Math.sqrt(2 / (half * 32));
  console.log(`  grpo vs reward model: ${reward.map((x) => x.toFixed(3)).join(' ')} (within-batch std ${std.toFixed(3)})`);
  assert.ok(last > first + 3 * se, `the reward model's mean score went from ${first.toFixed(3)} (first half) to ${last.toFixed(3)} (second half); 3 standard errors are ${(3 * se).toFixed(3)}`);
});

test('alignment train --reward module=PATH#EXPORT: the CLI runs the module (its user asked for it), weighted with a built-in', async () => {
  const { dir, data } = workspace();
  const mod = path.join(dir, 'reward.mjs');
  fs.writeFileSync(mod, 'export function short(prompt, completion, info) { return info.fields.answer === undefined ? null : -completion.length / 10; }\n');
  const runDir = path.join(dir, 'run');
  const r = await alignment(
    'train', '--method', 'grpo', '--data', data, '--model', 'builtin', '--steps', '1', '--batch-size', '8', '--max-length', '64', '--eval-split', '0',
    '--set', 'num_generations=4', '--max-new-tokens', '3', '--reward', `module=${mod}#short`, '--reward', 'regex=[0-9]', '--reward-weight', '2', '--reward-weight', '0.5', '--run-dir', runDir, '--json', '--threads', '1',
  );
  assert.equal(r.code, 0, r.err);
  const spec = JSON.parse(fs.readFileSync(path.join(runDir, 'spec.json'), 'utf8')) as { rewards: { functions: unknown[] } };
  assert.deepEqual(spec.rewards.functions[0], { kind: 'module', weight: 2, name: 'module', path: mod, export: 'short' });
  const m = rewards(events(runDir), 'rewards/module/mean');
  assert.equal(m.length, 1);
  assert.ok((m[0] as number) < 0, `the module scored the samples: ${m[0]}`);
});

test('reward source flags: a missing path and a judge without MODEL@URL are usage errors', async () => {
  const a = await alignment('train', '--method', 'grpo', '--data', 'x.jsonl', '--reward', 'rm');
  assert.equal(a.code, 2);
  assert.match(a.err, /--reward rm: give rm=PATH/);
  const b = await alignment('train', '--method', 'grpo', '--data', 'x.jsonl', '--reward', 'judge=http://127.0.0.1:8080');
  assert.equal(b.code, 2);
  assert.match(b.err, /--reward judge: expected MODEL@URL/);
  const c = await alignment('train', '--method', 'grpo', '--data', 'x.jsonl', '--reward', 'bleu');
  assert.match(c.err, /unknown reward function "bleu" \(one of .*rm=PATH.*module=PATH\[#EXPORT\].*judge=MODEL@URL/);
});

test('alignment train --reward judge=MODEL@URL: the local judge rates every sample, the key goes from the environment to the Authorization header and nowhere in the run folder', async () => {
  const { dir, data } = workspace();
  const server = await startJudgeServer({ behaviour: heuristicJudge() });
  const saved = process.env[JUDGE_API_KEY_ENV];
  process.env[JUDGE_API_KEY_ENV] = 'sk-test-judge-key';
  try {
    const runDir = path.join(dir, 'run');
    const r = await alignment(
      'train', '--method', 'grpo', '--data', data, '--model', 'builtin', '--steps', '1', '--batch-size', '8', '--max-length', '64', '--eval-split', '0',
      '--set', 'num_generations=4', '--max-new-tokens', '3', '--reward', `judge=tiny-judge@${server.baseUrl}`, '--run-dir', runDir, '--json', '--threads', '1',
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(server.requests.length, 8, 'one rating per sample');
    assert.ok(server.requests.every((q) => q.authorization === 'Bearer sk-test-judge-key' && q.model === 'tiny-judge'));
    const m = rewards(events(runDir), 'rewards/judge/mean');
    assert.equal(m[0], 0, 'heuristicJudge rates short replies 1 of 10: reward 0');
    for (const f of fs.readdirSync(runDir, { recursive: true }) as string[]) {
      const p = path.join(runDir, f);
      if (fs.statSync(p).isFile()) assert.ok(!fs.readFileSync(p).includes('sk-test-judge-key'), `${f} holds no key`);
    }
  } finally {
    if (saved === undefined) delete process.env[JUDGE_API_KEY_ENV];
    else process.env[JUDGE_API_KEY_ENV] = saved;
    await server.stop();
  }
});
