import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseHfConfig, ropeFrequencies, toHfConfig } from '../../../../src/engine/models/config';
import { loadHfModel, saveHfModel } from '../../../../src/engine/models/hfMapping';
import { initWeights } from '../../../../src/engine/models/params';
import { tmpDir, writeTinyHfFolder } from './tinyModels';

/** Llama-3.2-1B's config.json as transformers v5 saves it: RoPE settings only under rope_parameters. */
function llama32V5(): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 128256,
    hidden_size: 2048,
    intermediate_size: 8192,
    num_hidden_layers: 16,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 64,
    max_position_embeddings: 131072,
    rms_norm_eps: 1e-5,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    bos_token_id: 128000,
    eos_token_id: 128001,
    rope_parameters: { rope_type: 'llama3', rope_theta: 500000.0, factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 },
  };
}

/** The same config as transformers v4 saves it (rope_theta + rope_scaling). */
function llama32V4(): Record<string, unknown> {
  const { rope_parameters: rp, ...rest } = llama32V5();
  const { rope_theta, ...scaling } = rp as Record<string, unknown>;
  return { ...rest, rope_theta, rope_scaling: scaling };
}

test('a v5-style Llama 3 config (rope_parameters) gets RoPE base 500000 with llama3 scaling, as its v4 form does', () => {
  const v5 = parseHfConfig(llama32V5(), 'v5.json');
  assert.equal(v5.ropeTheta, 500000);
  assert.deepEqual(v5.ropeScaling, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  const v4 = parseHfConfig(llama32V4(), 'v4.json');
  assert.equal(v4.ropeTheta, v5.ropeTheta);
  assert.deepEqual(v4.ropeScaling, v5.ropeScaling);
  // The frequencies themselves: band 0 (wavelength 2 pi < 8192 / 4) is kept, the last band (wavelength far
  // above 8192) is divided by the factor 32.
  const { invFreq } = ropeFrequencies(v5);
  assert.equal(invFreq.length, 32);
  assert.equal(invFreq[0], 1);
  assert.ok(Math.abs(invFreq[31] / (500000 ** (-62 / 64) / 32) - 1) < 1e-12);
});

test('rope_parameters: theta defaults, partial_rotary_factor inside it, a per-layer-type dict with full attention only', () => {
  const base = llama32V5();
  const plain = parseHfConfig({ ...base, rope_parameters: { rope_type: 'default' } });
  assert.equal(plain.ropeTheta, 10000);
  assert.equal(plain.ropeScaling, null);
  const partial = parseHfConfig({ ...base, rope_parameters: { rope_type: 'default', rope_theta: 1e6, partial_rotary_factor: 0.5 } });
  assert.equal(partial.partialRotaryFactor, 0.5);
  assert.equal(ropeFrequencies(partial).invFreq.length, 16);
  const perLayer = parseHfConfig({ ...base, rope_parameters: { full_attention: { rope_type: 'linear', rope_theta: 1e4, factor: 2 } } });
  assert.deepEqual(perLayer.ropeScaling, { type: 'linear', factor: 2 });
  // Both forms present and agreeing is fine (what toHfConfig writes for a v5 config).
  assert.equal(parseHfConfig({ ...llama32V4(), rope_parameters: llama32V5().rope_parameters }).ropeTheta, 500000);
});

test('RoPE settings that would change the math without being applied are errors naming the field', () => {
  const base = llama32V5();
  const rp = base.rope_parameters as Record<string, unknown>;
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...base, rope_theta: 10000 }, /rope_theta says 10000 but rope_parameters says 500000/],
    [{ ...base, rope_scaling: { rope_type: 'linear', factor: 2 } }, /rope_scaling says .* but rope_parameters says/],
    [{ ...base, rope_parameters: { ...rp, rope_type: 'dynamic' } }, /rope_parameters: rope type "dynamic" is not supported/],
    [{ ...base, rope_parameters: { ...rp, rope_type: 'longrope' } }, /rope type "longrope" is not supported/],
    [{ ...base, rope_parameters: { ...rp, alpha: 2 } }, /rope_parameters: unknown RoPE key\(s\) "alpha"/],
    [{ ...base, rope_scaling: { type: 'linear', factor: 2, ntk_alpha: 1 } }, /rope_scaling: unknown RoPE key\(s\) "ntk_alpha"/],
    [{ ...base, rope_parameters: { full_attention: rp, sliding_attention: { rope_type: 'default', rope_theta: 1e4 } } }, /RoPE per layer type/],
    [{ ...base, rope_parameters: { ...rp, factor: undefined, low_freq_factor: 1 } }, /missing "factor" for rope_type "llama3"/],
  ];
  for (const [cfg, re] of bad) assert.throws(() => parseHfConfig(cfg, 'c.json'), (e: Error) => re.test(e.message) && e.message.includes('c.json'), String(re));
  // A top-level partial_rotary_factor with rope_parameters silent on it is the v4 form: it applies.
  assert.equal(parseHfConfig({ ...base, partial_rotary_factor: 0.5 }).partialRotaryFactor, 0.5);
});

