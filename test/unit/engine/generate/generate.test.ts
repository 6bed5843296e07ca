import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { loadHfModel } from '../../../../src/engine/models/hfMapping';
import { referenceForward } from '../../../support/reference/transformer';
import { buildModel } from '../../../../src/engine/models/transformer';
import { Generator } from '../../../../src/engine/generate/generator';
import { exportInferenceOnnx } from '../../../../src/engine/generate/inferenceGraph';
import { pickToken } from '../../../../src/engine/generate/sampling';
import { Rng } from '../../../../src/engine/rng';
import { tmpDir, writeTinyHfFolder } from '../models/tinyModels';

const PROMPTS = [
  [5, 17, 33, 60, 2],
  [7, 8],
  [100, 101, 102],
];

for (const kind of ['llama-gqa-untied', 'gpt2'] as const) {
  test(`${kind}: greedy with the KV cache == greedy with full recompute == float64 reference, token for token`, async () => {
    const loaded = loadHfModel(writeTinyHfFolder(kind));
    const model = buildModel(loaded.config, 'lm');
    const gen = await Generator.create(model, loaded.weights, { threads: 1 });
    try {
      const opts = { maxNewTokens: 12, greedy: true, stopTokens: [] as number[] };
      const cached = await gen.generate(PROMPTS, opts);
      const full = await gen.generate(PROMPTS, { ...opts, useCache: false });
      assert.deepEqual(
        cached.map((r) => r.tokens),
        full.map((r) => r.tokens),
      );
      for (const r of cached) {
        assert.equal(r.tokens.length, 12);
        assert.equal(r.finishReason, 'length');
      }
      // Batched (left-padded) rows equal each prompt generated alone.
      for (let i = 0; i < PROMPTS.length; i++) {
        const [alone] = await gen.generate([PROMPTS[i]], opts);
        assert.deepEqual(alone.tokens, cached[i].tokens, `prompt ${i}`);
      }
      // Greedy argmax and log-probs against the float64 reference, one row.
      const seq = [...PROMPTS[1]];
      for (let s = 0; s < 12; s++) {
        const V = loaded.config.vocabSize;
        const logits = referenceForward(loaded.config, 'lm', loaded.weights, [seq]).logits!.subarray((seq.length - 1) * V, seq.length * V);
        let best = 0;
        for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
        assert.equal(cached[1].tokens[s], best, `step ${s}`);
        let m = -Infinity;
        for (let v = 0; v < V; v++) m = Math.max(m, logits[v]);
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(logits[v] - m);
        assert.ok(Math.abs(cached[1].logprobs[s] - (logits[best] - m - Math.log(z))) < 1e-4);
        seq.push(best);
      }
    } finally {
      await gen.dispose();
    }
  });
}

test('sampling: seeded, stop tokens end rows, top-k 1 is greedy, max new tokens is respected', async () => {
  const loaded = loadHfModel(writeTinyHfFolder('qwen2-bias-tied'));
  const model = buildModel(loaded.config, 'lm');
  const gen = await Generator.create(model, loaded.weights, { threads: 1 });
  try {
    const a = await gen.generate(PROMPTS, { maxNewTokens: 10, temperature: 1.5, topP: 0.9, seed: 42, stopTokens: [] });
    const b = await gen.generate(PROMPTS, { maxNewTokens: 10, temperature: 1.5, topP: 0.9, seed: 42, stopTokens: [] });
    const c = await gen.generate(PROMPTS, { maxNewTokens: 10, temperature: 1.5, topP: 0.9, seed: 43, stopTokens: [] });
    assert.deepEqual(a, b);
    assert.notDeepEqual(
      a.map((r) => r.tokens),
      c.map((r) => r.tokens),
    );
    const greedy = await gen.generate(PROMPTS, { maxNewTokens: 6, greedy: true, stopTokens: [] });
    const top1 = await gen.generate(PROMPTS, { maxNewTokens: 6, temperature: 0.7, topK: 1, seed: 9, stopTokens: [] });
    assert.deepEqual(
      top1.map((r) => r.tokens),
      greedy.map((r) => r.tokens),
    );
    // Stop at the third greedy token of row 0: row 0 ends there, the others run to the limit (or their own stop).
    const stopTok = greedy[0].tokens[2];
    const stopped = await gen.generate(PROMPTS, { maxNewTokens: 6, greedy: true, stopTokens: [stopTok] });
    assert.equal(stopped[0].finishReason, 'stop');
    assert.deepEqual(stopped[0].tokens, greedy[0].tokens.slice(0, greedy[0].tokens.indexOf(stopTok) + 1));
    for (const r of stopped) assert.ok(r.tokens.length <= 6);
    const limited = await gen.generate([[3, 4]], { maxNewTokens: 6, greedy: true, vocabLimit: 50, stopTokens: [] });
    assert.ok(limited[0].tokens.every((t) => t < 50));
    await assert.rejects(gen.generate([[]], { maxNewTokens: 3 }), /prompt 0 is empty/);
    await assert.rejects(gen.generate([[99999]], { maxNewTokens: 3 }), /token id 99999 is outside the vocabulary/);
    await assert.rejects(gen.generate([[1]], { maxNewTokens: 3, topP: 0 }), /topP must be in \(0, 1\]/);
  } finally {
    await gen.dispose();
  }
});

