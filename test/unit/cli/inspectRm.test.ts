/**
 * `alignment inspect-rm` on a tiny reward model: one JSON line per record that the protocol's validator accepts,
 * dense rewards that sum to R(x, y) − Φ(x, ∅), record ids as the editor names them, Chinese words; and the bad
 * inputs: a policy folder, a tokenizer that is not the model's, a missing --data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanJsonl } from '../../../src/core/datasets/jsonlScan';
import { parseHfConfig } from '../../../src/engine/models/config';
import { saveHfModel } from '../../../src/engine/models/hfMapping';
import { initWeights } from '../../../src/engine/models/params';
import { parseInspectionLine, type RecordInspection } from '../../../src/protocol/rewardInspection';
import { tinyModelFolder } from '../training/trainerFixtures';
import { alignment } from './cliCapture';

const tmp = (p: string): string => fs.mkdtempSync(path.join(os.tmpdir(), p));

/** A reward model folder from the tiny model: its tokenizer and config, a fresh score head; `vocab` overrides the embedding rows. */
function rewardModel(dir: string, vocab?: number): string {
  const src = tinyModelFolder();
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const raw = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  const config = parseHfConfig({ ...raw, ...(vocab ? { vocab_size: vocab } : {}), architectures: ['LlamaForSequenceClassification'], num_labels: 1 }, 'rm');
  saveHfModel(dir, config, 'score', initWeights(config, 'score', 9));
  return dir;
}

function pairsFile(): string {
  const file = path.join(tmp('inspect-data-'), 'pairs.jsonl');
  const rows = [
    { prompt: 'item 1: say yes', chosen: ' yes the cat', rejected: ' no' },
    { prompt: [{ role: 'user', content: '猫在哪里?' }], chosen: [{ role: 'assistant', content: '猫在垫子上。' }], rejected: [{ role: 'assistant', content: 'the dog ran.' }] },
    { prompt: 'item 1: say yes', chosen: ' hello there', rejected: ' the mat.' },
  ];
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

function parse(text: string): RecordInspection[] {
  return text
    .trim()
    .split('\n')
    .map((l) => {
      const r = parseInspectionLine(l);
      if ('problems' in r) throw new Error(r.problems.join('; '));
      return r;
    });
}

test('inspect-rm writes one valid JSON line per record: dense rewards that sum to R - Φ(∅), Chinese words, ids as the editor names them', async () => {
  const run = tmp('inspect-run-');
  rewardModel(path.join(run, 'final'));
  const data = pairsFile();
  const out = path.join(tmp('inspect-out-'), 'pairs.rewards.jsonl');
  const r = await alignment('inspect-rm', run, '--data', data, '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /3 records inspected/);
  assert.doesNotMatch(r.err, /note: name inspection files/);
  const recs = parse(fs.readFileSync(out, 'utf8'));
  const scan = await scanJsonl(data);
  assert.deepEqual(recs.map((x) => x.recordId), scan.records.map((x) => x.id));
  assert.deepEqual(recs.map((x) => x.line), [1, 2, 3]);
  for (const rec of recs) {
    for (const y of [rec.chosen, rec.rejected]) {
      const sum = y.tokens.reduce((s, t) => s + t.reward, 0);
      assert.ok(Math.abs(sum - (y.reward - y.emptyPrefix)) < 1e-5, `${sum} vs ${y.reward - y.emptyPrefix}`);
      assert.equal(y.spans.map((s) => s.text).join(''), y.text);
    }
  }
  assert.deepEqual(recs[1]!.chosen.spans.filter((s) => s.word).map((s) => s.text), ['猫', '在', '垫子', '上']);
  // Records 1 and 3 share their prompt: their canonical rewards are centred together.
  const mean = (recs[0]!.chosen.reward + recs[0]!.rejected.reward + recs[2]!.chosen.reward + recs[2]!.rejected.reward) / 4;
  assert.ok(Math.abs(recs[0]!.promptMean - mean) < 1e-9);
  // --record picks records, and without --out the lines go to stdout.
  const one = await alignment('inspect-rm', path.join(run, 'final'), '--data', data, '--record', scan.records[1]!.id);
  assert.equal(one.code, 0, one.err);
  const only = parse(one.out);
  assert.equal(only.length, 1);
  assert.equal(only[0]!.chosen.text, '猫在垫子上。');
  assert.ok(Math.abs(only[0]!.chosen.reward - recs[1]!.chosen.reward) < 1e-5);
});

test('inspect-rm refuses a policy folder, a tokenizer that is not the model\'s, an unknown record and a missing --data, without a stack', async () => {
  const data = pairsFile();
  const policy = await alignment('inspect-rm', tinyModelFolder(), '--data', data);
  assert.equal(policy.code, 1);
  assert.match(policy.err, /is not a reward model: its head is "lm" \(a policy's language-model head\)/);
  const small = rewardModel(path.join(tmp('inspect-small-'), 'rm'), 64);
  const mismatch = await alignment('inspect-rm', small, '--data', data);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.err, /has \d+ tokens but the model's embedding has 64 rows, so it is not this model's tokenizer/);
  const unknown = await alignment('inspect-rm', rewardModel(path.join(tmp('inspect-rm-'), 'rm')), '--data', data, '--record', 'nope');
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /has no record with id "nope"/);
  for (const e of [policy.err, mismatch.err, unknown.err]) assert.doesNotMatch(e, /\n\s+at /);
  const noData = await alignment('inspect-rm', small);
  assert.equal(noData.code, 2);
  assert.match(noData.err, /give the pairs with --data/);
});
