/**
 * A reward model as a reward source: its scores of (prompt, completion text) equal `alignment rm-score`'s scores of
 * the same texts (run as the editor runs it, a child process); a policy whose tokenizer differs from the reward
 * model's gets the score of its decoded text; a run folder resolves to its final/; folders that are not reward
 * models are refused with the reason.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TextTokenizer } from '../../../../src/engine/tokenizer/tokenizer';
import { parseRmEventLine } from '../../../../src/protocol/rewardScoring';
import type { RewardSample } from '../../../../src/training/online/rewards/rewardFunction';
import { rewardModelReward, RewardModelScorer, RewardModelSourceError } from '../../../../src/training/online/rewards/rewardModelReward';
import { tmpDir, writeTinyHfFolder } from '../../engine/models/tinyModels';
import { otherTokenizer, tinyRewardModel } from './rewardSourceFixtures';

const REPO = path.resolve(__dirname, '../../../..');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const ROWS = [
  { id: 't1', prompt: 'What is the capital of France?', chosen: 'The capital of France is Paris.', rejected: 'Two plus two is four.' },
  { id: 't2', prompt: 'Quick?', chosen: 'The quick brown fox jumps.', rejected: 'Three plus three is six.' },
  { id: 'c1', prompt: [{ role: 'user', content: 'Capital of France?' }], chosen: [{ role: 'assistant', content: 'Paris.' }], rejected: [{ role: 'assistant', content: 'Four.' }] },
] as const;

function rmScoreCli(model: string, data: string): Promise<Map<string, { chosen: number; rejected: number }>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src', 'cli', 'main.ts'), 'rm-score', '--model', model, '--data', data, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`rm-score exited ${code}: ${err}`));
      const m = new Map<string, { chosen: number; rejected: number }>();
      for (const l of out.split('\n').filter((x) => x.trim())) {
        const e = parseRmEventLine(l);
        if (!('warning' in e) && e.type === 'score') m.set(e.params.recordId, { chosen: e.params.chosen, rejected: e.params.rejected });
      }
      resolve(m);
    });
  });
}

const text = (c: string | readonly { content: string }[]): string => (typeof c === 'string' ? c : (c[0] as { content: string }).content);

const sample = (id: string, prompt: RewardSample['prompt']['prompt'], completion: string, completionIds: number[] = []): RewardSample => ({ prompt: { id, prompt }, completion, completionIds, terminated: true });

test('reward model source: scores equal `alignment rm-score` on the same texts to 1e-5 (text and conversational prompts), in batches', async () => {
  const model = tinyRewardModel(dirs);
  const dataDir = tmpDir('rm-src-data-');
  dirs.push(dataDir);
  const file = path.join(dataDir, 'pairs.jsonl');
  fs.writeFileSync(file, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const cli = await rmScoreCli(model, file);
  assert.equal(cli.size, ROWS.length);
  // batch 4 < 6 rows: the scorer runs two batches, the second one padded.
  const scorer = await RewardModelScorer.open({ name: 'rm', dir: model, batch: 4, threads: 1 });
  try {
    const fn = rewardModelReward('rm', scorer);
    const samples = ROWS.flatMap((r) => [sample(r.id, r.prompt, text(r.chosen)), sample(r.id, r.prompt, text(r.rejected))]);
    const got = await fn.score(samples);
    ROWS.forEach((r, i) => {
      const want = cli.get(r.id);
      assert.ok(want, `rm-score scored ${r.id}`);
      assert.ok(Math.abs((got[2 * i] as number) - want.chosen) < 1e-5, `${r.id} chosen: ${got[2 * i]} vs ${want.chosen}`);
      assert.ok(Math.abs((got[2 * i + 1] as number) - want.rejected) < 1e-5, `${r.id} rejected: ${got[2 * i + 1]} vs ${want.rejected}`);
    });
    assert.ok(new Set(got.map((x) => (x as number).toFixed(6))).size > 3, 'the random reward model tells the texts apart');
  } finally {
    await scorer.dispose();
  }
});

test('reward model source: a policy with another tokenizer is scored on its decoded text (the same score as the text scored directly)', async () => {
  const model = tinyRewardModel(dirs);
  const policyTok = TextTokenizer.fromFolder(otherTokenizer(dirs));
  const rmTok = TextTokenizer.fromFolder(model);
  const completions = ['The capital of France is Paris.', 'Numbers 12345 here.', 'zebra quartz'];
  const ids = completions.map((c) => policyTok.encode(c, { addSpecialTokens: false }));
  assert.notDeepEqual(ids[0], rmTok.encode(completions[0] as string, { addSpecialTokens: false }), 'the two tokenizers split the text differently');
  const scorer = await RewardModelScorer.open({ name: 'rm', dir: model, threads: 1 });
  try {
    const fromPolicy = await rewardModelReward('rm', scorer).score(ids.map((x, i) => sample(`p${i}`, 'Say something.', policyTok.decode(x, { skipSpecialTokens: true }), x)));
    const direct = await scorer.score(completions.map((c) => ({ prompt: 'Say something.', completion: c })));
    completions.forEach((_, i) => assert.ok(Math.abs((fromPolicy[i] as number) - (direct[i] as number)) < 1e-6, `${fromPolicy[i]} vs ${direct[i]}`));
  } finally {
    await scorer.dispose();
  }
});

test('reward model source: a run folder resolves to its final/; a policy folder, a missing folder and an empty one are refused with the reason', async () => {
  const model = tinyRewardModel(dirs);
  const run = tmpDir('rm-run-');
  dirs.push(run);
  fs.cpSync(model, path.join(run, 'final'), { recursive: true });
  const s = await RewardModelScorer.open({ name: 'rm', dir: run, threads: 1 });
  assert.equal(s.dir, path.join(run, 'final'));
  await s.dispose();
  const lm = writeTinyHfFolder('llama-gqa-untied');
  dirs.push(lm);
  await assert.rejects(RewardModelScorer.open({ name: 'rm', dir: lm }), (e: Error) => e instanceof RewardModelSourceError && /not a reward model: its head is "lm"/.test(e.message));
  await assert.rejects(RewardModelScorer.open({ name: 'rm', dir: path.join(run, 'nope') }), /no folder at .*nope/);
  const empty = tmpDir('rm-empty-');
  dirs.push(empty);
  await assert.rejects(RewardModelScorer.open({ name: 'rm', dir: empty }), /not a model folder \(no config\.json\) or a run folder with a saved final\/ model/);
});
