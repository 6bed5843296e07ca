/**
 * Hugging Face <-> engine weight names and layouts, and loading/saving whole HF-format model folders
 * (config.json + model.safetensors [or sharded] + tokenizer files) that `transformers` loads unchanged.
 *
 * HF layouts: torch.nn.Linear weight is [out, in] (ours: [in, out], so transpose); GPT-2's Conv1D is already
 * [in, out] but fuses q, k, v into c_attn [D, 3D] (split on the last axis). Everything else copies.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSafetensorsFolder, SafeTensor, SAFETENSORS_INDEX_FILE, SAFETENSORS_SINGLE_FILE, writeFileAtomic, writeSafetensorsSharded } from '../io/safetensors';
import { ModelConfig, ModelConfigError, parseHfConfig, toHfConfig } from './config';
import { HeadKind, initWeights, ParamTensor, paramSpecs, Weights } from './params';
import { UserError } from '../../util/errors';

/** How one HF tensor relates to one or more of ours. */
interface Mapping {
  hf: string;
  hfShape: number[];
  ours: string[];
  /** 'copy': same layout; 'transpose': 2-D transpose; 'split': HF tensor = concat of ours on the last axis. */
  kind: 'copy' | 'transpose' | 'split';
}

export class WeightMappingError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'WeightMappingError';
  }
}

/** Every HF tensor name of `cfg` + `head`, with the tensors of ours it fills. */
export function hfMappings(cfg: ModelConfig, head: HeadKind = 'lm'): Mapping[] {
  const specs = new Map(paramSpecs(cfg, head).map((s) => [s.name, s.shape]));
  const shapeOf = (n: string): number[] => {
    const s = specs.get(n);
    if (!s) throw new Error(`internal: no parameter ${n}`);
    return s;
  };
  const out: Mapping[] = [];
  const copy = (hf: string, ours: string): void => {
    if (specs.has(ours)) out.push({ hf, hfShape: shapeOf(ours), ours: [ours], kind: 'copy' });
  };
  const lin = (hf: string, ours: string): void => {
    if (!specs.has(ours)) return;
    const [i, o] = shapeOf(ours);
    out.push({ hf, hfShape: [o, i], ours: [ours], kind: 'transpose' });
  };
  if (cfg.family === 'gpt2') {
    const t = 'transformer.';
    copy(t + 'wte.weight', 'embed.weight');
    copy(t + 'wpe.weight', 'pos_embed.weight');
    for (let i = 0; i < cfg.numLayers; i++) {
      const h = `${t}h.${i}.`;
      const o = `layers.${i}.`;
      copy(h + 'ln_1.weight', o + 'norm1.weight');
      copy(h + 'ln_1.bias', o + 'norm1.bias');
      const D = cfg.hiddenSize;
      out.push({ hf: h + 'attn.c_attn.weight', hfShape: [D, 3 * D], ours: [o + 'attn.q.weight', o + 'attn.k.weight', o + 'attn.v.weight'], kind: 'split' });
      out.push({ hf: h + 'attn.c_attn.bias', hfShape: [3 * D], ours: [o + 'attn.q.bias', o + 'attn.k.bias', o + 'attn.v.bias'], kind: 'split' });
      copy(h + 'attn.c_proj.weight', o + 'attn.o.weight');
      copy(h + 'attn.c_proj.bias', o + 'attn.o.bias');
      copy(h + 'ln_2.weight', o + 'norm2.weight');
      copy(h + 'ln_2.bias', o + 'norm2.bias');
      copy(h + 'mlp.c_fc.weight', o + 'mlp.fc.weight');
      copy(h + 'mlp.c_fc.bias', o + 'mlp.fc.bias');
      copy(h + 'mlp.c_proj.weight', o + 'mlp.proj.weight');
      copy(h + 'mlp.c_proj.bias', o + 'mlp.proj.bias');
    }
    copy(t + 'ln_f.weight', 'norm_f.weight');
    copy(t + 'ln_f.bias', 'norm_f.bias');
  } else {
    const m = 'model.';
    copy(m + 'embed_tokens.weight', 'embed.weight');
    for (let i = 0; i < cfg.numLayers; i++) {
      const h = `${m}layers.${i}.`;
      const o = `layers.${i}.`;
      copy(h + 'input_layernorm.weight', o + 'norm1.weight');
      for (const [hp, op] of [
        ['q_proj', 'q'],
        ['k_proj', 'k'],
        ['v_proj', 'v'],
        ['o_proj', 'o'],
      ]) {
        lin(`${h}self_attn.${hp}.weight`, `${o}attn.${op}.weight`);
        copy(`${h}self_attn.${hp}.bias`, `${o}attn.${op}.bias`);
      }
      copy(h + 'self_attn.q_norm.weight', o + 'attn.q_norm.weight');
      copy(h + 'self_attn.k_norm.weight', o + 'attn.k_norm.weight');
      // Gemma's post_attention_layernorm norms the attention output; its MLP input norm is pre_feedforward_layernorm.
      copy(h + 'post_attention_layernorm.weight', o + (cfg.gemma ? 'norm1_post.weight' : 'norm2.weight'));
      if (cfg.gemma) {
        copy(h + 'pre_feedforward_layernorm.weight', o + 'norm2.weight');
        copy(h + 'post_feedforward_layernorm.weight', o + 'norm2_post.weight');
      }
      for (const [hp, op] of [
        ['gate_proj', 'gate'],
        ['up_proj', 'up'],
        ['down_proj', 'down'],
      ]) {
        lin(`${h}mlp.${hp}.weight`, `${o}mlp.${op}.weight`);
        copy(`${h}mlp.${hp}.bias`, `${o}mlp.${op}.bias`);
      }
    }
    copy(m + 'norm.weight', 'norm_f.weight');
  }
  lin('lm_head.weight', 'lm_head.weight');
  lin('score.weight', 'score.weight');
  lin('v_head.summary.weight', 'v_head.weight');
  copy('v_head.summary.bias', 'v_head.bias');
  return out;
}

