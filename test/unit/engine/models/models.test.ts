import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors, writeSafetensors } from '../../../../src/engine/io/safetensors';
import { loadHfModel, saveHfModel } from '../../../../src/engine/models/hfMapping';
import { buildScoringOnnx } from '../../../../src/engine/models/forwardGraph';
import { referenceForward, referenceTokenLogprobs, lastTokenIndex } from '../../../support/reference/transformer';
import { buildModel } from '../../../../src/engine/models/transformer';
import { TextTokenizer } from '../../../../src/engine/tokenizer/tokenizer';
import { i64Rows, runOnnx, tinyHf, TinyKind, tmpDir, writeTinyHfFolder } from './tinyModels';

const KINDS: TinyKind[] = ['gpt2', 'llama-gqa-untied', 'qwen2-bias-tied'];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, select?: (i: number) => boolean): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) if (!select || select(i)) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const kind of KINDS) {
  test(`${kind}: HF folder loads and ONNX logits match the float64 reference to 1e-4 (with left padding)`, async () => {
    const dir = writeTinyHfFolder(kind);
    const loaded = loadHfModel(dir);
    const tok = TextTokenizer.fromFolder(dir);
    const a = tok.encode('What is the capital of France?');
    const b = tok.encode('Two plus two');
    const T = Math.max(a.length, b.length);
    const pad = tok.padTokenId!;
    const rows = [a, [...new Array<number>(T - b.length).fill(pad), ...b]]; // second row left-padded
    const mask = [a.map(() => 1), [...new Array<number>(T - b.length).fill(0), ...b.map(() => 1)]];
    assert.ok(T - b.length > 0, 'test needs some padding');
    const model = buildModel(loaded.config, 'lm');
    const bytes = buildScoringOnnx(model, { batch: 2, seq: T, weights: loaded.weights });
    const out = await runOnnx(bytes, { input_ids: i64Rows(rows), attention_mask: i64Rows(mask) });
    const ref = referenceForward(loaded.config, 'lm', loaded.weights, rows, mask);
    const V = loaded.config.vocabSize;
    const valid = (i: number): boolean => {
      const bt = Math.floor(i / V);
      return mask[Math.floor(bt / T)][bt % T] === 1;
    };
    const diff = maxAbsDiff(out.logits.data as Float32Array, ref.logits!, valid);
    assert.ok(diff < 1e-4, `max |logits - reference| = ${diff}`);
    // The logits are not trivially small (a meaningful comparison).
    assert.ok(maxAbsDiff(ref.logits!, new Float64Array(ref.logits!.length)) > 0.1);
    // Per-token log-probs of the first (unpadded) row.
    const refLp = referenceTokenLogprobs(ref.logits!, rows, V)[0];
    const lp = Array.from((out.logprobs.data as Float32Array).subarray(0, T - 1));
    assert.ok(maxAbsDiff(lp, refLp) < 1e-4);
  });
}

test('the padded row gives the same logits as the same tokens unpadded (positions from the mask)', async () => {
  const dir = writeTinyHfFolder('llama-gqa-untied');
  const loaded = loadHfModel(dir);
  const model = buildModel(loaded.config, 'lm');
  const ids = [5, 17, 33, 60];
  const padded = [0, 0, ...ids];
  const bytes1 = buildScoringOnnx(model, { batch: 1, seq: 4, weights: loaded.weights });
  const bytes2 = buildScoringOnnx(model, { batch: 1, seq: 6, weights: loaded.weights });
  const o1 = await runOnnx(bytes1, { input_ids: i64Rows([ids]), attention_mask: i64Rows([[1, 1, 1, 1]]) });
  const o2 = await runOnnx(bytes2, { input_ids: i64Rows([padded]), attention_mask: i64Rows([[0, 0, 1, 1, 1, 1]]) });
  const V = loaded.config.vocabSize;
  const l1 = o1.logits.data as Float32Array;
  const l2 = (o2.logits.data as Float32Array).subarray(2 * V);
  assert.ok(maxAbsDiff(l1, l2) < 1e-5);
});

