/**
 * Model configuration: one normalized description of a decoder-only transformer, parsed from (and written back
 * to) a Hugging Face `config.json`. Two families share it:
 *
 *   gpt2  : learned absolute positions, LayerNorm (with bias), fused-biased attention, GELU MLP, tied head.
 *   llama : RoPE, RMSNorm, SwiGLU MLP, grouped-query attention (num_key_value_heads), optional qkv bias (Qwen2),
 *           tied or untied head. Covers model_type llama (incl. SmolLM2), qwen2, qwen3 (per-head RMSNorm on q and
 *           k before RoPE), mistral (sliding-window attention) and gemma3_text (see GemmaSettings).
 */
import { UserError } from '../../util/errors';

/** The Hugging Face `model_type`s this engine can load. */
export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'qwen2', 'qwen3', 'mistral', 'gemma3_text'] as const;
export type HfModelType = (typeof SUPPORTED_MODEL_TYPES)[number];
export type ModelFamily = 'gpt2' | 'llama';

/** Activation functions, named as in Hugging Face's ACT2FN. */
export type Activation = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'gelu_fast' | 'silu' | 'relu';
const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'silu', 'relu'];

/** RoPE frequency scaling (transformers' `rope_scaling`). `null` = plain RoPE. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  | {
      type: 'yarn';
      factor: number;
      originalMaxPositionEmbeddings: number;
      betaFast: number;
      betaSlow: number;
      attentionFactor: number | null;
      mscale: number | null;
      mscaleAllDim: number | null;
      truncate: boolean;
    };

export interface ModelConfig {
  modelType: HfModelType;
  family: ModelFamily;
  vocabSize: number;
  /** d_model. */
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Key/value heads (GQA); equals numHeads for plain multi-head attention. */
  numKvHeads: number;
  headDim: number;
  /** MLP inner size. */
  intermediateSize: number;
  maxPositions: number;
  normEps: number;
  activation: Activation;
  /** Bias on the q, k, v projections (GPT-2, Qwen2, Llama with attention_bias). */
  qkvBias: boolean;
  /** Bias on the attention output projection (GPT-2, Llama with attention_bias). */
  oBias: boolean;
  /** Bias on the MLP projections (GPT-2, Llama with mlp_bias). */
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
  /** RoPE base (llama family). */
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** Fraction of each head's dimensions that RoPE rotates (1 for Llama/Qwen2). */
  partialRotaryFactor: number;
  /** RMSNorm over each head's dims of q and k (weights [E], eps normEps), after the projection and before RoPE (Qwen3). */
  qkNorm: boolean;
  /**
   * Sliding-window attention (Mistral): query i attends key j only when i - j < slidingWindow (sequence indices, as
   * transformers' sliding_window mask). null = full causal attention.
   */
  slidingWindow: number | null;
  /** Gemma 3's differences from the Llama family (model_type gemma3_text); null for every other type. */
  gemma: GemmaSettings | null;
  bosTokenId: number | null;
  /** One id or several (Llama 3 lists several). */
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  /** Number of outputs of a sequence-classification (reward) head, when the config declares one. */
  numLabels: number;
  /** The original config.json fields (kept so that saving preserves keys this engine does not use). */
  extra: Record<string, unknown>;
}

/**
 * Gemma 3 text models (Gemma Team 2025, "Gemma 3 Technical Report"; transformers' modeling_gemma3.py):
 *   - embeddings are multiplied by sqrt(hidden_size);
 *   - every RMSNorm (block, final, q/k) scales by (1 + w), so its weights are stored as offsets from 1;
 *   - each block norms the attention and MLP outputs too ("sandwich" norms):
 *       x = x + PostAttnNorm(Attn(InputNorm(x)));  x = x + PostFfnNorm(MLP(PreFfnNorm(x)));
 *   - attention scores scale by query_pre_attn_scalar^-1/2;
 *   - local layers use a sliding window (ModelConfig.slidingWindow) and their own RoPE; global layers attend
 *     every causal key with the config's main RoPE (ModelConfig.ropeTheta / ropeScaling).
 */
export interface GemmaSettings {
  queryPreAttnScalar: number;
  /** Per layer: true = local (sliding-window) attention, false = global. */
  slidingLayers: boolean[];
  /** RoPE of the local layers: rope_local_base_freq (v4) or rope_parameters.sliding_attention (v5). */
  localRopeTheta: number;
  localRopeScaling: RopeScaling | null;
}

export class ModelConfigError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

type Json = Record<string, unknown>;

