/**
 * Qwen3 (per-head RMSNorm on q and k before RoPE), Mistral (sliding-window attention) and Gemma 3 (scaled
 * embeddings, (1 + w) norms, sandwich norms, local/global layers with their own windows and RoPE) text models: tiny random
 * Hugging Face folders, written here with HF names and layouts independently of src/engine/models, load and match
 * the float64 reference (test/support/reference/transformer.ts) in the scoring graph and in the KV-cache graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafeTensor, writeSafetensors, readSafetensors } from '../../../../src/engine/io/safetensors';
import { loadHfModel, saveHfModel } from '../../../../src/engine/models/hfMapping';
import { buildScoringOnnx } from '../../../../src/engine/models/forwardGraph';
import { buildModel, logprobs } from '../../../../src/engine/models/transformer';
import { Trainer } from '../../../../src/engine/step/trainer';
import { i64 } from '../../../../src/engine/runtime/tensor';
import * as op from '../../../../src/engine/graph/ops';
import { buildInferenceOnnx } from '../../../../src/engine/generate/inferenceGraph';
import { Rng } from '../../../../src/engine/rng';
import { referenceForward } from '../../../support/reference/transformer';
import { i64Rows, runOnnx, tmpDir } from './tinyModels';

const V = 96;
const D = 32;
const H = 4;
const K = 2;
const F = 40;
const L = 2;

/** A tiny qwen3 or mistral folder: config.json (HF keys) + model.safetensors (HF names, [out, in] Linear weights). */
type NewKind = 'qwen3' | 'mistral' | 'gemma3_text';

/** Gemma3TextConfig keys of the tiny Gemma: layer 0 local (window 3, RoPE base 10000), layer 1 global (1e6, linear x4). */
const GEMMA_V4 = {
  architectures: ['Gemma3ForCausalLM'],
  model_type: 'gemma3_text',
  head_dim: 16,
  query_pre_attn_scalar: 24,
  sliding_window: 3,
  sliding_window_pattern: 2,
  rope_theta: 1000000,
  rope_scaling: { rope_type: 'linear', factor: 4 },
  rope_local_base_freq: 10000,
  hidden_activation: 'gelu_pytorch_tanh',
  tie_word_embeddings: true,
};

function writeTiny(kind: NewKind, extra: Record<string, unknown> = {}, seed = 11): string {
  const rng = new Rng(seed);
  const tensors = new Map<string, SafeTensor>();
  const put = (name: string, shape: number[], std = 0.2, mean = 0): void => {
    const d = rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), mean, std);
    tensors.set(name, { dtype: 'F32', shape, data: d });
  };
  // Qwen3 models use a head dim independent of hidden / heads (here 16, so H * E = 64 != D).
  const E = kind === 'mistral' ? D / H : 16;
  const gemma = kind === 'gemma3_text';
  const config: Record<string, unknown> = gemma
    ? { ...GEMMA_V4 }
    : kind === 'qwen3'
      ? {
          architectures: ['Qwen3ForCausalLM'],
          model_type: 'qwen3',
          head_dim: E,
          attention_bias: true,
          use_sliding_window: false,
          tie_word_embeddings: true,
          rope_parameters: { rope_type: 'default', rope_theta: 1000000 },
        }
      : { architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 3, rope_theta: 10000, tie_word_embeddings: false };
  Object.assign(config, {
    vocab_size: V,
    hidden_size: D,
    intermediate_size: F,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: K,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    ...(gemma ? {} : { hidden_act: 'silu' }),
    bos_token_id: 1,
    eos_token_id: 2,
    ...extra,
  });
  put('model.embed_tokens.weight', [V, D], 0.5);
  for (let i = 0; i < L; i++) {
    const h = `model.layers.${i}.`;
    // Gemma's norm weights are offsets from 1 (its RMSNorm scales by 1 + w).
    const normMean = gemma ? 0 : 1;
    put(h + 'input_layernorm.weight', [D], 0.1, normMean);
    put(h + 'self_attn.q_proj.weight', [H * E, D]);
    put(h + 'self_attn.k_proj.weight', [K * E, D]);
    put(h + 'self_attn.v_proj.weight', [K * E, D]);
    put(h + 'self_attn.o_proj.weight', [D, H * E]);
    if (kind === 'qwen3') {
      for (const [n, size] of [['q_proj', H * E], ['k_proj', K * E], ['v_proj', K * E], ['o_proj', D]] as const) put(`${h}self_attn.${n}.bias`, [size], 0.2);
    }
    if (kind !== 'mistral') {
      put(h + 'self_attn.q_norm.weight', [E], 0.3, normMean);
      put(h + 'self_attn.k_norm.weight', [E], 0.3, normMean);
    }
    put(h + 'post_attention_layernorm.weight', [D], 0.1, normMean);
    if (gemma) {
      put(h + 'pre_feedforward_layernorm.weight', [D], 0.1, normMean);
      put(h + 'post_feedforward_layernorm.weight', [D], 0.3, normMean);
    }
    put(h + 'mlp.gate_proj.weight', [F, D]);
    put(h + 'mlp.up_proj.weight', [F, D]);
    put(h + 'mlp.down_proj.weight', [D, F]);
  }
  put('model.norm.weight', [D], 0.1, gemma ? 0 : 1);
  if (config.tie_word_embeddings !== true) put('lm_head.weight', [V, D]);
  const dir = tmpDir(`tiny-${kind}-`);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, select: (i: number) => boolean = () => true): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) if (select(i)) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const ROWS = [
  [5, 17, 33, 60, 7, 8, 9, 41, 12],
  [0, 0, 0, 11, 12, 13, 70, 3, 4],
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1, 1, 1],
  [0, 0, 0, 1, 1, 1, 1, 1, 1],
];
const T = ROWS[0].length;