test('config fields this engine does not implement are errors, never ignored', () => {
  const base = llama32V5();
  const cases: [string, unknown][] = [
    ['quantization_config', { quant_method: 'gptq', bits: 4 }],
    ['attn_logit_softcapping', 50],
    ['final_logit_softcapping', 30],
    ['attention_chunk_size', 8192],
    ['use_qk_norm', true],
    ['no_rope_layers', [1, 1, 0, 1]],
    ['embedding_multiplier', 12],
    ['residual_multiplier', 0.22],
    ['attention_multiplier', 0.0078],
    ['logits_scaling', 8],
    ['layer_types', ['full_attention', 'sliding_attention']],
  ];
  for (const [key, value] of cases) {
    assert.throws(() => parseHfConfig({ ...base, [key]: value }, 'c.json'), (e: Error) => e.message.includes(`"${key}"`) && e.message.includes('c.json'), key);
  }
  // Their neutral values load.
  for (const [key, value] of [['quantization_config', null], ['use_qk_norm', false], ['no_rope_layers', [1, 1]], ['layer_types', ['full_attention', 'full_attention']]] as const) {
    assert.doesNotThrow(() => parseHfConfig({ ...base, [key]: value }), key);
  }
  assert.throws(() => parseHfConfig({ ...base, model_type: 'gpt2', n_embd: 8, n_head: 2, n_layer: 1, quantization_config: { bits: 8 } }), /"quantization_config"/);
});

test('toHfConfig keeps rope_parameters in step with the settings (transformers v5 reads it when rope_scaling is null)', () => {
  const cfg = parseHfConfig(llama32V5());
  const out = toHfConfig({ ...cfg, ropeTheta: 250000 });
  assert.deepEqual(out.rope_parameters, { rope_type: 'llama3', rope_theta: 250000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
  assert.equal(out.rope_theta, 250000);
  const back = parseHfConfig(out);
  assert.equal(back.ropeTheta, 250000);
  assert.deepEqual(back.ropeScaling, cfg.ropeScaling);
  // A v4 config is written without rope_parameters, as before.
  assert.equal(toHfConfig(parseHfConfig(llama32V4())).rope_parameters, undefined);
});

test('a saved sequence-classification config carries pad_token_id: its own, else the tokenizer pad token, else eos', () => {
  const cfg = parseHfConfig(llama32V5());
  assert.equal(cfg.padTokenId, null);
  assert.equal(toHfConfig(cfg, 'sequence-classification').pad_token_id, 128001);
  assert.equal(toHfConfig({ ...cfg, eosTokenId: [128009, 128001] }, 'sequence-classification').pad_token_id, 128009);
  assert.equal(toHfConfig({ ...cfg, padTokenId: 5 }, 'sequence-classification').pad_token_id, 5);
  assert.equal(toHfConfig(cfg, 'causal').pad_token_id, undefined);

  // Through saveHfModel: the tiny Qwen2 tokenizer's pad token is <|endoftext|>, its eos <|im_end|>.
  const dir = writeTinyHfFolder('qwen2-bias-tied');
  const loaded = loadHfModel(dir, 'score', { freshHeadSeed: 1 });
  const noPad = { ...loaded.config, padTokenId: null };
  const tokJson = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] };
  const endOfText = tokJson.added_tokens.find((t) => t.content === '<|endoftext|>')!.id;
  const out = tmpDir('rm-');
  saveHfModel(out, noPad, 'score', initWeights(noPad, 'score', 2), { tokenizerFrom: dir });
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(saved.pad_token_id, endOfText);
  assert.deepEqual(saved.architectures, ['Qwen2ForSequenceClassification']);
  const bare = tmpDir('rm-');
  saveHfModel(bare, noPad, 'score', initWeights(noPad, 'score', 2));
  const savedBare = JSON.parse(fs.readFileSync(path.join(bare, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(savedBare.pad_token_id, Array.isArray(noPad.eosTokenId) ? noPad.eosTokenId[0] : noPad.eosTokenId);
  assert.notEqual(savedBare.pad_token_id, null);
});

test('a Gemma 3 1B-style config (transformers v4 keys) parses: every 6th layer global, local RoPE base 10000', () => {
  const gemma = {
    architectures: ['Gemma3ForCausalLM'],
    model_type: 'gemma3_text',
    vocab_size: 262144,
    hidden_size: 1152,
    intermediate_size: 6912,
    num_hidden_layers: 26,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 256,
    hidden_activation: 'gelu_pytorch_tanh',
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    rope_scaling: null,
    rope_local_base_freq: 10000,
    sliding_window: 512,
    sliding_window_pattern: 6,
    query_pre_attn_scalar: 256,
    attn_logit_softcapping: null,
    final_logit_softcapping: null,
    bos_token_id: 2,
    eos_token_id: [1, 106],
    pad_token_id: 0,
  };
  const cfg = parseHfConfig(gemma);
  assert.deepEqual(
    cfg.gemma!.slidingLayers.flatMap((s, i) => (s ? [] : [i])),
    [5, 11, 17, 23],
  );
  assert.deepEqual([cfg.slidingWindow, cfg.ropeTheta, cfg.gemma!.localRopeTheta, cfg.tieWordEmbeddings, cfg.qkNorm], [512, 1000000, 10000, true, true]);
  assert.throws(() => parseHfConfig({ ...gemma, final_logit_softcapping: 30 }), /"final_logit_softcapping"/);
  assert.throws(() => parseHfConfig({ ...gemma, use_bidirectional_attention: true }), /"use_bidirectional_attention"/);
  assert.throws(() => parseHfConfig({ ...gemma, layer_types: ['sliding_attention'] }), /"layer_types" must list/);
});
