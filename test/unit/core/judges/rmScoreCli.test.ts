// `alignment rm-score` with a real (tiny, random) sequence-classification model on the engine's runtime, run as a
// child process: its event stream alone, and behind the reward-model judge (ids on stdin, as the editor runs it).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { scanJsonl } from '../../../../src/core/datasets/jsonlScan';
import { datasetPairItems } from '../../../../src/core/judges/datasetPairs';
import { runLabelJob, type AiPairLabel, type AiSource, type LabelSink } from '../../../../src/core/judges/labelJob';
import { RewardModelJudge } from '../../../../src/core/judges/rewardModelJudge';
import { writeSafetensors } from '../../../../src/engine/io/safetensors';
import { parseRmEventLine, type RmEvent } from '../../../../src/protocol/rewardScoring';
import { tinyHf, tmpDir, writeTinyTokenizer } from '../../engine/models/tinyModels';

const REPO = path.resolve(__dirname, '../../../..');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A tiny Llama with a one-output `score` head (LlamaForSequenceClassification, num_labels 1). */
function tinyRewardModel(): string {
  const dir = tmpDir('tiny-rm-');
  dirs.push(dir);
  const { config, tensors } = tinyHf('llama-gqa-untied', 11);
  tensors.delete('lm_head.weight');
  const D = (tensors.get('model.embed_tokens.weight')?.shape[1] as number) ?? 32;
  const w = new Float32Array(D).map((_, i) => Math.sin(i + 1) * 0.5);
  tensors.set('score.weight', { dtype: 'F32', shape: [1, D], data: w });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['LlamaForSequenceClassification'], num_labels: 1, id2label: { 0: 'LABEL_0' }, pad_token_id: 0 }, null, 2));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeTinyTokenizer(dir);
  return dir;
}

const ROWS = [
  { id: 'p1', prompt: 'What is the capital of France?', chosen: 'The capital of France is Paris.', rejected: 'Two plus two is four.' },
  { prompt: 'Say something polite.', chosen: 'A small model answers short questions politely.', rejected: 'The lazy dog.' },
  { id: 'p3', prompt: 'Quick?', chosen: 'The quick brown fox jumps.', rejected: 'Three plus three is six.' },
  { id: 'p4', prompt: 'Broken row: no rejected answer', chosen: 'only one' },
  { id: 'p5', prompt: [{ role: 'user', content: 'Capital of France?' }], chosen: [{ role: 'assistant', content: 'Paris.' }], rejected: [{ role: 'assistant', content: 'Four.' }] },
];

function writeData(rows: readonly object[]): string {
  const dir = tmpDir('rm-data-');
  dirs.push(dir);
  const file = path.join(dir, 'pairs.jsonl');
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

/** Runs the CLI from source in a child process (as the editor runs the built one). */
function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src', 'cli', 'main.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

function events(out: string): RmEvent[] {
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const e = parseRmEventLine(l);
      assert.ok(!('warning' in e), `invalid event line ${l}: ${'warning' in e ? e.warning : ''}`);
      return e;
    });
}

