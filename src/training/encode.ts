/**
 * Examples (src/core/datasets) -> token ids, the way TRL's trainers tokenize them (trl/trainer/dpo_trainer.py,
 * kto_trainer.py and sft_trainer.py, `tokenize_fn`):
 * - a prompt and each of its completions are tokenized together and split at the prompt's length:
 *   `prompt_ids = tok(prompt)`, `completion_ids = tok(prompt + completion)[len(prompt_ids):]`. Tokenizing a
 *   completion alone gives other ids: SentencePiece tokenizers put a `▁` at its start, and Llama 3's pattern
 *   splits a newline run that crosses the boundary differently;
 * - conversational rows are rendered with the model's chat template; the prompt is rendered with the generation
 *   prompt (`<|im_start|>assistant\n` for ChatML), prompt + completion as one conversation, and both are tokenized
 *   without the post-processor's special tokens (the template holds them), as `apply_chat_template(tokenize=True)`;
 * - text rows are tokenized as `tokenizer(text)` does, special tokens included (Llama's BOS), and each completion
 *   gets the EOS token's text appended unless it already ends with it (TRL's `add_eos`), so a model learns to stop;
 * - prompt/completion truncation follows TRL (src/core/datasets/prepare.ts `truncateTokenized`: the prompt keeps
 *   its end, completions keep their start) and is counted in a report.
 */
import type { ConversationalCompletion, Example, Message, PreferenceExample, SftExample, TextCompletion, UnpairedExample } from '../core/datasets/examples';
import { truncateTokenized, type TruncationReport } from '../core/datasets/prepare';
import type { TextTokenizer } from '../engine/tokenizer/tokenizer';

/** A preference pair in token ids (prompt and completions apart). */
export interface EncodedPair {
  readonly id: string;
  readonly prompt: number[];
  readonly chosen: number[];
  readonly rejected: number[];
  /** Llama 2-style margin of the pair, when the row has one. */
  readonly margin?: number;
  /** Ratings of chosen and rejected (UltraFeedback-style rows). */
  readonly scores?: { readonly chosen: number; readonly rejected: number };
}

/** A single completion (KTO, reward regression). */
export interface EncodedCompletion {
  readonly id: string;
  readonly prompt: number[];
  readonly completion: number[];
  /** KTO: true = desirable. */
  readonly label?: boolean;
  /** Regression: the rating. */
  readonly rating?: number;
}

/** One supervised sequence with a per-token loss mask. */
export interface EncodedSequence {
  readonly id: string;
  readonly ids: number[];
  readonly lossMask: boolean[];
}

export interface EncodeLimits {
  readonly maxLength: number;
  readonly maxPromptLength?: number;
}

/** Text of a prompt as the model sees it (chat template with the generation prompt, or the text as is). */
export function renderPrompt(tok: TextTokenizer, prompt: readonly Message[] | string): string {
  return typeof prompt === 'string' ? prompt : tok.applyChatTemplate(prompt, { addGenerationPrompt: true });
}

/** Token ids of a prompt. */
export function encodePrompt(tok: TextTokenizer, prompt: readonly Message[] | string): number[] {
  return typeof prompt === 'string' ? tok.encode(prompt) : tok.encode(renderPrompt(tok, prompt), { addSpecialTokens: false });
}

/**
 * Token ids of a prompt and of each completion that follows it, by TRL's procedure (module comment). When a
 * tokenizer merges across the boundary, so that `tok(prompt)` is not a prefix of `tok(prompt + completion)`, the
 * split still falls at the prompt's length, as in TRL (which only warns).
 */
export function encodeWithPrompt(tok: TextTokenizer, prompt: string, completions: readonly string[]): { prompt: number[]; completions: number[][] };
export function encodeWithPrompt(tok: TextTokenizer, prompt: readonly Message[], completions: readonly (readonly Message[])[]): { prompt: number[]; completions: number[][] };
export function encodeWithPrompt(tok: TextTokenizer, prompt: readonly Message[] | string, completions: readonly (readonly Message[] | string)[]): { prompt: number[]; completions: number[][] } {
  const promptIds = encodePrompt(tok, prompt);
  const whole = completions.map((c) =>
    typeof prompt === 'string' ? tok.encode(prompt + withEos(tok, c as string)) : tok.encode(tok.applyChatTemplate([...prompt, ...(c as readonly Message[])]), { addSpecialTokens: false }),
  );
  return { prompt: promptIds, completions: whole.map((ids) => ids.slice(promptIds.length)) };
}

/** `text` with the EOS token's text at its end (TRL's `add_eos`; unchanged when there is no EOS token). */
function withEos(tok: TextTokenizer, text: string): string {
  return tok.eosToken === null || text.endsWith(tok.eosToken) ? text : text + tok.eosToken;
}

function addCounts(a: TruncationReport, b: TruncationReport): TruncationReport {
  return {
    examples: a.examples + b.examples,
    promptsTruncated: a.promptsTruncated + b.promptsTruncated,
    completionsTruncated: a.completionsTruncated + b.completionsTruncated,
    tokensDropped: a.tokensDropped + b.tokensDropped,
  };
}

/** An empty truncation report. */
export const NO_TRUNCATION: TruncationReport = { examples: 0, promptsTruncated: 0, completionsTruncated: 0, tokensDropped: 0 };