test('pickToken: top-k / top-p restrict the candidates; log-prob is of the temperature-scaled distribution', () => {
  const logits = Float32Array.from([2, 1, 0.5, -1, 3]);
  const rng = new Rng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 300; i++) seen.add(pickToken(logits, { topK: 2 }, rng).token);
  assert.deepEqual([...seen].sort(), [0, 4]);
  seen.clear();
  // p = softmax: [0.23, 0.085, 0.05, 0.007, 0.63]: top-p 0.7 keeps tokens 4 and 0 only.
  for (let i = 0; i < 300; i++) seen.add(pickToken(logits, { topP: 0.7 }, rng).token);
  assert.deepEqual([...seen].sort(), [0, 4]);
  const p = pickToken(logits, { greedy: true }, rng);
  assert.equal(p.token, 4);
  const z = [2, 1, 0.5, -1, 3].reduce((a, x) => a + Math.exp(x / 2), 0);
  const t2 = pickToken(logits, { temperature: 2, topK: 1 }, rng);
  assert.ok(Math.abs(t2.logprob - (3 / 2 - Math.log(z))) < 1e-6);
  // Sampled frequencies follow the distribution (loose bound; seeded, so deterministic).
  let count4 = 0;
  for (let i = 0; i < 2000; i++) if (pickToken(logits, {}, rng).token === 4) count4++;
  assert.ok(Math.abs(count4 / 2000 - 0.63) < 0.05, `token 4 frequency ${count4 / 2000}`);
});

test('exported inference ONNX runs in plain onnxruntime with Optimum-style inputs and a growing cache', async () => {
  const loaded = loadHfModel(writeTinyHfFolder('llama-gqa-untied'));
  const model = buildModel(loaded.config, 'lm');
  const dir = tmpDir('export-');
  const file = exportInferenceOnnx(model, loaded.weights, dir);
  assert.equal(file, path.join(dir, 'model.onnx'));
  const session = await ort.InferenceSession.create(fs.readFileSync(file), { intraOpNumThreads: 1 });
  try {
    assert.deepEqual(session.inputNames.slice(0, 3), ['input_ids', 'attention_mask', 'past_key_values.0.key']);
    const empty = (): ort.Tensor => new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 8]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([5n, 6n, 7n]), [1, 3]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n]), [1, 3]),
    };
    for (let i = 0; i < 2; i++) {
      feeds[`past_key_values.${i}.key`] = empty();
      feeds[`past_key_values.${i}.value`] = empty();
    }
    const o1 = await session.run(feeds);
    assert.deepEqual(o1.logits.dims, [1, 3, loaded.config.vocabSize]);
    assert.deepEqual(o1['present.1.value'].dims, [1, 2, 3, 8]);
    const f2: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([9n]), [1, 1]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n, 1n]), [1, 4]),
    };
    for (let i = 0; i < 2; i++) {
      f2[`past_key_values.${i}.key`] = o1[`present.${i}.key`];
      f2[`past_key_values.${i}.value`] = o1[`present.${i}.value`];
    }
    const o2 = await session.run(f2);
    const ref = referenceForward(loaded.config, 'lm', loaded.weights, [[5, 6, 7, 9]]).logits!;
    const V = loaded.config.vocabSize;
    const got = o2.logits.data as Float32Array;
    let d = 0;
    for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(got[v] - ref[3 * V + v]));
    assert.ok(d < 1e-4, `cached step vs reference: ${d}`);
  } finally {
    await session.release();
  }
});
