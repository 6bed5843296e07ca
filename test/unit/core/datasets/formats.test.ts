import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DATASET_FORMATS,
  DatasetFormatError,
  loadDatasetFile,
  loadDatasetText,
  promptsOf,
  unpairPreferences,
  type LoadResult,
} from '../../../../src/core/datasets/formats';
import type { Example, PreferenceExample, UnpairedExample } from '../../../../src/core/datasets/examples';
import { REAL_DATA_SKIP, realDataFile } from '../../../support/realData';

/** An example without the fields that name where it came from (id, source, format). */
function content(e: Example): unknown {
  const { id: _id, source: _s, format: _f, ...rest } = e;
  return rest;
}

const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

test('real data: both DPO files load all 300 pairs, with no row skipped, and give identical examples', { skip: REAL_DATA_SKIP }, async () => {
  const a = await loadDatasetFile(realDataFile('dpo_en_demo.sharegpt.json'));
  const b = await loadDatasetFile(realDataFile('dpo_en_demo.trl.jsonl'));
  assert.equal(a.format, 'sharegpt-preference');
  assert.equal(a.container, 'json-array');
  assert.equal(b.format, 'trl-preference');
  assert.equal(b.container, 'jsonl');
  for (const r of [a, b]) {
    assert.equal(r.kind, 'preference');
    assert.deepEqual(r.skipped, []);
    assert.equal(r.counts.rows, 300);
    assert.equal(r.counts.loaded, 300);
    assert.equal(r.counts.withSystemPrompt, 80);
    assert.ok(r.counts.multiTurn > 100);
  }
  assert.deepEqual(a.examples.map(content), b.examples.map(content));
  const first = b.examples[0] as PreferenceExample;
  assert.equal(first.id, 'dpo-en-000');
  assert.equal(first.style, 'conversational');
  // A ShareGPT row without an id is named by file and line; its element index and line are kept.
  const s = a.examples[1];
  assert.equal(s.source.index, 1);
  assert.ok(s.source.line > 2);
  assert.equal(s.id, `dpo_en_demo.sharegpt.json:${s.source.line}`);
  // The line really is where element 1 starts.
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(realDataFile('dpo_en_demo.sharegpt.json'), 'utf8').split('\n');
  assert.equal(lines[s.source.line - 1].trim(), '{');
  assert.match(lines[s.source.line].trim(), /^"conversations"/);
  // System prompts stay the first prompt message.
  const withSys = b.examples.find((e) => e.style === 'conversational' && e.prompt[0].role === 'system');
  assert.ok(withSys);
});

test('real data: both KTO files load all 300 examples (150 desirable) and give identical examples', { skip: REAL_DATA_SKIP }, async () => {
  const a = await loadDatasetFile(realDataFile('kto_en_demo.sharegpt.json'));
  const b = await loadDatasetFile(realDataFile('kto_en_demo.trl.jsonl'));
  assert.equal(a.format, 'sharegpt-kto');
  assert.equal(b.format, 'trl-unpaired');
  for (const r of [a, b]) {
    assert.equal(r.kind, 'unpaired');
    assert.deepEqual(r.skipped, []);
    assert.equal(r.counts.loaded, 300);
    assert.equal((r.examples as UnpairedExample[]).filter((e) => e.label).length, 150);
  }
  assert.deepEqual(a.examples.map(content), b.examples.map(content));
  const multi = b.examples.find((e) => e.style === 'conversational' && e.prompt.length > 1);
  assert.ok(multi && multi.style === 'conversational' && multi.prompt[multi.prompt.length - 1].role === 'user');
});