function reader(json: Json, source: string) {
  const fail = (key: string, want: string): never => {
    throw new ModelConfigError(`${source}: field "${key}" must be ${want}, got ${JSON.stringify(json[key])}`);
  };
  const int = (key: string, def?: number): number => {
    const v = json[key];
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      throw new ModelConfigError(`${source}: missing required field "${key}"`);
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(key, 'a positive integer');
    return v as number;
  };
  const num = (key: string, def: number): number => {
    const v = json[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(key, 'a number');
    return v as number;
  };
  const bool = (key: string, def: boolean): boolean => {
    const v = json[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') fail(key, 'true or false');
    return v as boolean;
  };
  const optId = (key: string): number | null => {
    const v = json[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(key, 'a token id');
    return v as number;
  };
  return { int, num, bool, optId, fail };
}

/** Typed field readers over one config.json object; each error names the source and the field. */
type Reader = ReturnType<typeof reader>;

/**
 * Every key a RoPE dict may hold (transformers' `RopeParameters`, plus YaRN's mscale / mscale_all_dim / truncate).
 * A key outside this list is an error: this engine cannot tell whether it changes the math. A listed key that
 * the dict's rope type does not use is ignored, as transformers ignores it.
 */
const ROPE_KEYS: readonly string[] = [
  'rope_type',
  'type',
  'rope_theta',
  'partial_rotary_factor',
  'factor',
  'original_max_position_embeddings',
  'attention_factor',
  'beta_fast',
  'beta_slow',
  'short_factor',
  'long_factor',
  'low_freq_factor',
  'high_freq_factor',
  'mscale',
  'mscale_all_dim',
  'truncate',
];

/** The scaling described by one RoPE dict (`rope_scaling`, or v5's `rope_parameters`); `where` names it in errors. */
function parseRopeDict(r: Json, where: string, maxPositions: number): RopeScaling | null {
  const unknown = Object.keys(r).filter((k) => !ROPE_KEYS.includes(k));
  if (unknown.length) throw new ModelConfigError(`${where}: unknown RoPE key(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${ROPE_KEYS.join(', ')})`);
  const type = r.rope_type ?? r.type ?? 'default';
  const numField = (k: string, def?: number): number => {
    const v = r[k];
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      throw new ModelConfigError(`${where}: missing "${k}" for rope_type "${String(type)}"`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelConfigError(`${where}: "${k}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const optNum = (k: string): number | null => (r[k] === undefined || r[k] === null ? null : numField(k));
  switch (type) {
    case 'default':
      return null;
    case 'linear':
      return { type: 'linear', factor: numField('factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: numField('factor'),
        lowFreqFactor: numField('low_freq_factor'),
        highFreqFactor: numField('high_freq_factor'),
        originalMaxPositionEmbeddings: numField('original_max_position_embeddings'),
      };
    case 'yarn':
      return {
        type: 'yarn',
        factor: numField('factor'),
        originalMaxPositionEmbeddings: numField('original_max_position_embeddings', maxPositions),
        betaFast: numField('beta_fast', 32),
        betaSlow: numField('beta_slow', 1),
        attentionFactor: optNum('attention_factor'),
        mscale: optNum('mscale'),
        mscaleAllDim: optNum('mscale_all_dim'),
        truncate: r.truncate === undefined ? true : r.truncate === true,
      };
    default:
      throw new ModelConfigError(
        `${where}: rope type ${JSON.stringify(type)} is not supported (supported: default, linear, llama3, yarn; ` +
          `"dynamic" NTK scaling changes with sequence length and "longrope" with it too, neither is implemented)`,
      );
  }
}

/** RoPE as a config describes it: base, frequency scaling, and the fraction of each head's dims rotated. */
interface RopeSettings {
  theta: number;
  scaling: RopeScaling | null;
  partial: number;
}

/** The layer-type names transformers v5 keys per-layer-type RoPE dicts by (hybrid models such as Gemma 3). */
const LAYER_TYPES = ['full_attention', 'sliding_attention', 'chunked_attention', 'linear_attention'];

/**
 * transformers v5's `rope_parameters`: one flat dict, or one dict per layer type. A per-layer-type dict with only
 * `full_attention` (every layer the same) is that dict; different RoPE per layer type is an error.
 */
function ropeParametersOf(j: Json, source: string): Json | null {
  const raw = j.rope_parameters;
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ModelConfigError(`${source}: "rope_parameters" must be an object or null`);
  const keys = Object.keys(raw);
  if (keys.length === 0 || !keys.every((k) => LAYER_TYPES.includes(k))) return raw as Json;
  const full = (raw as Json).full_attention;
  if (keys.length === 1 && typeof full === 'object' && full !== null && !Array.isArray(full)) return full as Json;
  throw new ModelConfigError(`${source}: "rope_parameters" gives RoPE per layer type (${keys.join(', ')}); different RoPE per layer type is not supported`);
}

/**
 * RoPE settings from the legacy fields (`rope_theta`, `rope_scaling`, `partial_rotary_factor`; transformers v4)
 * and from `rope_parameters` (transformers v5 saves them there). Where both forms give a value they must agree:
 * a disagreement is an error, never a silent pick.
 */
function parseRope(j: Json, r: Reader, source: string, maxPositions: number): RopeSettings {
  const rawScaling = j.rope_scaling;
  if (rawScaling !== undefined && rawScaling !== null && (typeof rawScaling !== 'object' || Array.isArray(rawScaling))) {
    throw new ModelConfigError(`${source}: "rope_scaling" must be an object or null`);
  }
  const legacyScaling = rawScaling ? parseRopeDict(rawScaling as Json, `${source}: rope_scaling`, maxPositions) : undefined;
  const legacyTheta = j.rope_theta === undefined || j.rope_theta === null ? undefined : r.num('rope_theta', 10000);
  const legacyPartial = j.partial_rotary_factor === undefined || j.partial_rotary_factor === null ? undefined : r.num('partial_rotary_factor', 1);
  const params = ropeParametersOf(j, source);
  if (!params) return { theta: legacyTheta ?? 10000, scaling: legacyScaling ?? null, partial: legacyPartial ?? 1 };
  const where = `${source}: rope_parameters`;
  const scaling = parseRopeDict(params, where, maxPositions);
  const inParams = (k: string): number | undefined => {
    const v = params[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelConfigError(`${where}: "${k}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const theta = inParams('rope_theta');
  const partial = inParams('partial_rotary_factor');
  const clash = (what: string, a: unknown, b: unknown): void => {
    if (a !== undefined && b !== undefined && JSON.stringify(a) !== JSON.stringify(b)) {
      throw new ModelConfigError(`${source}: ${what} says ${JSON.stringify(a)} but rope_parameters says ${JSON.stringify(b)}; they must agree`);
    }
  };
  clash('rope_theta', legacyTheta, theta);
  clash('partial_rotary_factor', legacyPartial, partial);
  clash('rope_scaling', legacyScaling, scaling);
  return { theta: theta ?? legacyTheta ?? 10000, scaling, partial: partial ?? legacyPartial ?? 1 };
}

/**
 * Config fields that change the math in ways this engine does not compute. Each is an error unless absent or
 * null (or, for `use_qk_norm`, false; for `no_rope_layers`, all 1 = every layer uses RoPE). Together with the
 * per-family checks (GPT-2's attention scaling flags, Qwen2's use_sliding_window, `layer_types`, the RoPE keys
 * and types) this is the list of fields checked rather than ignored.
 */
const UNSUPPORTED_FIELDS: readonly { key: string; neutral?: (v: unknown) => boolean; what: string }[] = [
  { key: 'quantization_config', what: 'quantized weights (GPTQ, AWQ, bitsandbytes, ...) are not supported: use the unquantized model' },
  { key: 'attn_logit_softcapping', what: 'this engine has no attention logit soft-capping' },
  { key: 'final_logit_softcapping', what: 'this engine has no final logit soft-capping' },
  { key: 'attention_chunk_size', what: 'this engine has no chunked attention' },
  { key: 'use_qk_norm', neutral: (v) => v === false, what: 'this engine has no query/key norms for this model type' },
  { key: 'no_rope_layers', neutral: (v) => Array.isArray(v) && v.every((x) => x === 1), what: 'this engine applies RoPE in every layer' },
  { key: 'embedding_multiplier', what: 'this engine has no embedding multiplier' },
  { key: 'residual_multiplier', what: 'this engine has no residual multiplier' },
  { key: 'attention_multiplier', what: 'this engine has no attention multiplier' },
  { key: 'logits_scaling', what: 'this engine has no logit scaling' },
  { key: 'use_bidirectional_attention', neutral: (v) => v === false, what: 'this engine computes causal attention only' },
];

/** Throws on the first field of UNSUPPORTED_FIELDS that is set, and on `layer_types` other than full attention. */
function checkUnsupportedFields(j: Json, source: string): void {
  const gemma = j.model_type === 'gemma3_text';
  for (const f of UNSUPPORTED_FIELDS) {
    const v = j[f.key];
    if (v === undefined || v === null || (f.neutral && f.neutral(v))) continue;
    throw new ModelConfigError(`${source}: "${f.key}": ${JSON.stringify(v)} is set, but ${f.what}; the model is refused rather than run with different math`);
  }
  const lt = j.layer_types;
  if (!gemma && lt !== undefined && lt !== null && !(Array.isArray(lt) && lt.every((t) => t === 'full_attention'))) {
    throw new ModelConfigError(`${source}: "layer_types" ${JSON.stringify(lt)}: only full attention in every layer is supported`);
  }
}

/** The model type of a config.json object, or an error that lists the supported ones. */
function checkModelType(json: unknown, source: string): { j: Json; modelType: HfModelType } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ModelConfigError(`${source}: expected a JSON object`);
  const j = json as Json;
  const mt = j.model_type;
  if (typeof mt !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(mt)) {
    throw new ModelConfigError(
      `${source}: model_type ${JSON.stringify(mt)} is not supported; supported model types: ${SUPPORTED_MODEL_TYPES.join(', ')} ` +
        `(SmolLM2 and other Llama-architecture models use "llama")`,
    );
  }
  return { j, modelType: mt as HfModelType };
}

/** The fields both families read the same way. */
interface CommonFields {
  eosTokenId: number | number[] | null;
  numLabels: number;
}

/** eos_token_id (one id or a list) and the number of classifier labels (num_labels, else id2label's size, else 1). */
function parseCommon(j: Json, r: Reader): CommonFields {
  const eos = j.eos_token_id;
  let eosTokenId: number | number[] | null = null;
  if (typeof eos === 'number' && Number.isSafeInteger(eos)) eosTokenId = eos;
  else if (Array.isArray(eos) && eos.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) eosTokenId = eos as number[];
  else if (eos !== undefined && eos !== null) r.fail('eos_token_id', 'a token id or a list of token ids');
  const numLabels = j.num_labels !== undefined ? r.int('num_labels') : j.id2label && typeof j.id2label === 'object' ? Object.keys(j.id2label as Json).length : 1;
  return { eosTokenId, numLabels };
}

/** The activation named by `key` (default `def`), checked against the supported ones. */
function parseActivation(j: Json, key: 'activation_function' | 'hidden_act' | 'hidden_activation', def: Activation, source: string): Activation {
  const act = (j[key] ?? def) as string;
  if (!ACTIVATIONS.includes(act as Activation)) {
    throw new ModelConfigError(`${source}: ${key} "${act}" is not supported (supported: ${ACTIVATIONS.join(', ')})`);
  }
  return act as Activation;
}

/** A GPT-2 config (GPT2Config's keys and defaults). */
function parseGpt2Config(j: Json, r: Reader, source: string, common: CommonFields): ModelConfig {
  const hidden = r.int('n_embd');
  const heads = r.int('n_head');
  if (hidden % heads !== 0) throw new ModelConfigError(`${source}: n_embd ${hidden} is not divisible by n_head ${heads}`);
  const activation = parseActivation(j, 'activation_function', 'gelu_new', source);
  for (const k of ['scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn'] as const) {
    if (j[k] === true) throw new ModelConfigError(`${source}: "${k}": true is not supported`);
  }
  if (j.scale_attn_weights === false) throw new ModelConfigError(`${source}: "scale_attn_weights": false is not supported`);
  return {
    modelType: 'gpt2',
    family: 'gpt2',
    vocabSize: r.int('vocab_size'),
    hiddenSize: hidden,
    numLayers: r.int('n_layer'),
    numHeads: heads,
    numKvHeads: heads,
    headDim: hidden / heads,
    intermediateSize: r.int('n_inner', 4 * hidden),
    maxPositions: r.int('n_positions', r.int('n_ctx', 1024)),
    normEps: r.num('layer_norm_epsilon', 1e-5),
    activation,
    qkvBias: true,
    oBias: true,
    mlpBias: true,
    tieWordEmbeddings: r.bool('tie_word_embeddings', true),
    ropeTheta: 10000,
    ropeScaling: null,
    partialRotaryFactor: 1,
    qkNorm: false,
    slidingWindow: null,
    gemma: null,
    bosTokenId: r.optId('bos_token_id'),
    eosTokenId: common.eosTokenId,
    padTokenId: r.optId('pad_token_id'),
    numLabels: common.numLabels,
    extra: { ...j },
  };
}

/** Attention shape of a Llama-family config: hidden size, query and key/value heads, head dim. */
function parseLlamaAttention(j: Json, r: Reader, source: string, modelType: HfModelType): { hidden: number; heads: number; kvHeads: number; headDim: number } {
  const hidden = r.int('hidden_size');
  const heads = r.int('num_attention_heads');
  const kvHeads = r.int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) {
    throw new ModelConfigError(`${source}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  }
  // Qwen3Config defaults head_dim to 128, Gemma3TextConfig to 256; the others to hidden_size / num_attention_heads.
  const defHeadDim = modelType === 'qwen3' ? 128 : modelType === 'gemma3_text' ? 256 : hidden / heads;
  const headDim = j.head_dim !== undefined && j.head_dim !== null ? r.int('head_dim') : defHeadDim;
  if (!Number.isInteger(headDim)) throw new ModelConfigError(`${source}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  return { hidden, heads, kvHeads, headDim };
}

/** transformers' defaults for max_position_embeddings, by model type (LlamaConfig, Qwen2Config, Qwen3Config, MistralConfig). */
const DEFAULT_MAX_POSITIONS: Readonly<Record<Exclude<HfModelType, 'gpt2'>, number>> = { llama: 2048, qwen2: 32768, qwen3: 32768, mistral: 131072, gemma3_text: 131072 };

/**
 * Biases, q/k norms and sliding window by model type, as transformers' modeling files hard-code them: Llama has
 * biases only with attention_bias / mlp_bias; Qwen2 always q/k/v biases and nothing else; Qwen3 q/k/v/o biases
 * with attention_bias and q/k norms; Mistral no biases and an optional sliding window.
 */
function parseLlamaVariant(j: Json, r: Reader, source: string, modelType: Exclude<HfModelType, 'gpt2'>) {
  if ((modelType === 'qwen2' || modelType === 'qwen3') && j.use_sliding_window === true) {
    throw new ModelConfigError(`${source}: "use_sliding_window": true is not supported for ${modelType} (its sliding window applies to some layers only)`);
  }
  const attentionBias = modelType === 'llama' || modelType === 'qwen3' || modelType === 'gemma3_text' ? r.bool('attention_bias', false) : false;
  const windowed = modelType === 'mistral' || modelType === 'gemma3_text';
  // Gemma3TextConfig defaults sliding_window to 4096; MistralConfig's default is not applied (configs state it).
  const slidingWindow = windowed && j.sliding_window !== undefined && j.sliding_window !== null ? r.int('sliding_window') : modelType === 'gemma3_text' ? 4096 : null;
  return {
    qkvBias: modelType === 'qwen2' || attentionBias,
    oBias: attentionBias,
    mlpBias: modelType === 'llama' ? r.bool('mlp_bias', false) : false,
    qkNorm: modelType === 'qwen3' || modelType === 'gemma3_text',
    slidingWindow,
  };
}

/**
 * Gemma 3's settings and its two RoPEs. Layer types come from `layer_types`, else from sliding_window_pattern
 * (every pattern-th layer global, the others local, as Gemma3TextConfig derives them). RoPE: v5's
 * rope_parameters per layer type, or v4's rope_theta / rope_scaling (global) and rope_local_base_freq (local, no
 * scaling).
 */
function parseGemma(j: Json, r: Reader, source: string, numLayers: number, maxPositions: number): { settings: GemmaSettings; global: RopeSettings } {
  const lt = j.layer_types;
  let slidingLayers: boolean[];
  if (lt === undefined || lt === null) {
    const pattern = r.int('sliding_window_pattern', 6);
    slidingLayers = Array.from({ length: numLayers }, (_, i) => (i + 1) % pattern !== 0);
  } else {
    if (!Array.isArray(lt) || lt.length !== numLayers || !lt.every((t) => t === 'sliding_attention' || t === 'full_attention')) {
      throw new ModelConfigError(`${source}: "layer_types" must list "sliding_attention" or "full_attention" for each of the ${numLayers} layers, got ${JSON.stringify(lt)}`);
    }
    slidingLayers = lt.map((t) => t === 'sliding_attention');
  }
  const rp = j.rope_parameters;
  const perType = typeof rp === 'object' && rp !== null && !Array.isArray(rp) && Object.keys(rp).some((k) => LAYER_TYPES.includes(k));
  let global: RopeSettings;
  let local: { theta: number; scaling: RopeScaling | null };
  if (perType) {
    const byType = rp as Json;
    const one = (k: string, def: number): { theta: number; scaling: RopeScaling | null } => {
      const d = byType[k];
      if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new ModelConfigError(`${source}: rope_parameters.${k} must be an object`);
      const theta = (d as Json).rope_theta ?? def;
      if (typeof theta !== 'number' || !Number.isFinite(theta)) throw new ModelConfigError(`${source}: rope_parameters.${k}.rope_theta must be a number`);
      return { theta, scaling: parseRopeDict(d as Json, `${source}: rope_parameters.${k}`, maxPositions) };
    };
    const g = one('full_attention', 1e6);
    global = { ...g, partial: 1 };
    local = one('sliding_attention', 10000);
  } else {
    global = parseRope({ ...j, rope_theta: j.rope_theta ?? 1e6 }, r, source, maxPositions);
    local = { theta: r.num('rope_local_base_freq', 10000), scaling: null };
  }
  const settings: GemmaSettings = { queryPreAttnScalar: r.num('query_pre_attn_scalar', 256), slidingLayers, localRopeTheta: local.theta, localRopeScaling: local.scaling };
  return { settings, global };
}

/** A Llama-family config (llama, qwen2, qwen3, mistral: transformers' config classes' keys and defaults). */
function parseLlamaConfig(j: Json, r: Reader, source: string, modelType: Exclude<HfModelType, 'gpt2'>, common: CommonFields): ModelConfig {
  const { hidden, heads, kvHeads, headDim } = parseLlamaAttention(j, r, source, modelType);
  const gemmaType = modelType === 'gemma3_text';
  const activation = gemmaType ? parseActivation(j, 'hidden_activation', 'gelu_pytorch_tanh', source) : parseActivation(j, 'hidden_act', 'silu', source);
  const maxPositions = r.int('max_position_embeddings', DEFAULT_MAX_POSITIONS[modelType]);
  const numLayers = r.int('num_hidden_layers');
  const gemma = gemmaType ? parseGemma(j, r, source, numLayers, maxPositions) : null;
  const rope = gemma ? gemma.global : parseRope(j, r, source, maxPositions);
  const partial = rope.partial;
  const rotDim = Math.floor(headDim * partial);
  if (partial <= 0 || partial > 1 || rotDim % 2 !== 0) {
    throw new ModelConfigError(`${source}: partial_rotary_factor ${partial} must be in (0, 1] and give an even rotary dimension (head_dim ${headDim})`);
  }
  return {
    modelType,
    family: 'llama',
    vocabSize: r.int('vocab_size'),
    hiddenSize: hidden,
    numLayers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: r.int('intermediate_size'),
    maxPositions,
    normEps: r.num('rms_norm_eps', 1e-6),
    activation,
    ...parseLlamaVariant(j, r, source, modelType),
    gemma: gemma ? gemma.settings : null,
    // Gemma3TextConfig defaults to tied embeddings, the others to untied.
    tieWordEmbeddings: r.bool('tie_word_embeddings', gemmaType),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    partialRotaryFactor: partial,
    bosTokenId: r.optId('bos_token_id'),
    eosTokenId: common.eosTokenId,
    padTokenId: r.optId('pad_token_id'),
    numLabels: common.numLabels,
    extra: { ...j },
  };
}

/**
 * Parses a Hugging Face config.json object. `source` (usually the file path) is named in every error.
 * Unsupported model types give an error naming the type and listing the supported ones.
 */
export function parseHfConfig(json: unknown, source = 'config.json'): ModelConfig {
  const { j, modelType } = checkModelType(json, source);
  const r = reader(j, source);
  const common = parseCommon(j, r);
  checkUnsupportedFields(j, source);
  return modelType === 'gpt2' ? parseGpt2Config(j, r, source, common) : parseLlamaConfig(j, r, source, modelType, common);
}

function ropeScalingToHf(s: RopeScaling | null): Json | null {
  if (!s) return null;
  switch (s.type) {
    case 'linear':
      return { rope_type: 'linear', factor: s.factor };
    case 'llama3':
      return {
        rope_type: 'llama3',
        factor: s.factor,
        low_freq_factor: s.lowFreqFactor,
        high_freq_factor: s.highFreqFactor,
        original_max_position_embeddings: s.originalMaxPositionEmbeddings,
      };
    case 'yarn': {
      const o: Json = {
        rope_type: 'yarn',
        factor: s.factor,
        original_max_position_embeddings: s.originalMaxPositionEmbeddings,
        beta_fast: s.betaFast,
        beta_slow: s.betaSlow,
      };
      if (s.attentionFactor !== null) o.attention_factor = s.attentionFactor;
      if (s.mscale !== null) o.mscale = s.mscale;
      if (s.mscaleAllDim !== null) o.mscale_all_dim = s.mscaleAllDim;
      if (!s.truncate) o.truncate = false;
      return o;
    }
  }
}

const ARCHITECTURES: Record<HfModelType, { causal: string; seqCls: string }> = {
  gpt2: { causal: 'GPT2LMHeadModel', seqCls: 'GPT2ForSequenceClassification' },
  llama: { causal: 'LlamaForCausalLM', seqCls: 'LlamaForSequenceClassification' },
  qwen2: { causal: 'Qwen2ForCausalLM', seqCls: 'Qwen2ForSequenceClassification' },
  qwen3: { causal: 'Qwen3ForCausalLM', seqCls: 'Qwen3ForSequenceClassification' },
  mistral: { causal: 'MistralForCausalLM', seqCls: 'MistralForSequenceClassification' },
  gemma3_text: { causal: 'Gemma3ForCausalLM', seqCls: 'Gemma3TextForSequenceClassification' },
};

/**
 * The config.json object for `cfg`, with transformers' exact keys. Fields of the original config that this
 * engine does not interpret are kept. `head` picks the `architectures` entry.
 */
export function toHfConfig(cfg: ModelConfig, head: 'causal' | 'sequence-classification' = 'causal'): Json {
  const out: Json = { ...cfg.extra };
  out.architectures = [head === 'causal' ? ARCHITECTURES[cfg.modelType].causal : ARCHITECTURES[cfg.modelType].seqCls];
  out.model_type = cfg.modelType;
  out.vocab_size = cfg.vocabSize;
  out.bos_token_id = cfg.bosTokenId;
  out.eos_token_id = cfg.eosTokenId;
  // transformers' *ForSequenceClassification refuses batches of more than one row without a pad_token_id (it
  // pools the last non-pad token), so a classifier without one gets the first eos id, as TRL's reward script sets.
  const eos = Array.isArray(cfg.eosTokenId) ? (cfg.eosTokenId[0] ?? null) : cfg.eosTokenId;
  const pad = cfg.padTokenId ?? (head === 'sequence-classification' ? eos : null);
  if (pad !== null) out.pad_token_id = pad;
  out.tie_word_embeddings = cfg.tieWordEmbeddings;
  out.torch_dtype = 'float32';
  if (head === 'sequence-classification' || cfg.numLabels !== 1) {
    out.num_labels = cfg.numLabels;
    const id2label: Record<string, string> = {};
    const label2id: Record<string, number> = {};
    for (let i = 0; i < cfg.numLabels; i++) {
      id2label[String(i)] = `LABEL_${i}`;
      label2id[`LABEL_${i}`] = i;
    }
    out.id2label = id2label;
    out.label2id = label2id;
  }
  if (cfg.family === 'gpt2') {
    Object.assign(out, {
      n_embd: cfg.hiddenSize,
      n_layer: cfg.numLayers,
      n_head: cfg.numHeads,
      n_inner: cfg.intermediateSize === 4 * cfg.hiddenSize ? null : cfg.intermediateSize,
      n_positions: cfg.maxPositions,
      n_ctx: cfg.maxPositions,
      layer_norm_epsilon: cfg.normEps,
      activation_function: cfg.activation,
      resid_pdrop: out.resid_pdrop ?? 0.0,
      embd_pdrop: out.embd_pdrop ?? 0.0,
      attn_pdrop: out.attn_pdrop ?? 0.0,
      scale_attn_weights: true,
    });
    return out;
  }
  Object.assign(out, {
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    max_position_embeddings: cfg.maxPositions,
    rms_norm_eps: cfg.normEps,
    hidden_act: cfg.activation,
    rope_theta: cfg.ropeTheta,
    rope_scaling: ropeScalingToHf(cfg.ropeScaling),
    attention_dropout: out.attention_dropout ?? 0.0,
  });
  if (cfg.headDim !== cfg.hiddenSize / cfg.numHeads || out.head_dim !== undefined || cfg.modelType === 'qwen3') out.head_dim = cfg.headDim;
  if (cfg.partialRotaryFactor !== 1) out.partial_rotary_factor = cfg.partialRotaryFactor;
  // transformers v5 reads rope_parameters (when rope_scaling is null): a config that came with it keeps it in step.
  if (out.rope_parameters !== undefined && out.rope_parameters !== null) {
    out.rope_parameters = { rope_type: 'default', rope_theta: cfg.ropeTheta, ...ropeScalingToHf(cfg.ropeScaling) };
    if (cfg.partialRotaryFactor !== 1) (out.rope_parameters as Json).partial_rotary_factor = cfg.partialRotaryFactor;
  }
  variantToHf(cfg, out);
  return out;
}

/**
 * The keys that say which biases, norms and attention window a Llama-family model type has; throws when `cfg`
 * asks for a combination its model type cannot express (see parseLlamaVariant).
 */
function variantToHf(cfg: ModelConfig, out: Json): void {
  const t = cfg.modelType;
  const fail = (what: string): never => {
    throw new ModelConfigError(`${t} config: ${what}`);
  };
  const normed = t === 'qwen3' || t === 'gemma3_text';
  if (cfg.qkNorm !== normed) fail(cfg.qkNorm ? 'q/k norms exist only in qwen3 and gemma3_text' : 'this model type always has q/k norms');
  if (cfg.slidingWindow !== null && t !== 'mistral' && t !== 'gemma3_text') fail('a sliding window is only written for mistral and gemma3_text');
  if ((cfg.gemma !== null) !== (t === 'gemma3_text')) fail('Gemma settings go with model_type gemma3_text only');
  if (t === 'llama' || t === 'qwen3' || t === 'gemma3_text') {
    if (cfg.qkvBias !== cfg.oBias) fail('attention_bias covers q, k, v and o together; qkvBias and oBias must match');
    out.attention_bias = cfg.qkvBias;
  }
  if (t === 'llama') out.mlp_bias = cfg.mlpBias;
  else if (cfg.mlpBias) fail('no MLP biases');
  if (t === 'qwen2' && (!cfg.qkvBias || cfg.oBias)) fail('needs q/k/v biases and no o_proj bias');
  if (t === 'mistral' && (cfg.qkvBias || cfg.oBias)) fail('no attention biases');
  if (t === 'qwen2' || t === 'qwen3') out.use_sliding_window = false;
  if (t === 'mistral') out.sliding_window = cfg.slidingWindow;
  if (cfg.gemma) gemmaToHf(cfg, cfg.gemma, out);
}

/** Gemma3TextConfig's keys for `g` (the v4 RoPE keys; v5's per-layer-type rope_parameters when the config had them). */
function gemmaToHf(cfg: ModelConfig, g: GemmaSettings, out: Json): void {
  if (g.localRopeScaling !== null && out.rope_parameters === undefined) {
    throw new ModelConfigError('gemma3_text config: scaled local RoPE can only be written as rope_parameters');
  }
  out.hidden_activation = cfg.activation;
  delete out.hidden_act;
  out.query_pre_attn_scalar = g.queryPreAttnScalar;
  out.sliding_window = cfg.slidingWindow;
  out.layer_types = g.slidingLayers.map((s) => (s ? 'sliding_attention' : 'full_attention'));
  out.rope_local_base_freq = g.localRopeTheta;
  if (out.rope_parameters !== undefined && out.rope_parameters !== null) {
    out.rope_parameters = {
      full_attention: { rope_type: 'default', rope_theta: cfg.ropeTheta, ...ropeScalingToHf(cfg.ropeScaling) },
      sliding_attention: { rope_type: 'default', rope_theta: g.localRopeTheta, ...ropeScalingToHf(g.localRopeScaling) },
    };
  }
}

/** Total number of parameters of the transformer body + LM head (no reward/value head). */
export function countParameters(cfg: ModelConfig): number {
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const f = cfg.intermediateSize;
  let perLayer = d * qDim + 2 * d * kvDim + qDim * d + (cfg.qkNorm ? 2 * cfg.headDim : 0) + (cfg.gemma ? 2 * d : 0);
  if (cfg.qkvBias) perLayer += qDim + 2 * kvDim;
  if (cfg.oBias) perLayer += d;
  if (cfg.family === 'gpt2') {
    perLayer += 2 * d * f + (cfg.mlpBias ? f + d : 0) + 4 * d; // two LayerNorms with bias
  } else {
    perLayer += 3 * d * f + (cfg.mlpBias ? 2 * f + d : 0) + 2 * d;
  }
  let total = cfg.numLayers * perLayer + cfg.vocabSize * d + (cfg.family === 'gpt2' ? cfg.maxPositions * d + 2 * d : d);
  if (!cfg.tieWordEmbeddings) total += cfg.vocabSize * d;
  return total;
}

/**
 * RoPE inverse frequencies for the rotated half-dimensions, after `rope_scaling`, and the attention scaling
 * that multiplies cos/sin (1 except for YaRN). Follows transformers' `ROPE_INIT_FUNCTIONS`:
 *   default: inv_freq[i] = theta^(-2i/dim), i = 0..dim/2-1, dim = head_dim * partial_rotary_factor
 *   linear : inv_freq / factor (positions interpolated by `factor`)
 *   llama3 : low-frequency bands (wavelength > orig_ctx / low_freq_factor) divided by factor, high-frequency
 *            bands (wavelength < orig_ctx / high_freq_factor) kept, a linear blend in between (Llama 3.1 report)
 *   yarn   : per-band blend of interpolated and extrapolated frequencies with a linear ramp between the
 *            correction dims for beta_fast / beta_slow rotations, and attention scaling 0.1 ln(factor) + 1
 *            (Peng et al. 2023, "YaRN", eq. 17-21)
 */
export function ropeFrequencies(cfg: ModelConfig): { invFreq: Float64Array; attentionScaling: number } {
  const dim = Math.floor(cfg.headDim * cfg.partialRotaryFactor);
  const half = dim / 2;
  const base = cfg.ropeTheta;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(base, (2 * i) / dim);
  const s = cfg.ropeScaling;
  if (!s) return { invFreq: inv, attentionScaling: 1 };
  if (s.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] /= s.factor;
    return { invFreq: inv, attentionScaling: 1 };
  }
  if (s.type === 'llama3') {
    const lowWave = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    const highWave = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wave = (2 * Math.PI) / inv[i];
      if (wave > lowWave) inv[i] = inv[i] / s.factor;
      else if (wave >= highWave) {
        const smooth = (s.originalMaxPositionEmbeddings / wave - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
    }
    return { invFreq: inv, attentionScaling: 1 };
  }
  // yarn
  const getMscale = (scale: number, m = 1): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
  let attentionScaling = s.attentionFactor;
  if (attentionScaling === null) {
    attentionScaling = s.mscale !== null && s.mscaleAllDim !== null ? getMscale(s.factor, s.mscale) / getMscale(s.factor, s.mscaleAllDim) : getMscale(s.factor);
  }
  const corrDim = (rot: number): number => (dim * Math.log(s.originalMaxPositionEmbeddings / (rot * 2 * Math.PI))) / (2 * Math.log(base));
  let low = corrDim(s.betaFast);
  let high = corrDim(s.betaSlow);
  if (s.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  for (let i = 0; i < half; i++) {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extrapolationFactor = 1 - ramp;
    const extrap = inv[i];
    const interp = inv[i] / s.factor;
    inv[i] = interp * (1 - extrapolationFactor) + extrap * extrapolationFactor;
  }
  return { invFreq: inv, attentionScaling };
}
