/**
 * The editor's view of a dataset goes through the format registry that training uses: for each shape training
 * reads (TRL, LLaMA-Factory ShareGPT as .json and .jsonl, HH-RLHF, UltraFeedback rated completions and binarized,
 * ShareGPT KTO), the scan detects the format, checks rows with its parser (a bad row gets a diagnostic naming the
 * field and the format, on the row's line), exposes each row's TRL view for labeling, and labels exported from
 * that view are TRL rows that training loads back as the same pairs. The user's file is never written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanDataset } from '../../../../src/core/datasets/datasetScan';
import { loadDatasetFile } from '../../../../src/core/datasets/formats';
import type { PreferenceExample } from '../../../../src/core/datasets/examples';
import { candidateKeys } from '../../../../src/core/datasets/trlRow';
import { ComparisonQueue } from '../../../../src/core/feedback/comparisonQueue';
import { exportPreference, exportUnpaired, readerFromIndex } from '../../../../src/core/feedback/export';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import { REAL_DATA_SKIP, realDataFile } from '../../../support/realData';

const dir = mkdtempSync(join(tmpdir(), 'dataset-scan-'));
let n = 0;
function file(name: string, text: string): string {
  const f = join(dir, `${n++}-${name}`);
  writeFileSync(f, text);
  return f;
}
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

const shareGpt = (i: number) => ({
  conversations: [{ from: 'human', value: `问题 ${i}：天空为什么是蓝色的？` }],
  chosen: { from: 'gpt', value: `因为瑞利散射 ${i}` },
  rejected: { from: 'gpt', value: `因为海洋 ${i}` },
});

test('ShareGPT preference as a pretty-printed .json array: detected, no problems, records at their element lines, TRL view', async () => {
  const f = file('dpo_zh.json', JSON.stringify([shareGpt(0), shareGpt(1), { ...shareGpt(2), system: '你是助手' }], null, 2));
  const scan = await scanDataset(f);
  assert.equal(scan.format?.id, 'sharegpt-preference');
  assert.equal(scan.container, 'json-array');
  assert.deepEqual(scan.diagnostics, []);
  assert.equal(scan.records.length, 3);
  assert.deepEqual(scan.records.map((r) => r.valid), [true, true, true]);
  const text = readFileSync(f, 'utf8').split('\n');
  for (const r of scan.records) assert.equal(text[r.line - 1].trim(), '{', `record ${r.index} starts on its line ${r.line}`);
  const read = scan.index.readRecord(2);
  assert.ok(read.ok);
  assert.deepEqual(read.record.row, {
    prompt: [{ role: 'system', content: '你是助手' }, { role: 'user', content: '问题 2：天空为什么是蓝色的？' }],
    chosen: [{ role: 'assistant', content: '因为瑞利散射 2' }],
    rejected: [{ role: 'assistant', content: '因为海洋 2' }],
  });
  assert.deepEqual(candidateKeys(read.record.row), ['chosen', 'rejected']);
});

test('ShareGPT preference as .jsonl: a bad row gets one diagnostic on its line naming the field and the format, the others none', async () => {
  const bad = { conversations: [{ from: 'human', value: 'q' }], chosen: { from: 'gpt', value: 'a' }, rejected: { from: 'gpt' } };
  const f = file('pref.jsonl', jsonl([shareGpt(0), bad, shareGpt(2)]));
  const scan = await scanDataset(f);
  assert.equal(scan.format?.id, 'sharegpt-preference');
  assert.equal(scan.diagnostics.length, 1);
  const [d] = scan.diagnostics;
  assert.equal(d.line, 2);
  assert.equal(d.code, 'missing-field');
  assert.match(d.message, /field "rejected\.value": missing \(sharegpt-preference rows: conversations/);
  assert.ok(!/missing field "prompt"/.test(d.message));
  assert.deepEqual(scan.records.map((r) => r.valid), [true, false, true]);
  // Training skips the same row, for the same field.
  const loaded = await loadDatasetFile(f);
  assert.deepEqual(loaded.skipped.map((s) => [s.source.line, s.field]), [[2, 'rejected.value']]);
});

test('HH-RLHF transcripts: the shared turns are the prompt, the last Assistant turns the pair', async () => {
  const row = { chosen: '\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Tell a joke\n\nAssistant: A good one', rejected: '\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Tell a joke\n\nAssistant: No.' };
  const f = file('hh.jsonl', jsonl([row, { chosen: '\n\nHuman: a\n\nAssistant: b', rejected: '\n\nHuman: different\n\nAssistant: c' }]));
  const scan = await scanDataset(f);
  assert.equal(scan.format?.id, 'hh-rlhf');
  assert.deepEqual(scan.diagnostics.map((d) => [d.line, d.message.split(' (')[0]]), [[2, 'field "rejected": the transcripts differ before their final Assistant turn']]);
  const read = scan.index.readRecord(0);
  assert.ok(read.ok);
  assert.deepEqual(read.record.row, {
    prompt: [{ role: 'user', content: 'Hi there' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'Tell a joke' }],
    chosen: [{ role: 'assistant', content: 'A good one' }],
    rejected: [{ role: 'assistant', content: 'No.' }],
  });
});

test('UltraFeedback rated completions: the pair is the binarized chosen and rejected that training uses', async () => {
  const row = { id: 'uf1', instruction: 'Name a prime', completions: [{ response: 'Four', overall_score: 2 }, { response: 'Seven', overall_score: 9 }, { response: 'Nine', overall_score: 1 }] };
  const f = file('uf.jsonl', jsonl([row]));
  const scan = await scanDataset(f);
  assert.equal(scan.format?.id, 'ultrafeedback');
  assert.deepEqual(scan.diagnostics, []);
  const read = scan.index.readRecord(0);
  assert.ok(read.ok);
  const trained = (await loadDatasetFile(f)).examples[0] as PreferenceExample;
  assert.ok(trained.style === 'conversational');
  assert.deepEqual(read.record.row, { id: 'uf1', prompt: [{ role: 'user', content: 'Name a prime' }], chosen: [{ role: 'assistant', content: 'Seven' }], rejected: [{ role: 'assistant', content: trained.rejected[0].content }] });
});

test('UltraFeedback binarized: prompt string plus chosen/rejected conversations that repeat it', async () => {
  const conv = (a: string) => [{ role: 'user', content: 'What is 2+2?' }, { role: 'assistant', content: a }];
  const f = file('ufb.jsonl', jsonl([{ prompt: 'What is 2+2?', chosen: conv('4'), rejected: conv('5'), score_chosen: 9, score_rejected: 2 }]));
  const scan = await scanDataset(f);
  assert.equal(scan.format?.id, 'ultrafeedback-binarized');
  assert.deepEqual(scan.diagnostics, []);
  const read = scan.index.readRecord(0);
  assert.ok(read.ok);
  assert.deepEqual(read.record.row, { prompt: [{ role: 'user', content: 'What is 2+2?' }], chosen: [{ role: 'assistant', content: '4' }], rejected: [{ role: 'assistant', content: '5' }] });
  const trained = (await loadDatasetFile(f)).examples[0] as PreferenceExample;
  assert.deepEqual(trained.scores, { chosen: 9, rejected: 2 });
});

test('TRL rows are labeled under their own fields (the row unchanged); a row without prompt is named as TRL sees it', async () => {
  const f = file('trl.jsonl', jsonl([{ id: 'a', prompt: 'p', chosen: 'c', rejected: 'r', extra: 1 }, { id: 'b', prompt: 'p2', chosen: 'c2' }]));
  const scan = await scanDataset(f);
  assert.equal(scan.format?.id, 'trl-preference');
  const read = scan.index.readRecord(0);
  assert.ok(read.ok);
  assert.equal(read.record.row, read.record.value);
  assert.deepEqual(scan.diagnostics.map((d) => [d.line, d.message.split(' (')[0]]), [[2, 'field "rejected": missing']]);
});

test('ShareGPT KTO (messages + label): the last assistant turn is the completion', async () => {
  const f = file('kto.jsonl', jsonl([{ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }], label: false }]));
  const scan = await scanDataset(f);
  assert.equal(scan.format?.id, 'sharegpt-kto');
  const read = scan.index.readRecord(0);
  assert.ok(read.ok);
  assert.deepEqual(read.record.row, { prompt: [{ role: 'user', content: 'q' }], completion: [{ role: 'assistant', content: 'a' }], label: false });
  assert.deepEqual(candidateKeys(read.record.row), ['completion']);
});

test('rows no format fits (similarity triplets) get no field errors', async () => {
  const f = file('triplets.jsonl', jsonl([{ anchor: 'x', a: 'y', b: 'z' }]));
  const scan = await scanDataset(f);
  assert.equal(scan.format, undefined);
  assert.deepEqual(scan.diagnostics, []);
});

test('a JSON array that is not valid JSON is one diagnostic with its line; an array of non-objects names the element', async () => {
  const broken = await scanDataset(file('broken.json', '[\n  {"conversations": []},\n  {oops}\n]'));
  assert.equal(broken.diagnostics.length, 1);
  assert.equal(broken.diagnostics[0].code, 'invalid-json');
  const numbers = await scanDataset(file('numbers.json', '[1, 2]'));
  assert.deepEqual(numbers.diagnostics.map((d) => d.message), ['element 0: expected a JSON object, got number', 'element 1: expected a JSON object, got number']);
});

test('labels on a ShareGPT .json file go to the right records: the queue shows each element, export writes TRL rows that train as the same pairs, the file is untouched', async () => {
  const rows = [shareGpt(0), shareGpt(1), shareGpt(2), shareGpt(3)];
  const f = file('label.json', JSON.stringify(rows, null, 2));
  const before = sha(f);
  const scan = await scanDataset(f);
  const store = FeedbackStore.open({ datasetPath: f, writerId: 'w', annotator: 'alice' });
  const queue = new ComparisonQueue(scan.index, scan, () => store.view(), 'alice', () => 0.9);
  const seen: string[] = [];
  for (let pair = queue.next(); pair; pair = queue.next()) {
    const i = seen.length;
    assert.equal(pair.prompt[0].content, `问题 ${i}：天空为什么是蓝色的？`, 'the queue reads element i');
    assert.equal(pair.texts.chosen, `因为瑞利散射 ${i}`);
    // Prefer the dataset's rejected output on odd elements, so the export must swap exactly those.
    store.record({ recordId: pair.recordId, type: 'comparison', payload: { mode: 'pair', order: [pair.order[0], pair.order[1]], preferred: i % 2 ? 'rejected' : 'chosen' } });
    seen.push(pair.recordId);
  }
  assert.equal(seen.length, 4);
  store.record({ recordId: seen[0], type: 'rating', payload: { target: 'chosen', value: 5, scale: { min: 1, max: 5 } } });
  const out = join(dir, 'label.dpo.jsonl');
  const report = exportPreference(out, readerFromIndex(scan.index), store.view(), {});
  assert.equal(report.written, 4);
  const exported = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: { content: string }[]; chosen: { content: string }[]; rejected: { content: string }[] });
  exported.forEach((r, i) => {
    assert.equal(r.prompt[0].content, `问题 ${i}：天空为什么是蓝色的？`);
    assert.equal(r.chosen[0].content, i % 2 ? `因为海洋 ${i}` : `因为瑞利散射 ${i}`);
    assert.equal(r.rejected[0].content, i % 2 ? `因为瑞利散射 ${i}` : `因为海洋 ${i}`);
  });
  const trained = await loadDatasetFile(out);
  assert.equal(trained.format, 'trl-preference');
  assert.equal(trained.examples.length, 4);
  const kto = exportUnpaired(join(dir, 'label.kto.jsonl'), readerFromIndex(scan.index), store.view(), {});
  assert.equal(kto.written, 1, 'the rating exports as one desirable completion');
  store.close();
  assert.equal(sha(f), before, 'the dataset file is only read');
});

test('real LLaMA-Factory data: the ShareGPT .json scans as 300 valid pairs with the same prompts as its TRL twin', { skip: REAL_DATA_SKIP }, async () => {
  const share = await scanDataset(realDataFile('dpo_en_demo.sharegpt.json'));
  assert.equal(share.format?.id, 'sharegpt-preference');
  assert.deepEqual(share.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.equal(share.records.filter((r) => r.valid).length, 300);
  const trl = await scanDataset(realDataFile('dpo_en_demo.trl.jsonl'));
  for (const i of [0, 150, 299]) {
    const a = share.index.readRecord(i);
    const b = trl.index.readRecord(i);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(a.record.row.prompt, b.record.row.prompt, `record ${i}: same prompt`);
    assert.deepEqual(a.record.row.chosen, b.record.row.chosen, `record ${i}: same chosen`);
  }
  const kto = await scanDataset(realDataFile('kto_en_demo.sharegpt.json'));
  assert.equal(kto.format?.id, 'sharegpt-kto');
  assert.equal(kto.records.filter((r) => r.valid).length, 300);
});
