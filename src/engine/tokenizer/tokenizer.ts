/**
 * Text <-> token ids for Hugging Face tokenizers (tokenizer.json + tokenizer_config.json), and chat templates.
 *
 * Tokenization uses @huggingface/tokenizers (Hugging Face's pure-JS port of the Rust `tokenizers` pipeline:
 * normalizer, pre-tokenizer, BPE/WordPiece/Unigram model, post-processor, decoder; no wasm, no network), so any
 * Hub model's tokenizer.json encodes here exactly as in Python. Chat templates (Jinja, from
 * tokenizer_config.json's `chat_template` or a `chat_template.jinja` file) render with @huggingface/jinja, the
 * same engine transformers.js uses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { UserError } from '../../util/errors';

export class TokenizerError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

/** One chat turn, as in TRL's conversational datasets. */
export interface ChatMessage {
  role: string;
  content: string;
}

export interface TokenizerConfigJson {
  chat_template?: unknown;
  bos_token?: unknown;
  eos_token?: unknown;
  pad_token?: unknown;
  unk_token?: unknown;
  model_max_length?: unknown;
  [key: string]: unknown;
}

/** A special-token field of tokenizer_config.json: a string or an AddedToken object `{content: ...}`. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

function pickChatTemplate(raw: unknown, source: string): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'string') return raw;
  // A list of named templates: use "default" (transformers' choice when no name is given).
  if (Array.isArray(raw)) {
    const named = raw.filter((t): t is { name: string; template: string } => typeof t?.name === 'string' && typeof t?.template === 'string');
    const def = named.find((t) => t.name === 'default');
    if (def) return def.template;
    if (named.length) return named[0].template;
  }
  throw new TokenizerError(`${source}: "chat_template" must be a string or a list of {name, template}`);
}

export interface EncodeOptions {
  /** Add the post-processor's special tokens (e.g. BOS for Llama). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (EOS, chat markers) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

export class TextTokenizer {
  private readonly tok: Tokenizer;
  /** Vocabulary size including added tokens (max id + 1). */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** The pad token's id, or the EOS id when the tokenizer has no pad token (the usual choice for causal LMs). */
  readonly padTokenId: number | null;
  readonly chatTemplate: string | null;
  private compiledTemplate: Template | null = null;

  /**
   * @param tokenizerJson the parsed tokenizer.json
   * @param config the parsed tokenizer_config.json ({} when absent)
   * @param source a path or label named in errors
   * @param chatTemplate overrides config.chat_template (e.g. from chat_template.jinja)
   */
  constructor(
    tokenizerJson: object,
    config: TokenizerConfigJson,
    readonly source: string,
    chatTemplate?: string | null,
  ) {
    const tj = tokenizerJson as { model?: { type?: unknown; vocab?: unknown } };
    if (typeof tj !== 'object' || tj === null || typeof tj.model !== 'object' || tj.model === null) {
      throw new TokenizerError(`${source}: not a Hugging Face tokenizer.json (no "model" section)`);
    }
    try {
      this.tok = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      throw new TokenizerError(`${source}: cannot build the tokenizer: ${(e as Error).message}`);
    }
    let maxId = -1;
    for (const id of this.tok.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.bosToken = tokenString(config.bos_token);
    this.eosToken = tokenString(config.eos_token);
    this.padToken = tokenString(config.pad_token);
    const idOf = (t: string | null): number | null => (t === null ? null : (this.tok.token_to_id(t) ?? null));
    this.bosTokenId = idOf(this.bosToken);
    this.eosTokenId = idOf(this.eosToken);
    this.padTokenId = idOf(this.padToken) ?? this.eosTokenId;
    this.chatTemplate = chatTemplate !== undefined && chatTemplate !== null ? chatTemplate : pickChatTemplate(config.chat_template, source);
  }

  /** Token ids of `text`. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /** Token strings of `text` (for display). */
  tokens(text: string, opts: EncodeOptions = {}): string[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).tokens;
  }

  /** Text of `ids`. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    return this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** Ids of all special (added, `special: true`) tokens. */
  specialTokenIds(): number[] {
    return [...this.tok.get_added_tokens_decoder().entries()].filter(([, t]) => t.special).map(([id]) => id);
  }

  /**
   * Renders `messages` with the chat template (as transformers' apply_chat_template(tokenize=False)).
   * `addGenerationPrompt` appends the assistant turn opener, for prompting a model to answer.
   */
  applyChatTemplate(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.chatTemplate) {
      throw new TokenizerError(
        `${this.source}: this tokenizer has no chat template (no "chat_template" in tokenizer_config.json and no chat_template.jinja), ` +
          'so conversational datasets cannot be formatted; use a chat model\'s tokenizer or prompt/completion data',
      );
    }
    if (!this.compiledTemplate) {
      try {
        this.compiledTemplate = new Template(this.chatTemplate);
      } catch (e) {
        throw new TokenizerError(`${this.source}: chat template does not parse: ${(e as Error).message}`);
      }
    }
    try {
      return this.compiledTemplate.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        bos_token: this.bosToken ?? '',
        eos_token: this.eosToken ?? '',
        pad_token: this.padToken ?? '',
      });
    } catch (e) {
      throw new TokenizerError(`${this.source}: chat template failed on these messages: ${(e as Error).message}`);
    }
  }

  /** Token ids of the rendered chat (the template already holds any BOS, so no special tokens are added). */
  encodeChat(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts), { addSpecialTokens: false });
  }

  /** Loads tokenizer.json (+ tokenizer_config.json, chat_template.jinja when present) from a model folder. */
  static fromFolder(dir: string): TextTokenizer {
    const tjPath = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(tjPath)) {
      const others = ['tokenizer.model', 'vocab.json', 'merges.txt', 'spiece.model'].filter((f) => fs.existsSync(path.join(dir, f)));
      throw new TokenizerError(
        `${dir}: no tokenizer.json. Alignment Studio reads Hugging Face "fast" tokenizers (tokenizer.json)` +
          (others.length
            ? `; this folder has ${others.join(', ')}: convert once in Python with ` +
              `AutoTokenizer.from_pretrained("${dir}").save_pretrained("${dir}")`
            : '; copy tokenizer.json and tokenizer_config.json from the model\'s Hub page into this folder'),
      );
    }
    const readJson = (file: string): unknown => {
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        throw new TokenizerError(`${file}: invalid JSON: ${(e as Error).message}`);
      }
    };
    const tj = readJson(tjPath);
    if (typeof tj !== 'object' || tj === null) throw new TokenizerError(`${tjPath}: expected a JSON object`);
    const cfgPath = path.join(dir, 'tokenizer_config.json');
    const cfg = fs.existsSync(cfgPath) ? readJson(cfgPath) : {};
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new TokenizerError(`${cfgPath}: expected a JSON object`);
    const jinjaPath = path.join(dir, 'chat_template.jinja');
    const jinja = fs.existsSync(jinjaPath) ? fs.readFileSync(jinjaPath, 'utf8') : null;
    return new TextTokenizer(tj, cfg as TokenizerConfigJson, tjPath, jinja);
  }
}