/** Scoring-graph logits of a folder's model on ROWS / MASK, with the float64 reference's. */
async function logitsVsReference(dir: string): Promise<{ onnx: Float32Array; ref: Float64Array; valid: (i: number) => boolean }> {
  const loaded = loadHfModel(dir);
  const model = buildModel(loaded.config, 'lm');
  const out = await runOnnx(buildScoringOnnx(model, { batch: 2, seq: T, weights: loaded.weights }), { input_ids: i64Rows(ROWS), attention_mask: i64Rows(MASK) });
  const ref = referenceForward(loaded.config, 'lm', loaded.weights, ROWS, MASK);
  const valid = (i: number): boolean => {
    const bt = Math.floor(i / V);
    return MASK[Math.floor(bt / T)][bt % T] === 1;
  };
  return { onnx: out.logits.data as Float32Array, ref: ref.logits!, valid };
}

for (const kind of ['qwen3', 'mistral', 'gemma3_text'] as const) {
  test(`${kind}: a tiny random HF folder loads and its ONNX logits match the float64 reference to 1e-4 (left padding)`, async () => {
    const dir = writeTiny(kind);
    const cfg = loadHfModel(dir).config;
    if (kind === 'qwen3') {
      assert.deepEqual([cfg.qkNorm, cfg.headDim, cfg.qkvBias, cfg.oBias, cfg.ropeTheta, cfg.tieWordEmbeddings], [true, 16, true, true, 1000000, true]);
    } else if (kind === 'mistral') {
      assert.deepEqual([cfg.slidingWindow, cfg.qkNorm, cfg.qkvBias], [3, false, false]);
    } else {
      assert.deepEqual(cfg.gemma, { queryPreAttnScalar: 24, slidingLayers: [true, false], localRopeTheta: 10000, localRopeScaling: null });
      assert.deepEqual([cfg.slidingWindow, cfg.ropeTheta, cfg.ropeScaling, cfg.activation, cfg.headDim], [3, 1000000, { type: 'linear', factor: 4 }, 'gelu_pytorch_tanh', 16]);
    }
    const { onnx, ref, valid } = await logitsVsReference(dir);
    const diff = maxDiff(onnx, ref, valid);
    assert.ok(diff < 1e-4, `max |logits - reference| = ${diff}`);
    assert.ok(maxDiff(ref, new Float64Array(ref.length)) > 0.1, 'the logits are not trivially small');
  });
}

