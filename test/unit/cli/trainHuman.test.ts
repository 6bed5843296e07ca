/**
 * `alignment train --method human-dpo` headless: the simulated labeler (the demo's proxy reward against each
 * prompt's answer) labels every batch and the run finishes; labels from a file are taken by pair id, and a file
 * that runs out while a round still needs labels stops the run with a message (never a silent wait), resumable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listRounds, openRoundLabels, readBatch, readRoundPairs, roundDecisions } from '../../../src/core/runs/rounds';
import { alignment } from './cliCapture';

const QA = [['What is the capital of France?', 'Paris.'], ['Name a color.', 'Blue.'], ['What is 3 plus 4?', 'Seven.'], ['Say hello.', 'Hello.'], ['What animal says moo?', 'A cow.'], ['What month comes after May?', 'June.']];

function setup(): { dir: string; data: string; runDir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-human-'));
  const data = path.join(dir, 'prompts.jsonl');
  fs.writeFileSync(data, QA.map(([q, a]) => JSON.stringify({ prompt: [{ role: 'user', content: q }], answer: a })).join('\n') + '\n');
  process.env['ALIGNMENT_CACHE_DIR'] ??= path.join(os.tmpdir(), 'alignment-cache-test');
  return { dir, data, runDir: path.join(dir, 'run') };
}

const common = (data: string, runDir: string): string[] => [
  'train', '--method', 'human-dpo', '--data', data, '--model', 'builtin', '--batch-size', '2', '--lr', '1e-3', '--max-length', '64', '--eval-split', '0', '--max-new-tokens', '4',
  '--set', 'rounds=2', '--set', 'prompts_per_round=3', '--set', 'samples_per_prompt=3', '--set', 'pairs_per_round=4', '--set', 'updates_per_round=1', '--run-dir', runDir, '--json', '--threads', '1',
];

test('--labels simulated: the proxy-reward labeler labels every batch and the run finishes', async () => {
  const { data, runDir } = setup();
  const r = await alignment(...common(data, runDir), '--labels', 'simulated', '--label-noise', '0');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(listRounds(runDir), [1, 2]);
  for (const round of [1, 2]) {
    const b = readBatch(runDir, round);
    assert.equal(b.closed?.reason, 'labeled');
    const store = openRoundLabels(runDir, round, 'reader');
    const d = roundDecisions(store.view(), readRoundPairs(runDir, round));
    store.close();
    assert.equal(d.person.size, 4);
    assert.ok([...d.person.values()].every((x) => x.source === 'program:simulated-labeler' && x.annotator === 'simulated-labeler'));
  }
  assert.ok(fs.existsSync(path.join(runDir, 'final', 'config.json')));
});

test('--labels FILE: decisions by pair id; a file that runs out stops the run with a message, and it resumes', async () => {
  const { dir, data, runDir } = setup();
  const labels = path.join(dir, 'labels.jsonl');
  fs.writeFileSync(labels, [0, 1, 2, 3].map((i) => JSON.stringify({ id: `r1-p${i}`, preferred: i % 2 ? 'rejected' : null })).join('\n') + '\n');
  const first = await alignment(...common(data, runDir), '--labels', labels);
  assert.equal(first.code, 1);
  assert.match(first.err, new RegExp(`--labels ${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ended while round 2 still needs 4 label\\(s\\); the run stops and resumes at this round`));
  assert.equal(readBatch(runDir, 1).closed?.human, 4);
  assert.equal(readBatch(runDir, 2).state, 'waiting');
  fs.appendFileSync(labels, [0, 1, 2, 3].map((i) => JSON.stringify({ id: `r2-p${i}`, preferred: 'chosen' })).join('\n') + '\n');
  const second = await alignment('train', '--run-dir', runDir, '--labels', labels, '--json', '--threads', '1', path.join(runDir, 'spec.json'));
  assert.equal(second.code, 0, second.err);
  assert.equal(readBatch(runDir, 2).closed?.reason, 'labeled');
  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"id": "r1-p0", "preferred": "left"}\n');
  const third = await alignment(...common(data, path.join(dir, 'run2')), '--labels', bad);
  assert.equal(third.code, 1);
  assert.match(third.err, /bad\.jsonl:1: preferred: expected "chosen", "rejected" or null, got "left"/);
});