/** HF tensors that are buffers or redundant copies, accepted and ignored on load. */
function isIgnorable(name: string, cfg: ModelConfig, head: HeadKind): boolean {
  if (/\.attn\.(masked_)?bias$/.test(name) && cfg.family === 'gpt2') return true; // GPT-2 causal-mask buffers
  if (/rotary_emb\.inv_freq$/.test(name)) return true; // old Llama checkpoints saved the RoPE buffer
  if (name === 'lm_head.weight' && (cfg.tieWordEmbeddings || head === 'score')) return true; // tied copy / LM head on a classifier
  if (head !== 'lm+value' && name.startsWith('v_head.')) return true;
  return false;
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

function toFloat32(name: string, t: SafeTensor, source: string): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof Float64Array) return Float32Array.from(t.data);
  throw new WeightMappingError(`${source}: tensor "${name}" has dtype ${t.dtype}; model weights must be F32, F16, BF16 or F64`);
}

/** Fills `weights` with our tensor(s) for mapping `m` from its HF tensor's values. `own`: `data` may be kept as is. */
function convertMapping(m: Mapping, data: Float32Array, own: boolean, weights: Weights): void {
  if (m.kind === 'copy') weights.set(m.ours[0], { shape: [...m.hfShape], data: own ? data : new Float32Array(data) });
  else if (m.kind === 'transpose') {
    const [o, i] = m.hfShape;
    weights.set(m.ours[0], { shape: [i, o], data: transpose2d(data, o, i) });
  } else {
    const cols = m.hfShape[m.hfShape.length - 1];
    const rows = data.length / cols;
    const part = cols / m.ours.length;
    m.ours.forEach((name, k) => {
      const d = new Float32Array(rows * part);
      for (let r = 0; r < rows; r++) d.set(data.subarray(r * cols + k * part, r * cols + (k + 1) * part), r * part);
      weights.set(name, { shape: m.hfShape.length === 1 ? [part] : [rows, part], data: d });
    });
  }
}

/**
 * Converts HF-named tensors to ours. Collects every problem first and throws ONE error listing missing,
 * unexpected and wrongly shaped tensors (name + expected and actual shapes). `source` names the folder/file.
 * The result never shares memory with `tensors`.
 */
export function fromHfTensors(cfg: ModelConfig, head: HeadKind, tensors: Map<string, SafeTensor>, source: string, opts: LoadOptions = {}): Weights {
  return convertHfTensors(cfg, head, tensors, source, opts, false);
}

/**
 * {@link fromHfTensors}; with `take`, `tensors` belongs to the conversion: float32 arrays of same-layout tensors
 * become ours without a copy and each HF tensor is dropped from the map once converted, so loading needs about
 * the weights' size plus the largest transposed tensor, not twice the weights.
 */