test('qwen3: the q/k norms change the logits (the reference is not blind to them)', async () => {
  const dir = writeTiny('qwen3');
  const loaded = loadHfModel(dir);
  const flat = new Map(loaded.weights);
  for (const [n, t] of loaded.weights) if (/_norm\.weight$/.test(n) && n.includes('attn.')) flat.set(n, { shape: t.shape, data: new Float32Array(t.data.length).fill(1) });
  const a = referenceForward(loaded.config, 'lm', loaded.weights, [ROWS[0]]).logits!;
  const b = referenceForward(loaded.config, 'lm', flat, [ROWS[0]]).logits!;
  assert.ok(maxDiff(a, b) > 1e-3);
});

test('mistral: a sliding window at least as long as the positions used equals full attention; a shorter one changes the logits', async () => {
  const full = await logitsVsReference(writeTiny('mistral', { sliding_window: null }));
  const wide = await logitsVsReference(writeTiny('mistral', { sliding_window: 64 }));
  const narrow = await logitsVsReference(writeTiny('mistral', { sliding_window: 3 }));
  assert.deepEqual(wide.onnx, full.onnx);
  assert.ok(maxDiff(wide.ref, full.ref) === 0);
  assert.ok(maxDiff(narrow.onnx, full.onnx, full.valid) > 1e-3, 'window 3 over 9 positions masks keys');
});

for (const kind of ['mistral', 'gemma3_text'] as const) test(`${kind}: the KV-cache graph with a sliding window gives the full forward logits, token by token`, async () => {
  const dir = writeTiny(kind);
  const loaded = loadHfModel(dir);
  const model = buildModel(loaded.config, 'lm');
  const bytes = buildInferenceOnnx(model, loaded.weights);
  const ids = ROWS[0];
  const ref = referenceForward(loaded.config, 'lm', loaded.weights, [ids]).logits!;
  const E = loaded.config.headDim;
  let past: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (let i = 0; i < L; i++) {
    for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = { data: new Float32Array(0), dims: [1, K, 0, E] };
  }
  const prefix = 4;
  let worst = 0;
  for (let start = 0; start < ids.length; ) {
    const n = start === 0 ? prefix : 1;
    const chunk = ids.slice(start, start + n);
    const out = await runOnnx(bytes, { input_ids: i64Rows([chunk]), attention_mask: i64Rows([new Array<number>(start + n).fill(1)]), ...past });
    const logits = out.logits.data as Float32Array;
    worst = Math.max(worst, maxDiff(logits, ref.subarray(start * V, (start + n) * V)));
    const next: typeof past = {};
    for (let i = 0; i < L; i++) {
      for (const kv of ['key', 'value']) {
        const p = out[`present.${i}.${kv}`];
        next[`past_key_values.${i}.${kv}`] = { data: p.data as Float32Array, dims: [...p.dims] };
      }
    }
    past = next;
    start += n;
  }
  assert.ok(worst < 1e-4, `max |cached logits - reference| = ${worst}`);
});