test('TRL standard (text) preference, implicit prompt (text and conversational)', () => {
  const r = loadDatasetText(jsonl([{ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' }]), 'std.jsonl');
  assert.equal(r.format, 'trl-preference');
  assert.deepEqual(content(r.examples[0]), { kind: 'preference', style: 'text', prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' });

  const imp = loadDatasetText(jsonl([{ chosen: 'The sky is blue.', rejected: 'The sky is green.' }]), 'imp.jsonl');
  assert.equal(imp.format, 'trl-preference-implicit');
  assert.deepEqual(content(imp.examples[0]), { kind: 'preference', style: 'text', prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' });

  const conv = loadDatasetText(
    jsonl([
      {
        chosen: [
          { role: 'user', content: 'What color is the sky?' },
          { role: 'assistant', content: 'Blue.' },
        ],
        rejected: [
          { role: 'user', content: 'What color is the sky?' },
          { role: 'assistant', content: 'Green.' },
        ],
      },
    ]),
    'impc.jsonl',
  );
  assert.deepEqual(content(conv.examples[0]), {
    kind: 'preference',
    style: 'conversational',
    prompt: [{ role: 'user', content: 'What color is the sky?' }],
    chosen: [{ role: 'assistant', content: 'Blue.' }],
    rejected: [{ role: 'assistant', content: 'Green.' }],
  });
});

test('HH-RLHF transcripts: the shared turns become the prompt', () => {
  const shared = '\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?';
  const rows = [
    { chosen: `${shared}\n\nAssistant: 6.`, rejected: `${shared}\n\nAssistant: I don't know.` },
    { chosen: `${shared}\n\nAssistant: 6.`, rejected: '\n\nHuman: Something else\n\nAssistant: 6?' },
    { chosen: `${shared}\n\nAssistant: 6.`, rejected: `${shared}\n\nAssistant: ` },
  ];
  const r = loadDatasetText(jsonl(rows), 'hh.jsonl');
  assert.equal(r.format, 'hh-rlhf');
  assert.deepEqual(content(r.examples[0]), {
    kind: 'preference',
    style: 'conversational',
    prompt: [
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: '4.' },
      { role: 'user', content: 'And 3+3?' },
    ],
    chosen: [{ role: 'assistant', content: '6.' }],
    rejected: [{ role: 'assistant', content: "I don't know." }],
  });
  assert.equal(r.counts.loaded, 1);
  assert.deepEqual(
    r.skipped.map((s) => [s.where, s.field]),
    [
      ['hh.jsonl:2', 'rejected'],
      ['hh.jsonl:3', 'rejected'],
    ],
  );
  assert.match(r.skipped[0].reason, /differ before their final Assistant turn/);
  assert.match(r.skipped[1].reason, /empty/);
});

test('UltraFeedback: best vs a strictly lower-rated completion, seeded and reproducible', () => {
  const comp = (response: string, score: number): unknown => ({ model: 'm', response, 'fine-grained_score': score, overall_score: 1 });
  const rows = [
    { id: 'u1', instruction: 'Say hi', completions: [comp('hey', 3), comp('Hello!', 4.75), comp('go away', 1), comp('hi', 3)] },
    {
      id: 'u2',
      instruction: 'Add 1+1',
      completions: [
        { response: '2', annotations: { helpfulness: { Rating: '5' }, honesty: { Rating: '4' }, truthfulness: { Rating: 'N/A' } } },
        { response: '3', annotations: { helpfulness: { Rating: '1' }, honesty: { Rating: '2' } } },
      ],
    },
    { id: 'u3', instruction: 'Tie', completions: [comp('a', 2), comp('b', 2)] },
    { id: 'u4', instruction: 'No score', completions: [comp('a', 2), { response: 'b' }] },
  ];
  const text = jsonl(rows);
  const r = loadDatasetText(text, 'uf.jsonl');
  assert.equal(r.format, 'ultrafeedback');
  assert.equal(r.counts.loaded, 2);
  const [e1, e2] = r.examples as PreferenceExample[];
  assert.equal(e1.style === 'conversational' && e1.chosen[0].content, 'Hello!');
  assert.ok(e1.scores && e1.scores.chosen === 4.75 && e1.scores.rejected < 4.75);
  assert.equal(e2.style === 'conversational' && e2.rejected[0].content, '3');
  assert.deepEqual(e2.scores, { chosen: 4.5, rejected: 1.5 });
  assert.deepEqual(
    r.skipped.map((s) => [s.where, s.field]),
    [
      ['uf.jsonl:3', 'completions'],
      ['uf.jsonl:4', 'completions[1]'],
    ],
  );
  // Reproducible; `lowest` picks the worst one.
  assert.deepEqual(loadDatasetText(text, 'uf.jsonl').examples, r.examples);
  const low = loadDatasetText(text, 'uf.jsonl', { ultrafeedback: { rejected: 'lowest' } }).examples[0] as PreferenceExample;
  assert.equal(low.style === 'conversational' && low.rejected[0].content, 'go away');
  // Over many seeds the random-lower rule picks each lower completion at some point.
  const picked = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    const e = loadDatasetText(text, 'uf.jsonl', { ultrafeedback: { seed } }).examples[0] as PreferenceExample;
    if (e.style === 'conversational') picked.add(e.rejected[0].content);
  }
  assert.deepEqual([...picked].sort(), ['go away', 'hey', 'hi']);
});

test('bad rows are reported with file:line and field, and counted', () => {
  const good = { prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] };
  const lines = [
    JSON.stringify(good),
    JSON.stringify({ ...good, chosen: undefined }),
    '{"prompt": [oops',
    JSON.stringify({ ...good, rejected: [{ role: 'assistant', content: '   ' }] }),
    '',
    JSON.stringify({ ...good, prompt: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'x' }] }),
    JSON.stringify({ ...good, prompt: [{ role: 'wizard', content: 'q' }] }),
    JSON.stringify({ ...good, rejected: good.chosen }),
    JSON.stringify([1, 2]),
    JSON.stringify({ ...good, chosen: 'a string' }),
    JSON.stringify({ ...good, id: '' }),
  ];
  const r = loadDatasetText(lines.join('\n'), 'bad.jsonl');
  assert.equal(r.counts.rows, 10);
  assert.equal(r.counts.loaded, 1);
  assert.equal(r.counts.skipped, 9);
  assert.deepEqual(
    r.skipped.map((s) => [s.where, s.field]),
    [
      ['bad.jsonl:2', 'chosen'],
      ['bad.jsonl:3', ''],
      ['bad.jsonl:4', 'rejected[0].content'],
      ['bad.jsonl:6', 'prompt[1]'],
      ['bad.jsonl:7', 'prompt[0].role'],
      ['bad.jsonl:8', 'rejected'],
      ['bad.jsonl:9', ''],
      ['bad.jsonl:10', 'chosen'],
      ['bad.jsonl:11', 'id'],
    ],
  );
  const reasons = r.skipped.map((s) => s.reason);
  assert.equal(reasons[0], 'missing');
  assert.match(reasons[1], /not valid JSON/);
  assert.equal(reasons[2], 'empty');
  assert.match(reasons[3], /must end with a user/);
  assert.match(reasons[4], /unknown role "wizard"/);
  assert.match(reasons[5], /identical to chosen/);
  assert.match(reasons[6], /expected a JSON object/);
  assert.match(reasons[7], /expected a list of messages, got string/);
});

test('bad elements of a JSON array are reported with element index and line', () => {
  const rows = [
    { conversations: [{ from: 'human', value: 'hi' }], chosen: { from: 'gpt', value: 'hello' }, rejected: { from: 'gpt', value: 'go' } },
    { conversations: [{ from: 'human', value: 'hi' }, { from: 'human', value: 'again' }], chosen: { from: 'gpt', value: 'a' }, rejected: { from: 'gpt', value: 'b' } },
    { conversations: [{ from: 'human', value: 'hi' }], chosen: { from: 'gpt', value: 'a' } },
    { conversations: [{ from: 'human', value: 'hi' }], chosen: { from: 'gpt', value: 'a' }, rejected: { from: 'human', value: 'b' } },
  ];
  const text = JSON.stringify(rows, null, 2);
  const r = loadDatasetText(text, 'pairs.json');
  assert.equal(r.format, 'sharegpt-preference');
  assert.equal(r.counts.loaded, 1);
  const lines = text.split('\n');
  const starts = lines.map((l, i) => (l === '  {' ? i + 1 : -1)).filter((x) => x > 0);
  assert.equal(starts.length, 4);
  assert.deepEqual(
    r.skipped.map((s) => [s.where, s.field]),
    [
      [`pairs.json:${starts[1]} (element 1)`, 'conversations[1].from'],
      [`pairs.json:${starts[2]} (element 2)`, 'rejected'],
      [`pairs.json:${starts[3]} (element 3)`, 'rejected[0]'],
    ],
  );
  // A top-level `system` field becomes the first message.
  const sys = loadDatasetText(JSON.stringify([{ ...rows[0], system: 'Be brief.' }]), 'sys.json');
  const e = sys.examples[0] as PreferenceExample;
  assert.deepEqual(e.style === 'conversational' && e.prompt[0], { role: 'system', content: 'Be brief.' });
});

test('KTO rows: label must be a boolean, the last ShareGPT turn must be the assistant', () => {
  const r = loadDatasetText(
    jsonl([
      { prompt: 'Q', completion: 'A', label: true },
      { prompt: 'Q', completion: 'A', label: 'yes' },
      { prompt: 'Q', completion: '', label: false },
    ]),
    'k.jsonl',
  );
  assert.equal(r.format, 'trl-unpaired');
  assert.deepEqual(
    r.skipped.map((s) => [s.where, s.field]),
    [
      ['k.jsonl:2', 'label'],
      ['k.jsonl:3', 'completion'],
    ],
  );
  const s = loadDatasetText(
    JSON.stringify([
      { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }], label: false },
      { messages: [{ role: 'user', content: 'q' }], label: true },
    ]),
    'k.json',
  );
  assert.equal(s.format, 'sharegpt-kto');
  assert.equal(s.counts.loaded, 1);
  assert.equal(s.skipped[0].field, 'messages[0]');
});

test('SFT and prompt-only formats', () => {
  const pc = loadDatasetText(jsonl([{ prompt: 'a', completion: 'b' }]), 'sft.jsonl');
  assert.equal(pc.format, 'trl-prompt-completion');
  assert.equal(pc.kind, 'sft');
  const m = loadDatasetText(jsonl([{ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] }]), 'm.jsonl');
  assert.equal(m.format, 'trl-messages');
  assert.deepEqual(content(m.examples[0]), { kind: 'sft', style: 'messages', messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] });
  const sg = loadDatasetText(JSON.stringify([{ conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }] }]), 'sg.json');
  assert.equal(sg.format, 'sharegpt-sft');
  const p = loadDatasetText(jsonl([{ prompt: [{ role: 'user', content: 'q' }] }]), 'p.jsonl');
  assert.equal(p.format, 'trl-prompt-only');
  assert.equal(p.kind, 'prompt');
});

