/**
 * `alignment eval` on tiny model folders: its figures are checked against an independent float64 computation
 * (test/support/reference/transformer.ts), in text and in --json, for a policy (mean-token log-prob, implicit reward
 * against a reference) and for a reward model in a run folder's final/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDatasetFile } from '../../../src/core/datasets/formats';
import type { PreferenceExample } from '../../../src/core/datasets/examples';
import { loadHfModel, saveHfModel } from '../../../src/engine/models/hfMapping';
import { initWeights } from '../../../src/engine/models/params';
import { referenceForward, referenceTokenLogprobs } from '../../support/reference/transformer';
import { TextTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { encodePairs } from '../../../src/training/encode';
import { tinyModelFolder } from '../training/trainerFixtures';
import { writeTinyHfFolder } from '../engine/models/tinyModels';
import { alignment } from './cliCapture';

const REPLIES = ['yes', 'no', 'the cat sat on the mat.', 'hello there, how are you?', 'the dog ran.', 'say yes no'];

/** A pairs file: conversational TRL rows whose replies differ in length and wording. */
function pairsFile(dir: string, n = 10): string {
  const file = path.join(dir, 'pairs.jsonl');
  const rows = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      prompt: [{ role: 'user', content: `item ${1 + (i % 12)}: say ${i % 2 ? 'no' : 'yes'}` }],
      chosen: [{ role: 'assistant', content: REPLIES[i % REPLIES.length] }],
      rejected: [{ role: 'assistant', content: REPLIES[(i * 5 + 3) % REPLIES.length] }],
    }),
  );
  fs.writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

/**
 * The float64 reference's score of each completion: the mean-token log-prob under an LM, or the reward at the last
 * token under a score-head model. Returns chosen scores then rejected scores.
 */
async function referenceScores(modelDir: string, data: string): Promise<{ chosen: number[]; rejected: number[] }> {
  const m = loadHfModel(modelDir);
  const tok = TextTokenizer.fromFolder(modelDir);
  const examples = (await loadDatasetFile(data)).examples as PreferenceExample[];
  const { pairs } = encodePairs(tok, examples, { maxLength: 512 });
  const score = (prompt: number[], completion: number[]): number => {
    const ids = [...prompt, ...completion];
    const out = referenceForward(m.config, m.head, m.weights, [ids]);
    if (m.head === 'score') return (out.scores as Float64Array)[ids.length - 1] as number;
    const lp = referenceTokenLogprobs(out.logits as Float64Array, [ids], m.config.vocabSize)[0] as number[];
    return lp.slice(prompt.length - 1).reduce((s, x) => s + x, 0) / completion.length;
  };
  return { chosen: pairs.map((p) => score(p.prompt, p.chosen)), rejected: pairs.map((p) => score(p.prompt, p.rejected)) };
}

function expected(s: { chosen: number[]; rejected: number[] }): { accuracy: number; meanMargin: number; minGap: number } {
  const margins = s.chosen.map((c, i) => c - (s.rejected[i] as number));
  return {
    accuracy: margins.filter((m) => m > 0).length / margins.length,
    meanMargin: margins.reduce((a, b) => a + b, 0) / margins.length,
    minGap: Math.min(...margins.map(Math.abs)),
  };
}

interface EvalJson {
  model: string;
  data: string;
  scoredBy: string;
  pairs: number;
  skipped: number;
  accuracy: number;
  overall: number;
  meanMargin: number;
  bySection: { name: string; n: number; correct: number; accuracy: number }[];
}

test('alignment eval on a policy folder: mean-token log-prob accuracy and margin match the float64 reference, as text and --json', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-eval-'));
  const model = tinyModelFolder();
  const data = pairsFile(dir);
  const ref = expected(await referenceScores(model, data));
  assert.ok(ref.minGap > 1e-3, 'no near-ties, so the accuracy is exact');
  assert.ok(ref.accuracy > 0 && ref.accuracy < 1, `a non-trivial accuracy (${ref.accuracy})`);

  const j = await alignment('eval', model, '--data', data, '--json');
  assert.equal(j.code, 0, j.err);
  const lines = j.out.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON line');
  const r = JSON.parse(lines[0] as string) as EvalJson;
  assert.equal(r.model, model);
  assert.equal(r.data, data);
  assert.equal(r.scoredBy, 'mean-token log-prob');
  assert.equal(r.pairs, 10);
  assert.equal(r.skipped, 0);
  assert.equal(r.accuracy, ref.accuracy);
  assert.equal(r.overall, ref.accuracy);
  assert.ok(Math.abs(r.meanMargin - ref.meanMargin) < 1e-4, `mean margin ${r.meanMargin} vs reference ${ref.meanMargin}`);
  assert.equal(r.bySection.reduce((s, g) => s + g.n, 0), 10);

  const t = await alignment('eval', model, '--data', data);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, new RegExp(`^10 pairs scored by mean-token log-prob: accuracy ${ref.accuracy.toFixed(4)}, mean margin ${r.meanMargin.toFixed(4)}\\n`));
});

