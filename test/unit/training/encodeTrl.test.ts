/**
 * TRL-parity encoding on three tokenizer families, each a small tokenizer.json built here in the layout the Hub's
 * tokenizers use:
 * - SentencePiece (Llama 2 / Mistral v0.1): Prepend("▁") + Replace(" " -> "▁") normalizer, BPE with byte fallback,
 *   a `<s>` BOS added by the post-processor;
 * - Llama 3: the Llama 3 Split pattern, ByteLevel without its own regex, `<|begin_of_text|>` added;
 * - GPT-2: ByteLevel with GPT-2's pattern, no special tokens added.
 *
 * TRL's procedure (trl/trainer/dpo_trainer.py `tokenize_fn`), written out here as the expectation:
 *   text rows:           completion += eos_token (unless it already ends with it)
 *                        prompt_ids = tokenizer(prompt).input_ids
 *                        completion_ids = tokenizer(prompt + completion).input_ids[len(prompt_ids):]
 *   conversational rows: prompt_ids = apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
 *                        completion_ids = apply_chat_template(prompt + completion, tokenize=True)[len(prompt_ids):]
 *                        (apply_chat_template tokenizes without adding special tokens)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message, PreferenceExample, SftExample, UnpairedExample } from '../../../src/core/datasets/examples';
import { bytesToUnicode } from '../../../src/engine/tokenizer/bpeTrainer';
import { TextTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { encodePairs, encodeSft, encodeUnpaired, encodeWithPrompt } from '../../../src/training/encode';

const LIMITS = { maxLength: 1000 };

/** A BPE vocabulary of `alphabet` plus, for each word (a list of symbols), the merges that build it left to right. */
function bpeModel(specials: readonly string[], alphabet: readonly string[], words: readonly (readonly string[])[]): { vocab: Record<string, number>; merges: string[] } {
  const vocab: Record<string, number> = {};
  const add = (t: string): void => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  for (const t of [...specials, ...alphabet]) add(t);
  const merges: string[] = [];
  for (const w of words) {
    let left = w[0] as string;
    for (const sym of w.slice(1)) {
      const m = `${left} ${sym}`;
      if (!merges.includes(m)) merges.push(m);
      left += sym;
      add(left);
    }
  }
  return { vocab, merges };
}

function added(specials: readonly string[]): object[] {
  return specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
}

/** The tokenizer.json parts that differ between the families (the Hub's key names). */
interface TokenizerParts {
  readonly normalizer: object | null;
  readonly pre_tokenizer: object | null;
  readonly post_processor: object;
  readonly decoder: object;
  readonly model: object;
}

/** A tokenizer.json in the Hub's layout, with `specials` as its added tokens (ids 0, 1, ...). */
function tokenizerJson(specials: readonly string[], parts: TokenizerParts): object {
  return { version: '1.0', truncation: null, padding: null, added_tokens: added(specials), ...parts };
}

function bosTemplate(bos: string, id: number): object {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { [bos]: { id: bos, ids: [id], tokens: [bos] } },
  };
}

const LLAMA2_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ '[INST] ' + m['content'] + ' [/INST]' }}{% else %}{{ ' ' + m['content'] + eos_token }}{% endif %}{% endfor %}";