describe('alignment rm-score', () => {
  const model = tinyRewardModel();

  it('streams one validated score per pair under the scan\'s record ids, a skip for a row that is not a pair, and the same scores after the file is reordered', async () => {
    const file = writeData(ROWS);
    const r = await cli('rm-score', '--model', model, '--data', file, '--json');
    assert.equal(r.code, 0, r.err);
    const ev = events(r.out);
    assert.equal(ev[0]?.type, 'ready');
    assert.equal(ev.at(-1)?.type, 'done');
    const scan = await scanJsonl(file);
    const ids = scan.records.map((x) => x.id);
    const scores = new Map(ev.flatMap((e) => (e.type === 'score' ? [[e.params.recordId, e.params] as const] : [])));
    assert.deepEqual([...scores.keys()].sort(), [ids[0], ids[1], ids[2], ids[4]].sort(), 'pairs are named by the scan ids (a hash id for the row without one)');
    assert.match(ids[1] as string, /^sha1:/);
    for (const s of scores.values()) assert.ok(Number.isFinite(s.chosen) && Number.isFinite(s.rejected));
    const skips = ev.filter((e) => e.type === 'skip');
    assert.equal(skips.length, 1);
    assert.equal(skips[0]?.type === 'skip' && skips[0].params.recordId, 'p4');
    assert.match(skips[0]?.type === 'skip' ? skips[0].params.reason : '', /rejected/);

    // Reordered file: the same record ids get the same rewards (batches and padding do not change a row's score).
    const reordered = writeData([ROWS[4], ROWS[2], ROWS[0], ROWS[1]] as object[]);
    const r2 = await cli('rm-score', '--model', model, '--data', reordered, '--json');
    assert.equal(r2.code, 0, r2.err);
    for (const e of events(r2.out)) {
      if (e.type !== 'score') continue;
      const before = scores.get(e.params.recordId);
      assert.ok(before, e.params.recordId);
      assert.ok(Math.abs(before.chosen - e.params.chosen) < 1e-4 && Math.abs(before.rejected - e.params.rejected) < 1e-4, `${e.params.recordId}: ${JSON.stringify([before, e.params])}`);
    }
  });

  it('refuses a folder that is not a reward model, naming it, with an error event and exit code 2', async () => {
    const lm = tmpDir('tiny-lm-');
    dirs.push(lm);
    const { config, tensors } = tinyHf('llama-gqa-untied');
    fs.writeFileSync(path.join(lm, 'config.json'), JSON.stringify(config));
    writeSafetensors(path.join(lm, 'model.safetensors'), tensors, { format: 'pt' });
    writeTinyTokenizer(lm);
    const file = writeData(ROWS.slice(0, 1));
    for (const [dir, why] of [[lm, /is not a reward model \(its head is "lm"/], [path.dirname(file), /is not a model folder \(no config\.json\)/]] as const) {
      const r = await cli('rm-score', '--model', dir, '--data', file, '--json');
      assert.equal(r.code, 2);
      const ev = events(r.out);
      assert.equal(ev.length, 1);
      assert.equal(ev[0]?.type, 'error');
      assert.match(ev[0]?.type === 'error' ? ev[0].params.message : '', why);
      assert.ok((ev[0]?.type === 'error' ? ev[0].params.message : '').includes(dir));
    }
  });

  it('runs behind the reward-model judge as a child process: only the ids sent on stdin are scored and labeled', async () => {
    const file = writeData(ROWS);
    const { pairs } = datasetPairItems(await scanJsonl(file));
    assert.equal(pairs.length, 4, 'the row without rejected is not a pair');
    const judge = new RewardModelJudge({ name: 'rm:tiny', modelDir: model, dataset: file, command: process.execPath, commandArgs: ['--import', 'tsx', path.join(REPO, 'src', 'cli', 'main.ts')] });
    const labels: AiPairLabel[] = [];
    const sink: LabelSink = {
      labeledRecordIds: (s: AiSource) => new Set(labels.filter((l) => l.source === s).map((l) => l.recordId)),
      append: (l) => void labels.push(l),
    };
    // One pair was labeled by this judge before: it is neither sent nor labeled again.
    labels.push({ recordId: 'p1', source: 'ai:rm:tiny', order: ['chosen', 'rejected'], preferred: 'chosen', judgement: { winner: 'A', confidence: 0.6, mode: 'score', scores: { a: 1, b: 0 } } });
    const todo = pairs.map((p) => p.recordId).filter((id) => id !== 'p1');
    const ready = await judge.start(todo);
    assert.equal(ready.pairs, 3);
    const res = await runLabelJob({ judge, pairs, sink });
    judge.dispose();
    assert.equal(res.status, 'completed', JSON.stringify(res.errors));
    assert.equal(res.skipped, 1);
    assert.equal(res.labeled, 3);
    assert.deepEqual(labels.slice(1).map((l) => l.recordId).sort(), todo.sort());
    for (const l of labels.slice(1)) {
      const s = l.judgement.scores;
      assert.ok(s);
      assert.equal(l.preferred, s.a > s.b ? 'chosen' : s.b > s.a ? 'rejected' : null);
    }
  });
});
