import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bytesToUnicode, trainByteLevelBpe, toTokenizerJson } from '../../../../src/engine/tokenizer/bpeTrainer';
import { DEMO_TOPICS, generateDemoDialogues, generateDemoPreferences, renderChatMl } from '../../../../src/engine/tokenizer/demoCorpus';
import { TextTokenizer } from '../../../../src/engine/tokenizer/tokenizer';
import { BUILTIN_VERSION, buildBuiltinTokenizer, CHATML_TEMPLATE, ensureBuiltinModel, getBuiltinModel } from '../../../../src/engine/models/builtin';
import { countParameters } from '../../../../src/engine/models/config';

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tok-test-'));
}

test('bytesToUnicode is GPT-2\'s table: 256 distinct printable characters, space -> Ġ, newline -> Ċ', () => {
  const t = bytesToUnicode();
  assert.equal(new Set(t).size, 256);
  assert.equal(t[0x20], 'Ġ');
  assert.equal(t[0x0a], 'Ċ');
  assert.equal(t[0x41], 'A');
});

test('BPE training is deterministic and learns frequent words as single tokens', () => {
  const texts = Array.from({ length: 50 }, (_, i) => `hello world number ${i % 7}, hello again`);
  const a = JSON.stringify(toTokenizerJson(trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: SPECIALS })));
  const b = JSON.stringify(toTokenizerJson(trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: SPECIALS })));
  assert.equal(a, b);
  const tok = new TextTokenizer(JSON.parse(a), { eos_token: '<|im_end|>' }, 'test');
  assert.deepEqual(tok.tokens('hello world'), ['hello', 'Ġworld']);
  assert.equal(tok.tokenToId('<|endoftext|>'), 0);
  assert.equal(tok.eosTokenId, 2);
  assert.equal(tok.padTokenId, 2, 'no pad token: falls back to EOS');
});

test('byte-level tokenizer round-trips any text, including unseen scripts and emoji', () => {
  const bpe = trainByteLevelBpe(['some training text, some more text'], { vocabSize: 280, specialTokens: SPECIALS });
  const tok = new TextTokenizer(toTokenizerJson(bpe), {}, 'test');
  for (const s of ['Grüße aus Köln!', '日本語のテキスト', 'emoji 😀👍🏽 and\ttabs\nnewlines  double  spaces', '']) {
    assert.equal(tok.decode(tok.encode(s)), s);
  }
  // Special tokens in text are kept whole.
  const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
  assert.equal(ids[0], 1);
  assert.equal(ids[ids.length - 1], 2);
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'user\nhi');
});

test('chat template (ChatML) renders as transformers would, and its absence is a clear error', () => {
  const bpe = trainByteLevelBpe(['abc'], { vocabSize: 260, specialTokens: SPECIALS });
  const tok = new TextTokenizer(toTokenizerJson(bpe), { chat_template: CHATML_TEMPLATE, eos_token: '<|im_end|>' }, 'test');
  const msgs = [
    { role: 'user', content: 'What is 2 plus 2?' },
    { role: 'assistant', content: '2 plus 2 is 4.' },
  ];
  assert.equal(tok.applyChatTemplate(msgs), '<|im_start|>user\nWhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n2 plus 2 is 4.<|im_end|>\n');
  assert.equal(tok.applyChatTemplate(msgs.slice(0, 1), { addGenerationPrompt: true }), '<|im_start|>user\nWhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(renderChatMl(msgs), tok.applyChatTemplate(msgs));
  const plain = new TextTokenizer(toTokenizerJson(bpe), {}, 'plain-tokenizer.json');
  assert.throws(() => plain.applyChatTemplate(msgs), /plain-tokenizer\.json: this tokenizer has no chat template/);
  const broken = new TextTokenizer(toTokenizerJson(bpe), { chat_template: '{% for m in messages %}' }, 'broken');
  assert.throws(() => broken.applyChatTemplate(msgs), /broken: chat template/);
});

test('tokenizer.json errors: not a tokenizer, invalid JSON', () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"version": "1.0"}');
  assert.throws(() => TextTokenizer.fromFolder(dir), /no "model" section/);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"version": ');
  assert.throws(() => TextTokenizer.fromFolder(dir), (e: Error) => e.message.includes(path.join(dir, 'tokenizer.json')) && /invalid JSON/.test(e.message));
});