test('HF mapping: Linear weights are transposed and GPT-2 c_attn is split into q, k, v', () => {
  const llamaDir = writeTinyHfFolder('llama-gqa-untied');
  const hf = readSafetensors(path.join(llamaDir, 'model.safetensors')).tensors;
  const w = loadHfModel(llamaDir).weights;
  const qHf = hf.get('model.layers.1.self_attn.q_proj.weight')!; // [out 32, in 32]
  const q = w.get('layers.1.attn.q.weight')!; // [in, out]
  assert.equal(q.data[3 * 32 + 7], (qHf.data as Float32Array)[7 * 32 + 3]);
  const kHf = hf.get('model.layers.0.self_attn.k_proj.weight')!; // [16, 32]
  assert.deepEqual(w.get('layers.0.attn.k.weight')!.shape, [32, 16]);
  assert.equal(w.get('layers.0.attn.k.weight')!.data[5 * 16 + 9], (kHf.data as Float32Array)[9 * 32 + 5]);

  const gDir = writeTinyHfFolder('gpt2');
  const ghf = readSafetensors(path.join(gDir, 'model.safetensors')).tensors;
  const gw = loadHfModel(gDir).weights;
  const cattn = ghf.get('transformer.h.0.attn.c_attn.weight')!.data as Float32Array; // [32, 96]
  assert.equal(gw.get('layers.0.attn.v.weight')!.data[4 * 32 + 2], cattn[4 * 96 + 64 + 2]);
  assert.equal(gw.get('layers.0.attn.k.bias')!.data[3], (ghf.get('transformer.h.0.attn.c_attn.bias')!.data as Float32Array)[32 + 3]);
});

for (const kind of KINDS) {
  test(`${kind}: save then reload round-trips exactly, with HF names and config keys`, () => {
    const dir = writeTinyHfFolder(kind);
    const a = loadHfModel(dir);
    const out = tmpDir('saved-');
    saveHfModel(out, a.config, a.head, a.weights, { tokenizerFrom: dir });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
    const b = loadHfModel(out);
    assert.deepEqual([...b.weights.keys()].sort(), [...a.weights.keys()].sort());
    for (const [name, t] of a.weights) {
      assert.deepEqual(b.weights.get(name)!.shape, t.shape, name);
      assert.deepEqual(b.weights.get(name)!.data, t.data, name);
    }
    // Same HF tensor names (and values) as the original file.
    const orig = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
    const saved = readSafetensors(path.join(out, 'model.safetensors'));
    assert.deepEqual([...saved.tensors.keys()].sort(), [...orig.keys()].sort());
    for (const [name, t] of orig) assert.deepEqual(saved.tensors.get(name)!.data, t.data, name);
    assert.equal(saved.metadata.format, 'pt');
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    const src = tinyHf(kind).config;
    for (const k of Object.keys(src)) {
      if (k === 'rope_scaling' && src[k]) {
        const r = src[k] as Record<string, unknown>;
        assert.equal(cfg.rope_scaling.rope_type, r.rope_type ?? r.type);
        assert.equal(cfg.rope_scaling.factor, r.factor);
      } else assert.deepEqual(cfg[k], src[k], `config key ${k}`);
    }
    // Saving the reloaded model gives byte-identical weights.
    const out2 = tmpDir('saved2-');
    saveHfModel(out2, b.config, b.head, b.weights);
    assert.deepEqual(fs.readFileSync(path.join(out2, 'model.safetensors')), fs.readFileSync(path.join(out, 'model.safetensors')));
  });
}

test('bad input: unsupported model_type names it and lists the supported ones', () => {
  const dir = writeTinyHfFolder('gpt2');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  cfg.model_type = 'mamba';
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  assert.throws(() => loadHfModel(dir), (e: Error) => /model_type "mamba" is not supported/.test(e.message) && /gpt2, llama, qwen2/.test(e.message) && e.message.includes(dir));
});

test('bad input: missing tokenizer.json gives a clear message naming the folder', () => {
  const dir = writeTinyHfFolder('llama-gqa-untied');
  fs.rmSync(path.join(dir, 'tokenizer.json'));
  fs.writeFileSync(path.join(dir, 'tokenizer.model'), 'x');
  assert.throws(() => TextTokenizer.fromFolder(dir), (e: Error) => e.message.includes(dir) && /no tokenizer\.json/.test(e.message) && /tokenizer\.model/.test(e.message));
});

