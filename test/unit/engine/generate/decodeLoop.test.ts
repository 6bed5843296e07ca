import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureBuiltinModel } from '../../../../src/engine/models/builtin';
import { loadHfModel } from '../../../../src/engine/models/hfMapping';
import { buildModel } from '../../../../src/engine/models/transformer';
import { Generation, GenerateOptions, Generator } from '../../../../src/engine/generate/generator';
import { TextTokenizer } from '../../../../src/engine/tokenizer/tokenizer';
import { generateDemoDialogues } from '../../../../src/engine/tokenizer/demoCorpus';

/** The built-in model and chat prompts of different lengths (so batches are left-padded). */
async function builtin(): Promise<{ gen: Generator; prompts: number[][] }> {
  const dir = ensureBuiltinModel();
  const loaded = loadHfModel(dir, 'lm');
  const tok = TextTokenizer.fromFolder(dir);
  const prompts = generateDemoDialogues(70, 5).map((d) => tok.encodeChat([d.messages[0]], { addGenerationPrompt: true }));
  const lengths = new Set(prompts.map((p) => p.length));
  assert.ok(lengths.size > 3, 'prompts of several lengths');
  return { gen: await Generator.create(buildModel(loaded.config, 'lm'), loaded.weights, { threads: 1 }), prompts };
}

function assertSame(loop: Generation[], steps: Generation[], what: string): void {
  assert.equal(loop.length, steps.length);
  loop.forEach((r, i) => {
    assert.deepEqual(r.tokens, steps[i].tokens, `${what}: row ${i} tokens`);
    assert.equal(r.finishReason, steps[i].finishReason, `${what}: row ${i} finish reason`);
    r.logprobs.forEach((lp, s) => assert.ok(Math.abs(lp - steps[i].logprobs[s]) < 1e-4, `${what}: row ${i} step ${s}: ${lp} vs ${steps[i].logprobs[s]}`));
  });
}

test('decode loop (one onnxruntime call) == step-by-step decoding on the built-in model: greedy and sampled, token for token', async () => {
  const { gen, prompts } = await builtin();
  try {
    const batch = prompts.slice(0, 6);
    const cases: [string, GenerateOptions][] = [
      ['greedy', { maxNewTokens: 20, greedy: true, stopTokens: [] }],
      ['temperature', { maxNewTokens: 20, temperature: 0.8, seed: 3, stopTokens: [] }],
      ['top-k + top-p', { maxNewTokens: 20, temperature: 1.2, topK: 40, topP: 0.9, seed: 4, stopTokens: [] }],
      ['top-p + vocab limit', { maxNewTokens: 20, temperature: 1, topP: 0.7, vocabLimit: 1000, seed: 5, stopTokens: [] }],
    ];
    for (const [what, opts] of cases) {
      const loop = await gen.generate(batch, opts);
      const steps = await gen.generate(batch, { ...opts, decode: 'steps' });
      assertSame(loop, steps, what);
      for (const r of loop) assert.equal(r.tokens.length, 20);
      if (opts.vocabLimit) assert.ok(loop.every((r) => r.tokens.every((t) => t < 1000)));
    }
    // Same seed, same samples; another seed, other samples.
    const opts: GenerateOptions = { maxNewTokens: 12, temperature: 1, seed: 11, stopTokens: [] };
    assert.deepEqual(await gen.generate(batch, opts), await gen.generate(batch, opts));
    assert.notDeepEqual((await gen.generate(batch, opts)).map((r) => r.tokens), (await gen.generate(batch, { ...opts, seed: 12 })).map((r) => r.tokens));
  } finally {
    await gen.dispose();
  }
});

test('decode loop at rollout size: 70 left-padded rows equal the same prompts run alone (greedy)', async () => {
  const { gen, prompts } = await builtin();
  try {
    const opts: GenerateOptions = { maxNewTokens: 10, greedy: true, stopTokens: [] };
    const all = await gen.generate(prompts, opts);
    assert.equal(all.length, 70);
    for (const i of [0, 1, 17, 42, 69]) {
      const [alone] = await gen.generate([prompts[i]], opts);
      assert.deepEqual(all[i].tokens, alone.tokens, `row ${i}`);
      alone.logprobs.forEach((lp, s) => assert.ok(Math.abs(lp - all[i].logprobs[s]) < 1e-4, `row ${i} step ${s}`));
    }
    assertSame(all, await gen.generate(prompts, { ...opts, decode: 'steps' }), 'rollout size');
  } finally {
    await gen.dispose();
  }
});

test('decode loop: each row stops at its own stop token, the others go on unchanged, and the loop ends when all have stopped', async () => {
  const { gen, prompts } = await builtin();
  try {
    const batch = prompts.slice(0, 5);
    const free = await gen.generate(batch, { maxNewTokens: 16, greedy: true, stopTokens: [] });
    const stopTok = free[0].tokens[3];
    const stopped = await gen.generate(batch, { maxNewTokens: 16, greedy: true, stopTokens: [stopTok] });
    stopped.forEach((r, i) => {
      const at = free[i].tokens.indexOf(stopTok);
      const expected = at < 0 ? free[i].tokens : free[i].tokens.slice(0, at + 1);
      assert.deepEqual(r.tokens, expected, `row ${i}`);
      assert.equal(r.finishReason, at < 0 ? 'length' : 'stop', `row ${i}`);
      assert.deepEqual(r.logprobs, free[i].logprobs.slice(0, expected.length), `row ${i} log-probs`);
    });
    assert.equal(stopped[0].finishReason, 'stop');
    assert.ok(stopped[0].tokens.length <= 4);
    assertSame(stopped, await gen.generate(batch, { maxNewTokens: 16, greedy: true, stopTokens: [stopTok], decode: 'steps' }), 'per-row stop');
    // Every row stops on its first token: one token each, whatever maxNewTokens says.
    const firsts = [...new Set(free.map((r) => r.tokens[0]))];
    const early = await gen.generate(batch, { maxNewTokens: 16, greedy: true, stopTokens: firsts });
    assert.deepEqual(early.map((r) => r.tokens), free.map((r) => [r.tokens[0]]));
    assert.ok(early.every((r) => r.finishReason === 'stop'));
  } finally {
    await gen.dispose();
  }
});