/** Llama 2-style SentencePiece BPE (legacy normalizer: "▁" before the text, spaces as "▁"). */
function sentencePieceTokenizer(): TextTokenizer {
  const specials = ['<unk>', '<s>', '</s>'];
  const alphabet = [...new Set('▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:?.,![]/\n')];
  const words = ['▁Hello', '▁world', '▁friend', '▁Question', '▁yes', '▁no', '▁[INST]', '▁[/INST]'].map((w) => [...w]);
  const model = { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, ...bpeModel(specials, alphabet, words) };
  const json = tokenizerJson(specials, {
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: bosTemplate('<s>', 1),
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model,
  });
  return new TextTokenizer(json, { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', chat_template: LLAMA2_TEMPLATE }, 'sentencepiece fixture');
}

const BYTE = bytesToUnicode();
const byteLevel = (s: string): string[] => [...Buffer.from(s, 'utf8')].map((b) => BYTE[b] as string);

/** Llama 3's pre-tokenizer pattern (tokenizer.json of meta-llama/Llama-3.x). */
const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function byteLevelModel(specials: readonly string[], words: readonly string[]): object {
  return { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, ...bpeModel(specials, BYTE, words.map(byteLevel)) };
}

/** The ByteLevel decoder of the Llama 3 and GPT-2 tokenizer.json files. */
const BYTE_LEVEL_DECODER = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };

const WORDS = ['Hello', ' world', ' friend', 'Question', ':', ' yes', ' no', '\n\n', 'Answer', 'Yes', 'No'];

function llama3Tokenizer(): TextTokenizer {
  const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'];
  const json = tokenizerJson(specials, {
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: bosTemplate('<|begin_of_text|>', 0),
    decoder: BYTE_LEVEL_DECODER,
    model: byteLevelModel(specials, WORDS),
  });
  return new TextTokenizer(json, { bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>' }, 'llama 3 fixture');
}

const CHATML =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

function gpt2Tokenizer(): TextTokenizer {
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const json = tokenizerJson(specials, {
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: BYTE_LEVEL_DECODER,
    model: byteLevelModel(specials, WORDS),
  });
  return new TextTokenizer(json, { eos_token: '<|endoftext|>', chat_template: CHATML }, 'gpt-2 fixture');
}

/** TRL's text-row procedure, written out (module comment). */
function trlText(tok: TextTokenizer, prompt: string, completion: string): { prompt: number[]; completion: number[] } {
  const eos = tok.eosToken as string;
  const c = completion.endsWith(eos) ? completion : completion + eos;
  const promptIds = tok.encode(prompt);
  return { prompt: promptIds, completion: tok.encode(prompt + c).slice(promptIds.length) };
}

/** TRL's conversational procedure, written out (module comment). */
function trlChat(tok: TextTokenizer, prompt: Message[], completion: Message[]): { prompt: number[]; completion: number[] } {
  const promptIds = tok.encode(tok.applyChatTemplate(prompt, { addGenerationPrompt: true }), { addSpecialTokens: false });
  const full = tok.encode(tok.applyChatTemplate([...prompt, ...completion]), { addSpecialTokens: false });
  return { prompt: promptIds, completion: full.slice(promptIds.length) };
}

const tokensOf = (tok: TextTokenizer, ids: readonly number[]): string[] => ids.map((i) => tok.idToToken(i) as string);

const source = { file: 'fixture.jsonl', line: 1 };
function textPair(prompt: string, chosen: string, rejected: string): PreferenceExample {
  return { id: 'p', source, format: 'trl-preference', kind: 'preference', style: 'text', prompt, chosen, rejected } as PreferenceExample;
}

test('SentencePiece: completions carry no stray "▁", and ids are what TRL produces (text and chat rows)', () => {
  const tok = sentencePieceTokenizer();
  const cases: [string, string][] = [
    ['Question: Hello', ' world'],
    ['Hello', ' friend'],
    ['Question:', ' yes'],
    ['Question:', ' no.'],
  ];
  for (const [prompt, completion] of cases) {
    const { pairs } = encodePairs(tok, [textPair(prompt, completion, completion)], LIMITS);
    const p = pairs[0]!;
    const want = trlText(tok, prompt, completion);
    assert.deepEqual(p.prompt, want.prompt, prompt);
    assert.deepEqual(p.chosen, want.completion, completion);
    assert.notEqual(tok.idToToken(p.chosen[0]!), '▁', `${JSON.stringify(completion)}: no stray ▁`);
    assert.equal(tok.decode([...p.prompt, ...p.chosen], { skipSpecialTokens: true }), prompt + completion);
    // Tokenized alone, the completion starts with a stray "▁" (what this encoding replaces).
    assert.equal(tok.idToToken(tok.encode(completion, { addSpecialTokens: false })[0]!), '▁');
  }
  assert.deepEqual(tokensOf(tok, encodePairs(tok, [textPair('Question: Hello', ' world', ' friend')], LIMITS).pairs[0]!.chosen), ['▁world', '</s>']);
  // Chat rows: the Llama 2 template puts " answer</s>" after "[/INST]".
  const prompt: Message[] = [{ role: 'user', content: 'Hello' }];
  const chosen: Message[] = [{ role: 'assistant', content: 'world' }];
  const got = encodeWithPrompt(tok, prompt, [chosen]);
  const want = trlChat(tok, prompt, chosen);
  assert.deepEqual(got, { prompt: want.prompt, completions: [want.completion] });
  assert.deepEqual(tokensOf(tok, got.completions[0]!), ['▁world', '</s>']);
});

test('Llama 3: ids follow TRL where a newline run crosses the prompt/completion boundary', () => {
  const tok = llama3Tokenizer();
  const cases: [string, string, string[]][] = [
    ['Question: Hello', ' world', ['Ġworld', '<|end_of_text|>']],
    ['Question:\n', '\nAnswer: yes', ['Answer', ':', 'Ġyes', '<|end_of_text|>']],
    ['Question:', '\n\nYes', ['ĊĊ', 'Yes', '<|end_of_text|>']],
    ['Hello', ' friend', ['Ġfriend', '<|end_of_text|>']],
  ];
  for (const [prompt, completion, tokens] of cases) {
    const { pairs } = encodePairs(tok, [textPair(prompt, completion, ' no')], LIMITS);
    const want = trlText(tok, prompt, completion);
    assert.deepEqual(pairs[0]!.prompt, want.prompt);
    assert.equal(tok.idToToken(pairs[0]!.prompt[0]!), '<|begin_of_text|>', 'text rows get the BOS, as tokenizer(text) adds it');
    assert.deepEqual(pairs[0]!.chosen, want.completion, JSON.stringify(completion));
    assert.deepEqual(tokensOf(tok, pairs[0]!.chosen), tokens, JSON.stringify(completion));
  }
  // "Question:\n" + "\nAnswer": tokenized together the two newlines are one token "ĊĊ", so the prompt's own ids
  // are not a prefix; TRL still splits at the prompt's length (and warns), dropping the merged token.
  const full = tok.tokens('Question:\n\nAnswer: yes', { addSpecialTokens: false });
  assert.deepEqual(full.slice(0, 3), ['Question', ':', 'ĊĊ']);
});

test('GPT-2: ids are what TRL produces for text, chat, unpaired and SFT rows', () => {
  const tok = gpt2Tokenizer();
  const want = trlText(tok, 'Hello', ' world');
  assert.deepEqual(tokensOf(tok, want.completion), ['Ġworld', '<|endoftext|>']);
  const { pairs } = encodePairs(tok, [textPair('Hello', ' world', ' friend<|endoftext|>')], LIMITS);
  assert.deepEqual(pairs[0]!.chosen, want.completion);
  assert.deepEqual(tokensOf(tok, pairs[0]!.rejected), ['Ġfriend', '<|endoftext|>'], 'an EOS already at the end is not doubled');

  const unpaired = { id: 'u', source, format: 'trl-unpaired', kind: 'unpaired', label: true, style: 'text', prompt: 'Question:', completion: ' yes' } as UnpairedExample;
  const u = encodeUnpaired(tok, [unpaired], LIMITS).items[0]!;
  assert.deepEqual({ prompt: u.prompt, completion: u.completion }, trlText(tok, 'Question:', ' yes'));

  const prompt: Message[] = [{ role: 'user', content: 'Hello' }];
  const completion: Message[] = [{ role: 'assistant', content: 'Answer: yes' }];
  const sft = { id: 's', source, format: 'trl-prompt-completion', kind: 'sft', style: 'conversational', prompt, completion } as SftExample;
  const s = encodeSft(tok, [sft], { ...LIMITS, completionOnly: true }).sequences[0]!;
  const chat = trlChat(tok, prompt, completion);
  assert.deepEqual(s.ids, [...chat.prompt, ...chat.completion]);
  assert.deepEqual(s.lossMask, [...chat.prompt.map(() => false), ...chat.completion.map(() => true)]);
  assert.equal(tok.decode(chat.completion), 'Answer: yes<|im_end|>\n');
});
