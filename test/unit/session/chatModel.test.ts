/**
 * The built-in chat model (media/models/chat, src/cli/chatModel.ts) that the launch form offers first: a spec
 * names it as { kind: 'builtin', name: 'chat' }, it loads from the extension's media folder, and it answers a
 * held-out question in words, where the untrained tiny model writes noise. A float16 copy loads back to the same
 * weights the float32 ones round to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFloat16Folder } from '../../../src/cli/chatModel';
import { floatToF16Bits, f16BitsToFloat, readSafetensors, writeSafetensors } from '../../../src/engine/io/safetensors';
import { loadHfModel } from '../../../src/engine/models/hfMapping';
import { buildModel } from '../../../src/engine/models/transformer';
import { Generator } from '../../../src/engine/generate/generator';
import { TextTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { generateDemoDialogues } from '../../../src/engine/tokenizer/demoCorpus';
import { CHAT_MODEL_FOLDER, modelFolder, shippedChatModel } from '../../../src/session/model';

const ROOT = path.join(__dirname, '..', '..', '..');

/** Greedy replies of the model in `dir` to the first questions of held-out dialogues. */
async function replies(dir: string, n: number): Promise<string[]> {
  const loaded = loadHfModel(dir, 'lm');
  const tok = TextTokenizer.fromFolder(dir);
  const prompts = generateDemoDialogues(n, 424242).map((d) => tok.encodeChat([d.messages[0]], { addGenerationPrompt: true }));
  const gen = await Generator.create(buildModel(loaded.config, 'lm'), loaded.weights, { threads: 1 });
  try {
    const out = await gen.generate(prompts, { maxNewTokens: 40, greedy: true, stopTokens: tok.specialTokenIds() });
    return out.map((r) => tok.decode(r.tokens, { skipSpecialTokens: true }).trim());
  } finally {
    await gen.dispose();
  }
}

/** Share of characters that are letters, distinct words, and whitespace-separated tokens (noise has one or none). */
function readability(text: string): { letters: number; words: number; tokens: number } {
  const letters = [...text].filter((c) => /\p{L}/u.test(c)).length / Math.max(1, text.length);
  return { letters, words: new Set(text.toLowerCase().match(/\p{L}+/gu) ?? []).size, tokens: text.split(/\s+/).filter(Boolean).length };
}

test('a spec naming the built-in chat model gets the shipped folder; an unknown name says which exist', () => {
  assert.equal(modelFolder({ kind: 'builtin', name: 'chat' }, os.tmpdir()), path.join(ROOT, CHAT_MODEL_FOLDER));
  assert.equal(shippedChatModel(), path.join(ROOT, CHAT_MODEL_FOLDER));
  assert.throws(() => modelFolder({ kind: 'builtin', name: 'huge' }, os.tmpdir()), /unknown built-in model "huge" \(the built-in models are "tiny" and "chat"\)/);
  assert.throws(() => shippedChatModel(os.tmpdir()), /the built-in chat model is missing .*npm run build:chat-model/);
  const weights = fs.statSync(path.join(ROOT, CHAT_MODEL_FOLDER, 'model.safetensors')).size;
  assert.ok(weights < 8e6, `the shipped weights take ${weights} bytes (float16, at most about 8 MB)`);
});

test('the built-in chat model answers held-out questions in words', async () => {
  const texts = await replies(shippedChatModel(), 8);
  for (const t of texts) {
    const r = readability(t);
    assert.ok(t.length >= 8 && r.words >= 2 && r.tokens >= 3, `not readable text: ${JSON.stringify(t)}`);
  }
  assert.ok(new Set(texts).size >= 4, `the answers follow the questions: ${JSON.stringify(texts)}`);
});

test('a float16 copy of a model folder holds the float32 weights rounded to half precision', () => {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'f16-src-'));
  const dst = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'f16-dst-')), 'model');
  const values = new Float32Array([0, 1, -2.5, 1e-3, 65504, 3.14159, -1e-7]);
  fs.writeFileSync(path.join(src, 'config.json'), JSON.stringify({ model_type: 'llama', torch_dtype: 'float32' }));
  writeSafetensors(path.join(src, 'model.safetensors'), { w: { dtype: 'F32', shape: [7], data: values } });
  writeFloat16Folder(src, dst, { seed: 7 });
  const t = readSafetensors(path.join(dst, 'model.safetensors')).tensors.get('w');
  assert.equal(t?.dtype, 'F16');
  assert.deepEqual([...(t?.data ?? [])], [...values].map((x) => f16BitsToFloat(floatToF16Bits(x))));
  assert.equal((JSON.parse(fs.readFileSync(path.join(dst, 'config.json'), 'utf8')) as { torch_dtype: string }).torch_dtype, 'float16');
});
