/**
 * Test helpers: tiny random Hugging Face-format model folders written from scratch (config.json with HF keys,
 * model.safetensors with HF tensor names and layouts, tokenizer.json + tokenizer_config.json), and a minimal
 * onnxruntime runner. The HF names and shapes here are written out independently of src/engine/models, so a
 * mapping bug there shows up as a failed load.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { SafeTensor, writeSafetensors } from '../../../../src/engine/io/safetensors';
import { trainByteLevelBpe, toTokenizerJson } from '../../../../src/engine/tokenizer/bpeTrainer';
import { Rng } from '../../../../src/engine/rng';

export type TinyKind = 'gpt2' | 'llama-gqa-untied' | 'qwen2-bias-tied';

export const TINY_VOCAB = 320;

const TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'What is the capital of France? The capital of France is Paris.',
  'Two plus two is four. Three plus three is six.',
  'A small model answers short questions politely.',
];

export function tmpDir(prefix = 'tiny-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function writeTinyTokenizer(dir: string): void {
  const bpe = trainByteLevelBpe(TEXTS, { vocabSize: 300, specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], minFrequency: 2 });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(toTokenizerJson(bpe)));
  fs.writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      eos_token: '<|im_end|>',
      pad_token: '<|endoftext|>',
      bos_token: null,
      chat_template:
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    }),
  );
}

function randn(rng: Rng, n: number, std: number): Float32Array {
  return rng.fillNormal(new Float32Array(n), 0, std);
}

/** config.json + HF-named tensors for a tiny model of `kind`. */
export function tinyHf(kind: TinyKind, seed = 7): { config: Record<string, unknown>; tensors: Map<string, SafeTensor> } {
  const rng = new Rng(seed);
  const t = new Map<string, SafeTensor>();
  const put = (name: string, shape: number[], std = 0.2, mean = 0): void => {
    const d = randn(rng, shape.reduce((a, b) => a * b, 1), std);
    if (mean) for (let i = 0; i < d.length; i++) d[i] += mean;
    t.set(name, { dtype: 'F32', shape, data: d });
  };
  const V = TINY_VOCAB;
  if (kind === 'gpt2') {
    const D = 32;
    const L = 2;
    const config = {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: V,
      n_embd: D,
      n_layer: L,
      n_head: 4,
      n_positions: 64,
      n_inner: null,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      bos_token_id: 0,
      eos_token_id: 0,
    };
    put('transformer.wte.weight', [V, D]);
    put('transformer.wpe.weight', [64, D], 0.1);
    for (let i = 0; i < L; i++) {
      const h = `transformer.h.${i}.`;
      put(h + 'ln_1.weight', [D], 0.1, 1);
      put(h + 'ln_1.bias', [D], 0.1);
      put(h + 'attn.c_attn.weight', [D, 3 * D]);
      put(h + 'attn.c_attn.bias', [3 * D], 0.1);
      put(h + 'attn.c_proj.weight', [D, D]);
      put(h + 'attn.c_proj.bias', [D], 0.1);
      put(h + 'ln_2.weight', [D], 0.1, 1);
      put(h + 'ln_2.bias', [D], 0.1);
      put(h + 'mlp.c_fc.weight', [D, 4 * D]);
      put(h + 'mlp.c_fc.bias', [4 * D], 0.1);
      put(h + 'mlp.c_proj.weight', [4 * D, D]);
      put(h + 'mlp.c_proj.bias', [D], 0.1);
    }
    put('transformer.ln_f.weight', [D], 0.1, 1);
    put('transformer.ln_f.bias', [D], 0.1);
    return { config, tensors: t };
  }
  const qwen = kind === 'qwen2-bias-tied';
  const D = 32;
  const H = 4;
  const K = 2;
  const E = 8;
  const F = 48;
  const L = 2;
  const config: Record<string, unknown> = {
    architectures: [qwen ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen ? 'qwen2' : 'llama',
    vocab_size: V,
    hidden_size: D,
    intermediate_size: F,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: K,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    rope_theta: qwen ? 1000000 : 500000,
    rope_scaling: qwen
      ? { type: 'linear', factor: 2.0 }
      : { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 16 },
    hidden_act: 'silu',
    tie_word_embeddings: qwen,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  put('model.embed_tokens.weight', [V, D], 0.5);
  for (let i = 0; i < L; i++) {
    const h = `model.layers.${i}.`;
    put(h + 'input_layernorm.weight', [D], 0.1, 1);
    put(h + 'self_attn.q_proj.weight', [H * E, D]);
    put(h + 'self_attn.k_proj.weight', [K * E, D]);
    put(h + 'self_attn.v_proj.weight', [K * E, D]);
    if (qwen) {
      put(h + 'self_attn.q_proj.bias', [H * E], 0.2);
      put(h + 'self_attn.k_proj.bias', [K * E], 0.2);
      put(h + 'self_attn.v_proj.bias', [K * E], 0.2);
    }
    put(h + 'self_attn.o_proj.weight', [D, H * E]);
    put(h + 'post_attention_layernorm.weight', [D], 0.1, 1);
    put(h + 'mlp.gate_proj.weight', [F, D]);
    put(h + 'mlp.up_proj.weight', [F, D]);
    put(h + 'mlp.down_proj.weight', [D, F]);
  }
  put('model.norm.weight', [D], 0.1, 1);
  if (!qwen) put('lm_head.weight', [V, D]);
  return { config, tensors: t };
}

/** Writes a complete tiny HF folder and returns its path. */
export function writeTinyHfFolder(kind: TinyKind, dir = tmpDir(`tiny-${kind}-`)): string {
  const { config, tensors } = tinyHf(kind);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeTinyTokenizer(dir);
  return dir;
}

export type Feed = Float32Array | BigInt64Array | Int32Array;

/** Runs ONNX bytes once on the CPU with onnxruntime (tests may use it directly; engine code goes through runtime/). */
export async function runOnnx(bytes: Uint8Array, feeds: Record<string, { data: Feed; dims: number[] }>): Promise<Record<string, { data: Float32Array | BigInt64Array; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const t: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      const type = v.data instanceof Float32Array ? 'float32' : v.data instanceof BigInt64Array ? 'int64' : 'int32';
      t[k] = new ort.Tensor(type, v.data, v.dims);
    }
    const out = await session.run(t);
    const r: Record<string, { data: Float32Array | BigInt64Array; dims: readonly number[] }> = {};
    for (const [k, v] of Object.entries(out)) r[k] = { data: v.data as Float32Array | BigInt64Array, dims: v.dims };
    return r;
  } finally {
    await session.release();
  }
}

/** int64 [B, T] from rows of numbers. */
export function i64Rows(rows: readonly (readonly number[])[]): { data: BigInt64Array; dims: number[] } {
  return { data: BigInt64Array.from(rows.flat(), (x) => BigInt(x)), dims: [rows.length, rows[0].length] };
}