test('demo corpus is deterministic, covers every topic, and has alternating user/assistant turns', () => {
  const a = generateDemoDialogues(600, 5);
  const b = generateDemoDialogues(600, 5);
  assert.deepEqual(a, b);
  assert.notDeepEqual(generateDemoDialogues(50, 6), a.slice(0, 50));
  assert.deepEqual(new Set(a.map((d) => d.topic)), new Set(DEMO_TOPICS));
  for (const d of a) {
    d.messages.forEach((m, i) => assert.equal(m.role, i % 2 === 0 ? 'user' : 'assistant'));
  }
  // Arithmetic answers are right.
  for (const d of a.filter((x) => x.topic === 'addition')) {
    const m = /(\d+) plus (\d+) is (\d+)\./.exec(d.messages[1].content)!;
    assert.equal(Number(m[1]) + Number(m[2]), Number(m[3]));
  }
});

test('demo preference pairs: deterministic, chosen differs from rejected, arithmetic chosen right and rejected wrong', () => {
  const a = generateDemoPreferences(500, 3);
  assert.deepEqual(a, generateDemoPreferences(500, 3));
  assert.deepEqual(new Set(a.map((p) => p.topic)), new Set(DEMO_TOPICS));
  assert.deepEqual(new Set(a.map((p) => p.flaw)), new Set(['incorrect', 'rude', 'unsafe']));
  for (const p of a) {
    assert.equal(p.prompt[0].role, 'user');
    assert.equal(p.chosen[0].role, 'assistant');
    assert.notEqual(p.chosen[0].content, p.rejected[0].content, p.prompt[0].content);
  }
  for (const p of a.filter((x) => x.topic === 'addition' && x.flaw === 'incorrect')) {
    const [, x, y, z] = /(\d+) plus (\d+) is (\d+)\./.exec(p.chosen[0].content)!.map(Number);
    assert.equal(x + y, z);
    const w = Number(/is (\d+)\./.exec(p.rejected[0].content)![1]);
    assert.notEqual(w, z);
  }
});

test('built-in tokenizer builds identically twice; the built-in model folder is cached and loads', () => {
  const a = buildBuiltinTokenizer();
  const b = buildBuiltinTokenizer();
  assert.equal(JSON.stringify(a.tokenizerJson), JSON.stringify(b.tokenizerJson));
  const cache = tmp();
  const dir = ensureBuiltinModel(cache);
  assert.equal(path.basename(dir), BUILTIN_VERSION);
  const stamp = fs.statSync(path.join(dir, 'model.safetensors')).mtimeMs;
  assert.equal(ensureBuiltinModel(cache), dir);
  assert.equal(fs.statSync(path.join(dir, 'model.safetensors')).mtimeMs, stamp, 'second call reuses the cache');
  assert.equal(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'), JSON.stringify(a.tokenizerJson, null, 2) + '\n');
  const m = getBuiltinModel(cache);
  const n = countParameters(m.config);
  assert.ok(n > 2e6 && n < 6e6, `parameter count ${n}`);
  assert.ok(m.tokenizer.vocabSize <= m.config.vocabSize);
  assert.equal(m.tokenizer.eosTokenId, m.config.eosTokenId);
  const ids = m.tokenizer.encodeChat([{ role: 'user', content: 'What is the capital of France?' }], { addGenerationPrompt: true });
  assert.ok(ids.length < 20, `dialogue text compresses well (${ids.length} tokens)`);
});