test('prompt-only rows keep their other columns (a verifier\'s reference answer); other formats do not gain fields', () => {
  const p = loadDatasetText(jsonl([{ prompt: 'What is 2+3?', answer: '5', difficulty: 1 }, { prompt: [{ role: 'user', content: 'q' }], answer: ['a', 'b'] }, { prompt: 'bare' }]), 'math.jsonl');
  assert.equal(p.format, 'trl-prompt-only');
  const [a, b, c] = p.examples;
  assert.ok(a?.kind === 'prompt' && b?.kind === 'prompt' && c?.kind === 'prompt');
  assert.deepEqual(a.fields, { answer: '5', difficulty: 1 });
  assert.equal(a.prompt, 'What is 2+3?');
  assert.deepEqual(b.fields, { answer: ['a', 'b'] });
  assert.equal(c.fields, undefined);
  const pc = loadDatasetText(jsonl([{ prompt: 'a', completion: 'b', answer: 'x' }]), 'sft.jsonl');
  assert.ok(!('fields' in (pc.examples[0] as object)));
});

test('no matching format: a clear error listing every format tried', () => {
  assert.throws(
    () => loadDatasetText(jsonl([{ question: 'q', answer: 'a' }]), 'x.jsonl'),
    (e: unknown) => {
      assert.ok(e instanceof DatasetFormatError);
      assert.match(e.message, /x\.jsonl/);
      assert.match(e.message, /\{question, answer\}/);
      for (const f of DATASET_FORMATS) assert.ok(e.message.includes(f.id), f.id);
      return true;
    },
  );
  assert.throws(() => loadDatasetText('', 'empty.jsonl'), /holds no rows/);
  assert.throws(() => loadDatasetText('[{"a": 1}, oops]', 'broken.json'), /not valid JSON/);
  // A forced format applies to every row, and rows that do not fit are reported.
  const forced = loadDatasetText(jsonl([{ prompt: 'q', chosen: 'a', rejected: 'b' }, { prompt: 'q' }]), 'f.jsonl', { format: 'trl-preference' });
  assert.deepEqual(forced.skipped.map((s) => s.field), ['chosen']);
});

