import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlIndex } from '../../../../src/core/datasets/jsonlScan';
import { ComparisonQueue, pairOf } from '../../../../src/core/feedback/comparisonQueue';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import { REAL_DATA_SKIP, realDataFile } from '../../../support/realData';

async function setup(lines: unknown[], random: () => number = () => 0.9) {
  const dir = mkdtempSync(join(tmpdir(), 'cmp-queue-'));
  const file = join(dir, 'pairs.jsonl');
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  const index = await JsonlIndex.build(file);
  const scan = await index.scan();
  const store = FeedbackStore.open({ datasetPath: file, writerId: 'w', annotator: 'alice' });
  const queue = new ComparisonQueue(index, scan, () => store.view(), 'alice', random);
  return { file, store, queue };
}

const p = (id: string) => ({ id, prompt: `P${id}`, chosen: `C${id}`, rejected: `R${id}` });

test('pairOf: string prompts, message prompts and implicit prompts', () => {
  assert.deepEqual(pairOf(p('1')), { prompt: [{ role: 'user', content: 'P1' }], texts: { chosen: 'C1', rejected: 'R1' } });
  const conv = pairOf({
    chosen: [
      { role: 'system', content: 's' },
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
    ],
    rejected: [
      { role: 'system', content: 's' },
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'b' },
    ],
  });
  assert.deepEqual(conv, { prompt: [{ role: 'system', content: 's' }, { role: 'user', content: 'q' }], texts: { chosen: 'a', rejected: 'b' } });
  assert.equal(pairOf({ prompt: 'x', chosen: 'c' }), undefined);
  assert.equal(pairOf({ prompt: 5, chosen: 'c', rejected: 'r' }), undefined);
});

test('queue: walks valid pairs in order, skips invalid lines and labeled ones, counts progress for this annotator', async () => {
  const { store, queue } = await setup([p('a'), 'not json', { id: 'bad', prompt: 'x', chosen: 'c' }, p('b'), p('c')]);
  assert.deepEqual(queue.progress(), { done: 0, total: 3 });
  const first = queue.next();
  assert.equal(first?.recordId, 'a');
  assert.equal(first?.line, 1);
  assert.deepEqual(first?.order, ['rejected', 'chosen'], 'random() >= 0.5 puts rejected on the left');
  store.record({ recordId: 'a', type: 'comparison', payload: { mode: 'pair', order: ['rejected', 'chosen'], preferred: 'chosen' } });
  // bob's label and an AI label do not count as alice's
  store.record({ recordId: 'b', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: null }, annotator: 'bob' });
  store.record({ recordId: 'b', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: null }, source: 'ai:j', annotator: 'alice' });
  assert.deepEqual(queue.progress(), { done: 1, total: 3 });
  const second = queue.next();
  assert.equal(second?.recordId, 'b');
  assert.equal(second?.line, 4);
  queue.skip('b');
  assert.equal(queue.next()?.recordId, 'c');
  store.record({ recordId: 'c', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'chosen' } });
  assert.equal(queue.next()?.recordId, 'b', 'a skipped pair comes back when nothing else is left');
  store.record({ recordId: 'b', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'rejected' } });
  assert.equal(queue.next(), undefined);
  assert.deepEqual(queue.progress(), { done: 3, total: 3 });
  // undo brings a pair back
  store.undo();
  assert.equal(queue.next()?.recordId, 'b');
});

test('queue: continueAfter resumes the walk after a record shown again', async () => {
  const { queue } = await setup([p('a'), p('b'), p('c')]);
  assert.equal(queue.next()?.recordId, 'a');
  assert.equal(queue.next()?.recordId, 'b');
  queue.continueAfter('a');
  assert.equal(queue.next()?.recordId, 'b');
  queue.pair('a');
  assert.equal(queue.next()?.recordId, 'b', 'pair() also continues after the record it returns');
});

test('queue: the random source sets the displayed order', async () => {
  const { queue } = await setup([p('a')], () => 0.1);
  assert.deepEqual(queue.next()?.order, ['chosen', 'rejected']);
});

test('queue over the real dataset: 300 conversational pairs, prompts with all turns', { skip: REAL_DATA_SKIP }, async () => {
  const file = realDataFile('dpo_en_demo.trl.jsonl');
  const index = await JsonlIndex.build(file);
  const scan = await index.scan();
  const dir = mkdtempSync(join(tmpdir(), 'cmp-queue-real-'));
  const store = FeedbackStore.open({ datasetPath: file, labelsDir: join(dir, 'labels'), writerId: 'w', annotator: 'alice' });
  const queue = new ComparisonQueue(index, scan, () => store.view(), 'alice');
  assert.deepEqual(queue.progress(), { done: 0, total: 300 });
  const first = queue.next();
  assert.equal(first?.recordId, 'dpo-en-000');
  assert.ok(first && first.prompt.length >= 1 && first.prompt.every((t) => typeof t.content === 'string'));
  assert.ok(first && first.texts.chosen.length > 0 && first.texts.rejected.length > 0);
});