function convertHfTensors(cfg: ModelConfig, head: HeadKind, tensors: Map<string, SafeTensor>, source: string, opts: LoadOptions, take: boolean): Weights {
  // The original "gpt2" hub checkpoints have no "transformer." prefix; seq-cls checkpoints of GPT-2 do.
  const named = new Map<string, SafeTensor>();
  const gpt2Bare = cfg.family === 'gpt2' && !tensors.has('transformer.wte.weight') && tensors.has('wte.weight');
  for (const [n, t] of tensors) {
    const isHead = n === 'lm_head.weight' || n.startsWith('score.') || n.startsWith('v_head.');
    named.set(gpt2Bare && !isHead ? 'transformer.' + n : n, t);
  }
  if (take) tensors.clear();
  const maps = hfMappings(cfg, head);
  const missing: string[] = [];
  const wrong: string[] = [];
  const used = new Set<string>();
  const weights: Weights = new Map();
  const fresh = opts.freshHeadSeed !== undefined ? initWeights(cfg, head, opts.freshHeadSeed) : null;
  for (const m of maps) {
    const t = named.get(m.hf);
    if (!t && fresh && (m.hf.startsWith('score.') || m.hf.startsWith('v_head.'))) {
      // A reward/value head on top of a causal-LM checkpoint starts from a fresh init (as transformers does).
      for (const n of m.ours) weights.set(n, fresh.get(n)!);
      continue;
    }
    if (!t) {
      missing.push(`${m.hf} ${fmt(m.hfShape)}`);
      continue;
    }
    used.add(m.hf);
    if (t.shape.length !== m.hfShape.length || t.shape.some((d, i) => d !== m.hfShape[i])) {
      wrong.push(`${m.hf}: expected ${fmt(m.hfShape)}, found ${fmt(t.shape)}`);
      continue;
    }
    convertMapping(m, toFloat32(m.hf, t, source), take && t.data instanceof Float32Array, weights);
    if (take) named.delete(m.hf);
  }
  const unexpected = [...named.keys()].filter((n) => !used.has(n) && !isIgnorable(n, cfg, head)).map((n) => `${n} ${fmt(named.get(n)!.shape)}`);
  if (missing.length || unexpected.length || wrong.length) {
    const parts = [`${source}: the weights do not match the ${cfg.modelType} config (${cfg.numLayers} layers, hidden ${cfg.hiddenSize}, head "${head}"):`];
    if (missing.length) parts.push(`  missing (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`  unexpected (${unexpected.length}): ${unexpected.join(', ')}`);
    if (wrong.length) parts.push(`  wrong shape (${wrong.length}): ${wrong.join('; ')}`);
    throw new WeightMappingError(parts.join('\n'));
  }
  return weights;
}

/** Converts our weights to HF-named F32 (or `dtype`) tensors, checking every parameter is present with its shape. */
export function toHfTensors(cfg: ModelConfig, head: HeadKind, weights: Weights, dtype: 'F32' | 'F16' | 'BF16' = 'F32'): Map<string, SafeTensor> {
  checkWeights(cfg, head, weights, 'toHfTensors');
  const out = new Map<string, SafeTensor>();
  for (const m of hfMappings(cfg, head)) {
    const parts = m.ours.map((n) => weights.get(n)!);
    let data: Float32Array;
    if (m.kind === 'copy') data = parts[0].data;
    else if (m.kind === 'transpose') {
      const [i, o] = parts[0].shape;
      data = transpose2d(parts[0].data, i, o);
    } else {
      const cols = m.hfShape[m.hfShape.length - 1];
      const rows = parts[0].data.length / (cols / parts.length);
      const part = cols / parts.length;
      data = new Float32Array(rows * cols);
      parts.forEach((p, k) => {
        for (let r = 0; r < rows; r++) data.set(p.data.subarray(r * part, (r + 1) * part), r * cols + k * part);
      });
    }
    out.set(m.hf, { dtype, shape: [...m.hfShape], data });
  }
  return out;
}

/** Throws one error listing missing, unexpected and wrongly shaped parameters of `weights` for `cfg` + `head`. */
export function checkWeights(cfg: ModelConfig, head: HeadKind, weights: Weights, where: string): void {
  const specs = paramSpecs(cfg, head);
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const s of specs) {
    const t = weights.get(s.name);
    if (!t) missing.push(`${s.name} ${fmt(s.shape)}`);
    else if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i]) || t.data.length !== s.shape.reduce((a, b) => a * b, 1)) {
      wrong.push(`${s.name}: expected ${fmt(s.shape)}, found ${fmt(t.shape)} (${t.data.length} values)`);
    }
  }
  const known = new Set(specs.map((s) => s.name));
  const unexpected = [...weights.keys()].filter((n) => !known.has(n));
  if (missing.length || unexpected.length || wrong.length) {
    const parts = [`${where}: parameters do not match the ${cfg.modelType} config (head "${head}"):`];
    if (missing.length) parts.push(`  missing (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`  unexpected (${unexpected.length}): ${unexpected.join(', ')}`);
    if (wrong.length) parts.push(`  wrong shape (${wrong.length}): ${wrong.join('; ')}`);
    throw new WeightMappingError(parts.join('\n'));
  }
}

/** Reads and parses `<dir>/config.json`. */
export function readHfConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw new ModelConfigError(`${dir}: no config.json (a Hugging Face model folder needs config.json, model.safetensors and tokenizer.json)`);
    }
    throw new ModelConfigError(`${file}: cannot read: ${err.message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  return parseHfConfig(json, file);
}

/** Picks the head a checkpoint was saved with, from config.json's `architectures`. */
export function headFromConfig(cfg: ModelConfig): HeadKind {
  const arch = cfg.extra.architectures;
  if (Array.isArray(arch) && arch.some((a) => typeof a === 'string' && a.endsWith('ForSequenceClassification'))) return 'score';
  return 'lm';
}

export interface LoadedModel {
  dir: string;
  config: ModelConfig;
  head: HeadKind;
  weights: Weights;
}

export interface LoadOptions {
  /**
   * When the checkpoint lacks the requested reward/value head (e.g. head 'score' from a causal-LM checkpoint),
   * draw that head fresh with this seed instead of failing. The body must still match exactly.
   */
  freshHeadSeed?: number;
}

/**
 * Loads a Hugging Face model folder: config.json + model.safetensors (or model.safetensors.index.json shards).
 * `head` defaults to what config.json's `architectures` says.
 */
export function loadHfModel(dir: string, head?: HeadKind, opts: LoadOptions = {}): LoadedModel {
  const config = readHfConfig(dir);
  const h = head ?? headFromConfig(config);
  // The freshly read tensors are handed over, so the load holds each weight about once.
  const weights = convertHfTensors(config, h, loadSafetensorsFolder(dir).tensors, dir, opts, true);
  return { dir, config, head: h, weights };
}

/** Tokenizer and generation files copied along with a model. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'chat_template.jinja'];

export interface SaveOptions {
  /** Folder to copy tokenizer files from (see TOKENIZER_FILES). */
  tokenizerFrom?: string;
  /** Tensor dtype on disk (default F32). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Shard size limit in bytes (default 2 GB). */
  maxShardBytes?: number;
}

/**
 * The id of the pad token that `<dir>/tokenizer_config.json` names, looked up among tokenizer.json's added tokens;
 * null when either file or the token is missing. A saved classifier uses it as pad_token_id, so transformers pads
 * with the same token as training did.
 */
function tokenizerPadId(dir: string): number | null {
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as { pad_token?: unknown };
    const raw = cfg.pad_token;
    const name = typeof raw === 'string' ? raw : typeof raw === 'object' && raw !== null ? (raw as { content?: unknown }).content : undefined;
    if (typeof name !== 'string') return null;
    const tok = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens?: { id?: unknown; content?: unknown }[] };
    const hit = (tok.added_tokens ?? []).find((t) => t.content === name);
    return hit && typeof hit.id === 'number' ? hit.id : null;
  } catch {
    return null;
  }
}

/**
 * Saves a model as a Hugging Face folder: config.json (transformers' keys), model.safetensors (HF tensor
 * names, `{"format": "pt"}` metadata as transformers writes) or shards + index, and tokenizer files.
 */
export function saveHfModel(dir: string, config: ModelConfig, head: HeadKind, weights: Weights, opts: SaveOptions = {}): void {
  const dtype = opts.dtype ?? 'F32';
  const tensors = toHfTensors(config, head, weights, dtype);
  fs.mkdirSync(dir, { recursive: true });
  const pad = config.padTokenId ?? (head === 'score' && opts.tokenizerFrom ? tokenizerPadId(opts.tokenizerFrom) : null);
  const hf = toHfConfig({ ...config, padTokenId: pad }, head === 'score' ? 'sequence-classification' : 'causal');
  hf.torch_dtype = dtype === 'F32' ? 'float32' : dtype === 'F16' ? 'float16' : 'bfloat16';
  writeSafetensorsSharded(dir, tensors, opts.maxShardBytes ?? 2 * 1024 ** 3, { format: 'pt' });
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(hf, null, 2) + '\n');
  if (opts.tokenizerFrom) copyTokenizerFiles(opts.tokenizerFrom, dir);
}

/** Copies the tokenizer files `from` has (TOKENIZER_FILES) into `dir`, each written durably. */
export function copyTokenizerFiles(from: string, dir: string): void {
  if (path.resolve(from) === path.resolve(dir)) return;
  for (const f of TOKENIZER_FILES) {
    const src = path.join(from, f);
    if (fs.existsSync(src)) writeFileAtomic(path.join(dir, f), fs.readFileSync(src));
  }
}

/** The weight files present in `dir` (for messages). */
export function weightFilesIn(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f === SAFETENSORS_INDEX_FILE || f === SAFETENSORS_SINGLE_FILE || f.endsWith('.safetensors'));
}

/** Copies a tensor (so that callers can mutate the result freely). */
export function cloneTensor(t: ParamTensor): ParamTensor {
  return { shape: [...t.shape], data: new Float32Array(t.data) };
}