test('detection votes over rows: a bad first row does not decide the format', () => {
  const r: LoadResult = loadDatasetText(jsonl([{ prompt: 'q', chosen: 'a' }, { prompt: 'q', chosen: 'a', rejected: 'b' }, { prompt: 'r', chosen: 'c', rejected: 'd' }]), 'v.jsonl');
  assert.equal(r.format, 'trl-preference');
  assert.deepEqual(r.skipped.map((s) => [s.where, s.field]), [['v.jsonl:1', 'rejected']]);
});

test('conversions: unpair preferences for KTO, prompts for online methods', { skip: REAL_DATA_SKIP }, async () => {
  const a = await loadDatasetFile(realDataFile('dpo_en_demo.trl.jsonl'));
  const pairs = a.examples as PreferenceExample[];
  const un = unpairPreferences(pairs);
  assert.equal(un.length, 600);
  assert.equal(un.filter((e) => e.label).length, 300);
  assert.equal(un[0].id, 'dpo-en-000/chosen');
  const prompts = promptsOf(pairs);
  assert.ok(prompts.length > 0 && prompts.length <= 300);
  assert.ok(prompts.every((p) => p.kind === 'prompt'));
});

test('a dataset file written to disk loads through loadDatasetFile', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmt-'));
  const f = join(dir, 'd.jsonl');
  writeFileSync(f, '\ufeff' + jsonl([{ prompt: 'a', chosen: 'b', rejected: 'c', section: 'chat', tags: ['x'], margin: 2 }]).replace(/\n/g, '\r\n'));
  const r = await loadDatasetFile(f);
  const e = r.examples[0] as PreferenceExample;
  assert.equal(e.section, 'chat');
  assert.deepEqual(e.tags, ['x']);
  assert.equal(e.margin, 2);
  assert.equal(e.source.file, f);
  assert.equal(e.source.line, 1);
});

