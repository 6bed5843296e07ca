/**
 * The built-in default model: a tiny Llama-architecture chat model (3.52M parameters, SmolLM2-style:
 * RoPE, RMSNorm, SwiGLU, grouped-query attention, tied embeddings) with a byte-level BPE tokenizer that this
 * project trains itself on its synthetic dialogue corpus (demoCorpus.ts). Everything is deterministic: the
 * same version builds the same tokenizer.json and the same initial weights, byte for byte.
 *
 * The folder it writes is a normal Hugging Face model folder (config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json, generation_config.json), so `transformers` can load it too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/safetensors';
import { trainByteLevelBpe, toTokenizerJson } from '../tokenizer/bpeTrainer';
import { generateDemoDialogues, renderChatMl } from '../tokenizer/demoCorpus';
import { TextTokenizer } from '../tokenizer/tokenizer';
import { ModelConfig, parseHfConfig } from './config';
import { LoadedModel, loadHfModel, saveHfModel } from './hfMapping';
import { initWeights } from './params';

/** Bump when anything that changes the built files changes (invalidates caches). */
export const BUILTIN_VERSION = 'tiny-chat-v2';

/** Special tokens, ids 0..2 (ChatML, as SmolLM2 uses). */
export const BUILTIN_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** ChatML chat template (the format of SmolLM2 / Qwen2 chat models). */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Tokenizer training: vocabulary size and corpus. */
const TOKENIZER_VOCAB = 2048;
const TOKENIZER_CORPUS_DIALOGUES = 4000;
const CORPUS_SEED = 1234;
/** Seed of the initial weights. */
const INIT_SEED = 0;

/** Files of a built tokenizer. */
export interface BuiltTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/**
 * Trains the built-in byte-level BPE tokenizer on the synthetic dialogue corpus. Deterministic. If `dir` is
 * given, writes tokenizer.json and tokenizer_config.json there.
 */
export function buildBuiltinTokenizer(dir?: string, maxLength = 512): BuiltTokenizer {
  const corpus = generateDemoDialogues(TOKENIZER_CORPUS_DIALOGUES, CORPUS_SEED).map((d) => renderChatMl(d.messages));
  const bpe = trainByteLevelBpe(corpus, { vocabSize: TOKENIZER_VOCAB, specialTokens: BUILTIN_SPECIAL_TOKENS });
  const tokenizerJson = toTokenizerJson(bpe);
  const addedTokensDecoder: Record<string, unknown> = {};
  BUILTIN_SPECIAL_TOKENS.forEach((content, id) => {
    addedTokensDecoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  });
  const tokenizerConfig: Record<string, unknown> = {
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    bos_token: '<|im_start|>',
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    model_max_length: maxLength,
    pad_token: '<|endoftext|>',
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: '<|endoftext|>',
  };
  if (dir) {
    writeFileAtomic(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson, null, 2) + '\n');
    writeFileAtomic(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
  }
  return { tokenizerJson, tokenizerConfig };
}

/**
 * The built-in model's config for a tokenizer of `tokenizerVocab` tokens (rounded up to a multiple of 64 so the
 * embedding matrix has friendly sizes; the extra rows are never produced by the tokenizer).
 */
export function builtinConfig(tokenizerVocab: number): ModelConfig {
  const vocab = Math.ceil(tokenizerVocab / 64) * 64;
  return parseHfConfig(
    {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: vocab,
      hidden_size: 256, // d_model
      intermediate_size: 768, // SwiGLU inner size (3 d_model)
      num_hidden_layers: 4,
      num_attention_heads: 4, // head_dim 64
      num_key_value_heads: 2, // grouped-query attention, 2 query heads per kv head
      max_position_embeddings: 512,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      rope_scaling: null,
      hidden_act: 'silu',
      tie_word_embeddings: true,
      attention_bias: false,
      mlp_bias: false,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 0,
      initializer_range: 0.02,
    },
    'built-in model config',
  );
}

/**
 * Where built-in models are cached when the caller has no folder of its own: $ALIGNMENT_STUDIO_CACHE, else
 * $XDG_CACHE_HOME/alignment-studio, else ~/.cache/alignment-studio. (The extension passes its global storage.)
 */
export function defaultCacheDir(): string {
  const env = process.env.ALIGNMENT_STUDIO_CACHE;
  if (env) return env;
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'alignment-studio');
}

interface Stamp {
  version: string;
}

/**
 * Makes sure `<cacheDir>/<BUILTIN_VERSION>` holds the built-in model folder (building the tokenizer and the
 * seeded initial weights on first use) and returns its path.
 */
export function ensureBuiltinModel(cacheDir: string = defaultCacheDir()): string {
  const dir = path.join(cacheDir, BUILTIN_VERSION);
  const stampFile = path.join(dir, 'builtin.json');
  if (fs.existsSync(stampFile)) {
    try {
      const stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as Stamp;
      if (stamp.version === BUILTIN_VERSION) return dir;
    } catch {
      // a damaged stamp means a half-built folder: rebuild below
    }
  }
  // Build in a scratch folder, then rename into place, so a concurrent or interrupted build never leaves a
  // half-written model behind.
  const tmp = `${dir}.build-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    buildBuiltinTokenizer(tmp);
    const tok = TextTokenizer.fromFolder(tmp);
    const config = builtinConfig(tok.vocabSize);
    const weights = initWeights(config, 'lm', INIT_SEED);
    saveHfModel(tmp, config, 'lm', weights);
    const gen = { bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId, pad_token_id: config.padTokenId, max_new_tokens: 64 };
    writeFileAtomic(path.join(tmp, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
    writeFileAtomic(path.join(tmp, 'builtin.json'), JSON.stringify({ version: BUILTIN_VERSION } satisfies Stamp, null, 2) + '\n');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (fs.existsSync(stampFile)) return dir; // another process finished the same build first
    throw e;
  }
  return dir;
}

/** The built-in model loaded: config, initial weights, tokenizer (built and cached in `cacheDir` on first use). */
export function getBuiltinModel(cacheDir: string = defaultCacheDir()): LoadedModel & { tokenizer: TextTokenizer } {
  const dir = ensureBuiltinModel(cacheDir);
  return { ...loadHfModel(dir, 'lm'), tokenizer: TextTokenizer.fromFolder(dir) };
}