test('qwen3, mistral and gemma3_text (v4 and v5 RoPE keys): save then reload round-trips exactly with transformers config keys and tensor names', () => {
  const gemmaV5 = {
    sliding_window_pattern: undefined,
    rope_theta: undefined,
    rope_scaling: undefined,
    rope_local_base_freq: undefined,
    layer_types: ['sliding_attention', 'full_attention'],
    rope_parameters: { full_attention: { rope_type: 'linear', rope_theta: 1000000, factor: 4 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } },
  };
  const cases: [NewKind, Record<string, unknown>][] = [['qwen3', {}], ['mistral', {}], ['gemma3_text', {}], ['gemma3_text', gemmaV5]];
  for (const [kind, extra] of cases) {
    const dir = writeTiny(kind, extra);
    const a = loadHfModel(dir);
    const out = tmpDir(`saved-${kind}-`);
    saveHfModel(out, a.config, a.head, a.weights);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg.architectures, [{ qwen3: 'Qwen3ForCausalLM', mistral: 'MistralForCausalLM', gemma3_text: 'Gemma3ForCausalLM' }[kind]]);
    if (kind === 'qwen3') assert.deepEqual([cfg.head_dim, cfg.attention_bias, cfg.use_sliding_window], [16, true, false]);
    else assert.equal(cfg.sliding_window, 3);
    if (kind === 'gemma3_text') {
      assert.deepEqual([cfg.query_pre_attn_scalar, cfg.layer_types, cfg.rope_local_base_freq, cfg.hidden_activation], [24, ['sliding_attention', 'full_attention'], 10000, 'gelu_pytorch_tanh']);
      if (extra.rope_parameters) assert.deepEqual(cfg.rope_parameters, extra.rope_parameters);
      assert.deepEqual(loadHfModel(out).config.gemma, a.config.gemma);
      assert.deepEqual(loadHfModel(out).config.ropeScaling, { type: 'linear', factor: 4 });
    }
    const orig = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
    const saved = readSafetensors(path.join(out, 'model.safetensors')).tensors;
    assert.deepEqual([...saved.keys()].sort(), [...orig.keys()].sort());
    for (const [n, t] of orig) assert.deepEqual(saved.get(n)!.data, t.data, n);
    const b = loadHfModel(out);
    assert.deepEqual(b.config.slidingWindow, a.config.slidingWindow);
    assert.equal(b.config.qkNorm, a.config.qkNorm);
  }
});

test('qwen3 with use_sliding_window: true is an error (their window covers only some layers)', () => {
  const dir = writeTiny('qwen3', { use_sliding_window: true, sliding_window: 4, max_window_layers: 1 });
  assert.throws(() => loadHfModel(dir), /"use_sliding_window": true is not supported for qwen3/);
});

test('qwen3, mistral and gemma3_text train with the K-step compiler: finite falling loss, q/k norms and attention weights move', async () => {
  for (const kind of ['qwen3', 'mistral', 'gemma3_text'] as const) {
    const loaded = loadHfModel(writeTiny(kind));
    const model = buildModel(loaded.config, 'lm');
    const [B, S, steps] = [2, 8, 3];
    const trainer = await Trainer.create(
      {
        forward: (params, batch) => {
          const lp = logprobs(model, params, batch.ids, batch.mask);
          return { loss: op.neg(op.div(op.sum(lp.sum), op.sum(lp.count))) };
        },
        params: model.params,
        batch: [
          { name: 'ids', shape: [B, S], dtype: 'int64' },
          { name: 'mask', shape: [B, S], dtype: 'int64' },
        ],
        optim: { optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0 } },
        stepsPerRun: steps,
      },
      { initialParams: new Map([...loaded.weights].map(([n, t]) => [n, t.data])), threads: 1, device: 'cpu' },
    );
    try {
      const row = [5, 6, 7, 8, 9, 10, 11, 12];
      const ids = i64([steps, 1, B, S], Array.from({ length: steps * B }, () => row).flat());
      const mask = i64([steps, 1, B, S], new Array<number>(steps * B * S).fill(1));
      const losses = [...(await trainer.step({ ids, mask })).losses, ...(await trainer.step({ ids, mask })).losses];
      assert.ok(losses.every(Number.isFinite), `${kind}: ${losses.join(' ')}`);
      assert.ok(losses[losses.length - 1] < losses[0] - 0.05, `${kind}: loss should fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
      const after = await trainer.getParams();
      const moved = (n: string): boolean => after.get(n)!.data.some((x, i) => x !== loaded.weights.get(n)!.data[i]);
      assert.ok(moved('layers.0.attn.k.weight'), `${kind}: k moved`);
      if (kind !== 'mistral') assert.ok(moved('layers.0.attn.q_norm.weight') && moved('layers.1.attn.k_norm.weight'), 'q/k norms moved');
      if (kind === 'gemma3_text') assert.ok(moved('layers.0.norm1_post.weight') && moved('layers.1.norm2_post.weight'), 'sandwich norms moved');
    } finally {
      await trainer.dispose();
    }
  }
});