test('adaptExamples converts between kinds where it makes sense', { skip: REAL_DATA_SKIP }, async () => {
  const { adaptExamples } = await import('../../../../src/core/datasets/formats');
  const dpo = await loadDatasetFile(realDataFile('dpo_en_demo.sharegpt.json'));
  const sft = adaptExamples(dpo.examples, 'preference', 'sft');
  assert.equal(sft.length, 300);
  const s0 = sft[0];
  const p0 = dpo.examples[0] as PreferenceExample;
  assert.ok(s0.kind === 'sft' && s0.style === 'conversational' && p0.style === 'conversational');
  assert.deepEqual(s0.style === 'conversational' && s0.completion, p0.chosen);
  assert.equal(adaptExamples(dpo.examples, 'preference', 'unpaired').length, 600);
  assert.ok(adaptExamples(dpo.examples, 'preference', 'prompt').every((e) => e.kind === 'prompt'));
  const kto = await loadDatasetFile(realDataFile('kto_en_demo.trl.jsonl'));
  assert.throws(() => adaptExamples(kto.examples, 'unpaired', 'preference'), /unpaired data cannot be used where preference data is needed/);
  assert.throws(() => adaptExamples(kto.examples, 'preference', 'sft'), /is unpaired, not preference/);
});

test('a single pretty-printed JSON object gets one clear error', () => {
  assert.throws(
    () => loadDatasetText(JSON.stringify({ data: [{ prompt: 'a', chosen: 'b', rejected: 'c' }] }, null, 2), 'obj.json'),
    /obj\.json: .*one JSON object; expected JSON Lines .* or a JSON array|one JSON object; expected JSON Lines/,
  );
});