/** Preference examples -> pairs, truncated (TRL's DPO rules). */
export function encodePairs(tok: TextTokenizer, examples: readonly PreferenceExample[], limits: EncodeLimits): { pairs: EncodedPair[]; report: TruncationReport } {
  const raw = examples.map((e) => ({ id: e.id, ...(e.style === 'text' ? encodeWithPrompt(tok, e.prompt, [e.chosen, e.rejected]) : encodeWithPrompt(tok, e.prompt, [e.chosen, e.rejected])) }));
  const { examples: cut, report } = truncateTokenized(raw, limits);
  const pairs = cut.map((c, i): EncodedPair => {
    const e = examples[i] as PreferenceExample;
    return {
      id: c.id,
      prompt: c.prompt,
      chosen: c.completions[0] as number[],
      rejected: c.completions[1] as number[],
      ...(e.margin !== undefined ? { margin: e.margin } : {}),
      ...(e.scores ? { scores: e.scores } : {}),
    };
  });
  return { pairs, report };
}

/** A prompt with its one completion (unpaired and prompt/completion SFT rows). */
function encodeOne(tok: TextTokenizer, e: ConversationalCompletion | TextCompletion): { prompt: number[]; completions: number[][] } {
  return e.style === 'text' ? encodeWithPrompt(tok, e.prompt, [e.completion]) : encodeWithPrompt(tok, e.prompt, [e.completion]);
}

/** Unpaired examples -> completions with their labels, truncated. */
export function encodeUnpaired(tok: TextTokenizer, examples: readonly UnpairedExample[], limits: EncodeLimits): { items: EncodedCompletion[]; report: TruncationReport } {
  const raw = examples.map((e) => ({ id: e.id, ...encodeOne(tok, e) }));
  const { examples: cut, report } = truncateTokenized(raw, limits);
  return { items: cut.map((c, i) => ({ id: c.id, prompt: c.prompt, completion: c.completions[0] as number[], label: (examples[i] as UnpairedExample).label })), report };
}

/**
 * Preference examples with ratings -> one rated completion per side (pointwise reward regression). Pairs without
 * `scores` are returned in `unrated` (the caller reports them).
 */
export function encodeRated(tok: TextTokenizer, examples: readonly PreferenceExample[], limits: EncodeLimits): { items: EncodedCompletion[]; unrated: PreferenceExample[]; report: TruncationReport } {
  const rated = examples.filter((e) => e.scores !== undefined);
  const unrated = examples.filter((e) => e.scores === undefined);
  const { pairs, report } = encodePairs(tok, rated, limits);
  const items = pairs.flatMap((p): EncodedCompletion[] => [
    { id: `${p.id}/chosen`, prompt: p.prompt, completion: p.chosen, rating: (p.scores as { chosen: number }).chosen },
    { id: `${p.id}/rejected`, prompt: p.prompt, completion: p.rejected, rating: (p.scores as { rejected: number }).rejected },
  ]);
  return { items, unrated, report };
}

/**
 * SFT examples -> sequences with loss masks. `completionOnly`: the loss covers completion tokens only (prompt
 * tokens are context); for whole conversations (`messages` rows) it covers the assistant turns. Sequences longer
 * than `maxLength` are cut at their end and counted.
 */
export function encodeSft(tok: TextTokenizer, examples: readonly SftExample[], opts: EncodeLimits & { completionOnly: boolean }): { sequences: EncodedSequence[]; report: TruncationReport } {
  let report = NO_TRUNCATION;
  const sequences: EncodedSequence[] = [];
  for (const e of examples) {
    let ids: number[];
    let lossMask: boolean[];
    if (e.style === 'messages') {
      ({ ids, lossMask } = encodeConversation(tok, e.messages, opts.completionOnly));
    } else {
      const { examples: cut, report: r } = truncateTokenized([{ id: e.id, ...encodeOne(tok, e) }], opts);
      report = addCounts(report, { ...r, examples: 0 });
      const c = cut[0] as { prompt: number[]; completions: number[][] };
      const comp = c.completions[0] as number[];
      ids = [...c.prompt, ...comp];
      lossMask = [...c.prompt.map(() => !opts.completionOnly), ...comp.map(() => true)];
    }
    if (ids.length > opts.maxLength) {
      report = addCounts(report, { examples: 0, promptsTruncated: 0, completionsTruncated: 1, tokensDropped: ids.length - opts.maxLength });
      ids = ids.slice(0, opts.maxLength);
      lossMask = lossMask.slice(0, opts.maxLength);
    }
    sequences.push({ id: e.id, ids, lossMask });
  }
  return { sequences, report: { ...report, examples: examples.length } };
}

/**
 * A whole conversation: the text between consecutive message boundaries is encoded piece by piece, so each
 * token is known to belong to an assistant turn or not.
 */
function encodeConversation(tok: TextTokenizer, messages: readonly Message[], assistantOnly: boolean): { ids: number[]; lossMask: boolean[] } {
  const ids: number[] = [];
  const lossMask: boolean[] = [];
  let done = '';
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message;
    if (m.role === 'assistant') {
      const head = tok.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true });
      if (head.startsWith(done) && head.length > done.length) {
        const t = tok.encode(head.slice(done.length), { addSpecialTokens: false });
        ids.push(...t);
        lossMask.push(...t.map(() => !assistantOnly));
        done = head;
      }
    }
    const upto = tok.applyChatTemplate(messages.slice(0, i + 1));
    const piece = upto.startsWith(done) ? upto.slice(done.length) : upto;
    const t = tok.encode(piece, { addSpecialTokens: false });
    ids.push(...t);
    lossMask.push(...t.map(() => m.role === 'assistant' || !assistantOnly));
    done = upto;
  }
  return { ids, lossMask };
}

/** The kind-specific examples of a list, for callers that hold a mixed `Example[]`. */
export function examplesOfKind<K extends Example['kind']>(examples: readonly Example[], kind: K): Extract<Example, { kind: K }>[] {
  return examples.filter((e): e is Extract<Example, { kind: K }> => e.kind === kind);
}