test('bad input: a missing shard names the file', () => {
  const dir = writeTinyHfFolder('qwen2-bias-tied');
  const a = loadHfModel(dir);
  const out = tmpDir('sharded-');
  saveHfModel(out, a.config, a.head, a.weights, { maxShardBytes: 40_000 });
  const index = JSON.parse(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'));
  const shards = [...new Set(Object.values(index.weight_map as Record<string, string>))];
  assert.ok(shards.length >= 2);
  // Sharded load gives the same weights.
  const b = loadHfModel(out);
  for (const [n, t] of a.weights) assert.deepEqual(b.weights.get(n)!.data, t.data, n);
  fs.rmSync(path.join(out, shards[1]));
  assert.throws(() => loadHfModel(out), (e: Error) => e.message.includes(path.join(out, shards[1])) && /not found/.test(e.message));
});

test('bad input: wrong-shape, missing and unexpected tensors are listed in one error with both shapes', () => {
  const dir = writeTinyHfFolder('llama-gqa-untied');
  const { config, tensors } = tinyHf('llama-gqa-untied');
  tensors.set('model.layers.0.self_attn.k_proj.weight', { dtype: 'F32', shape: [32, 32], data: new Float32Array(32 * 32) });
  tensors.delete('model.layers.1.mlp.up_proj.weight');
  tensors.set('model.layers.0.self_attn.extra.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  assert.throws(
    () => loadHfModel(dir),
    (e: Error) =>
      e.message.includes(dir) &&
      /wrong shape \(1\): model\.layers\.0\.self_attn\.k_proj\.weight: expected \[16, 32\], found \[32, 32\]/.test(e.message) &&
      /missing \(1\): model\.layers\.1\.mlp\.up_proj\.weight \[48, 32\]/.test(e.message) &&
      /unexpected \(1\): model\.layers\.0\.self_attn\.extra\.weight \[2\]/.test(e.message),
  );
});

test('reward head: score.weight loads, rewards are read at the last real token and match the reference', async () => {
  const dir = writeTinyHfFolder('qwen2-bias-tied');
  const { config, tensors } = tinyHf('qwen2-bias-tied');
  config.architectures = ['Qwen2ForSequenceClassification'];
  config.num_labels = 1;
  config.pad_token_id = 0;
  tensors.set('score.weight', { dtype: 'F32', shape: [1, 32], data: Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)) });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  const loaded = loadHfModel(dir);
  assert.equal(loaded.head, 'score');
  const model = buildModel(loaded.config, 'score');
  const rows = [
    [7, 8, 9, 10, 0],
    [0, 0, 11, 12, 13],
  ];
  const mask = [
    [1, 1, 1, 1, 0],
    [0, 0, 1, 1, 1],
  ];
  const out = await runOnnx(buildScoringOnnx(model, { batch: 2, seq: 5, weights: loaded.weights }), { input_ids: i64Rows(rows), attention_mask: i64Rows(mask) });
  const ref = referenceForward(loaded.config, 'score', loaded.weights, rows, mask);
  const rewards = out.rewards.data as Float32Array;
  assert.deepEqual(out.rewards.dims, [2, 1]);
  for (let b = 0; b < 2; b++) {
    const t = lastTokenIndex(mask[b]);
    assert.ok(Math.abs(rewards[b] - ref.scores![b * 5 + t]) < 1e-4, `row ${b}`);
  }
  // Round trip keeps the classifier architecture and score.weight.
  const out2 = tmpDir('rm-');
  saveHfModel(out2, loaded.config, 'score', loaded.weights);
  const cfg = JSON.parse(fs.readFileSync(path.join(out2, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.architectures, ['Qwen2ForSequenceClassification']);
  assert.equal(cfg.num_labels, 1);
  assert.deepEqual(readSafetensors(path.join(out2, 'model.safetensors')).tensors.get('score.weight')!.shape, [1, 32]);
  // A causal-LM checkpoint can start a reward model with a fresh head.
  const lmDir = writeTinyHfFolder('llama-gqa-untied');
  assert.throws(() => loadHfModel(lmDir, 'score'), /missing \(1\): score\.weight/);
  const fresh = loadHfModel(lmDir, 'score', { freshHeadSeed: 3 });
  assert.deepEqual(fresh.weights.get('score.weight')!.shape, [32, 1]);
});

test('value head (lm+value): values match the reference', async () => {
  const dir = writeTinyHfFolder('gpt2');
  const loaded = loadHfModel(dir, 'lm+value', { freshHeadSeed: 11 });
  const model = buildModel(loaded.config, 'lm+value');
  const rows = [[3, 4, 5, 6]];
  const mask = [[1, 1, 1, 1]];
  const out = await runOnnx(buildScoringOnnx(model, { batch: 1, seq: 4, weights: loaded.weights }), { input_ids: i64Rows(rows), attention_mask: i64Rows(mask) });
  const ref = referenceForward(loaded.config, 'lm+value', loaded.weights, rows, mask);
  assert.ok(maxAbsDiff(out.values.data as Float32Array, ref.values!) < 1e-4);
  assert.ok(maxAbsDiff(ref.values!, new Float64Array(4)) > 1e-3);
});