test('alignment eval with --reference ranks by the implicit reward (the model against itself: every margin 0, every pair a tie)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-eval-'));
  const model = tinyModelFolder();
  const r = await alignment('eval', model, '--data', pairsFile(dir, 6), '--reference', model, '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as EvalJson;
  assert.equal(j.scoredBy, 'implicit reward log pi - log pi_ref');
  assert.equal(j.pairs, 6);
  assert.equal(j.accuracy, 0, 'ties are misses');
  assert.equal(j.meanMargin, 0);
});

test("alignment eval on a run folder scores with its final/ reward model; the figures match the float64 reference", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-eval-'));
  const lm = tinyModelFolder();
  const run = path.join(dir, 'run');
  const config = loadHfModel(lm).config;
  saveHfModel(path.join(run, 'final'), config, 'score', initWeights(config, 'score', 11), { tokenizerFrom: lm });
  const data = pairsFile(dir);
  const ref = expected(await referenceScores(path.join(run, 'final'), data));
  assert.ok(ref.minGap > 1e-4, 'no near-ties');
  const r = await alignment('eval', run, '--data', data, '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as EvalJson;
  assert.equal(j.model, path.join(run, 'final'));
  assert.equal(j.scoredBy, 'reward model score');
  assert.equal(j.accuracy, ref.accuracy);
  assert.ok(Math.abs(j.meanMargin - ref.meanMargin) < 1e-4, `mean margin ${j.meanMargin} vs reference ${ref.meanMargin}`);
  // A reference model means nothing to a reward model: said, not silently dropped.
  const w = await alignment('eval', run, '--data', data, '--reference', lm);
  assert.equal(w.code, 0, w.err);
  assert.match(w.err, /warning: --reference is ignored for a reward model/);
});

test('alignment eval: bad inputs are clear errors with exit code 2 (missing --data, not a model folder, missing file, wrong data kind, mismatched reference)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-eval-'));
  const model = tinyModelFolder();
  const data = pairsFile(dir, 4);
  const cases: [string[], RegExp][] = [
    [['eval', model], /alignment eval: give the pairs to score with --data <pairs file>/],
    [['eval', dir, '--data', data], /is not a model folder \(no config\.json\) or a run folder with final\//],
    [['eval', path.join(dir, 'nope'), '--data', data], /nope does not exist/],
    [['eval', model, '--data', path.join(dir, 'missing.jsonl')], /--data .*missing\.jsonl does not exist/],
  ];
  const sft = path.join(dir, 'sft.jsonl');
  fs.writeFileSync(sft, JSON.stringify({ prompt: 'a', completion: 'b' }) + '\n');
  cases.push([
    ['eval', model, '--data', sft],
    /alignment eval: \S*sft\.jsonl holds sft data \(1 row of trl-prompt-completion \(prompt, completion\)\), not preference pairs; alignment eval needs rows with prompt, chosen, rejected \(strings or message lists\), or another preference format \(ultrafeedback, sharegpt-preference, ultrafeedback-binarized, hh-rlhf, trl-preference-implicit\)/,
  ]);
  // Preference rows that are all bad: the message names what was found and the first bad row, not "it is preference data".
  const broken = path.join(dir, 'broken.jsonl');
  fs.writeFileSync(broken, [{ prompt: 'a', chosen: 'b' }, { prompt: 'c', chosen: 'd', rejected: 7 }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  cases.push([
    ['eval', model, '--data', broken],
    /alignment eval: \S*broken\.jsonl has no usable preference pairs: its rows look like trl-preference \(prompt, chosen, rejected \(strings or message lists\)\), but all 2 rows were skipped; the first: \S*broken\.jsonl:1 rejected: /,
  ]);
  cases.push([['eval', model, '--data', data, '--reference', writeTinyHfFolder('gpt2')], /--reference .* is not the same architecture as/]);
  for (const [args, want] of cases) {
    const r = await alignment(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, want);
    assert.match(r.err, /usage:\n {2}alignment eval </);
    assert.equal(r.out, '');
  }
});
