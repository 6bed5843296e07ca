/**
 * Normalized training examples: what every dataset format loader produces and every trainer consumes.
 *
 * Two styles, as in TRL: `conversational` (lists of chat messages, rendered later with the model's chat
 * template) and `text` (plain strings, concatenated as they are). A system prompt is the first message of a
 * conversational prompt.
 */
import type { RowSource } from './records';

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface Message {
  readonly role: Role;
  readonly content: string;
}

/** Dataset kinds; each training method needs one (see `src/core/methods.ts`). */
export type DatasetKind = 'preference' | 'unpaired' | 'sft' | 'prompt';

/** The format a row was read from. */
export type FormatId =
  | 'trl-preference'
  | 'trl-preference-implicit'
  | 'hh-rlhf'
  | 'ultrafeedback'
  | 'ultrafeedback-binarized'
  | 'sharegpt-preference'
  | 'trl-unpaired'
  | 'sharegpt-kto'
  | 'trl-prompt-completion'
  | 'trl-messages'
  | 'sharegpt-sft'
  | 'trl-prompt-only';

interface Base {
  /** The row's `id` when it has one, otherwise `<file name>:<line>`. */
  readonly id: string;
  readonly source: RowSource;
  readonly format: FormatId;
  /** RewardBench-style section (`section` or `subset` field) when the row has one. */
  readonly section?: string;
  readonly tags?: readonly string[];
}

export type ConversationalPair = { readonly style: 'conversational'; readonly prompt: readonly Message[]; readonly chosen: readonly Message[]; readonly rejected: readonly Message[] };
export type TextPair = { readonly style: 'text'; readonly prompt: string; readonly chosen: string; readonly rejected: string };
export type ConversationalCompletion = { readonly style: 'conversational'; readonly prompt: readonly Message[]; readonly completion: readonly Message[] };
export type TextCompletion = { readonly style: 'text'; readonly prompt: string; readonly completion: string };

/** A preference pair: one prompt, a chosen and a rejected completion. */
export type PreferenceExample = Base & { readonly kind: 'preference'; readonly margin?: number; readonly scores?: { readonly chosen: number; readonly rejected: number } } & (ConversationalPair | TextPair);

/** An unpaired example (KTO / binary critique): a completion labeled desirable (`true`) or undesirable. */
export type UnpairedExample = Base & { readonly kind: 'unpaired'; readonly label: boolean } & (ConversationalCompletion | TextCompletion);

/** A whole conversation for supervised training (TRL's `messages` rows): the loss covers its assistant turns. */
export type MessagesOnly = { readonly style: 'messages'; readonly messages: readonly Message[] };

/** A supervised example: prompt + completion (conversational or text), or a whole conversation. */
export type SftExample = Base & { readonly kind: 'sft' } & (ConversationalCompletion | TextCompletion | MessagesOnly);

/**
 * A prompt alone (online methods: PPO, RLOO, GRPO, online DPO generate their own completions). `fields` holds the
 * row's other columns (e.g. a reference `answer`), which TRL hands to reward functions; prompts taken from other
 * kinds of data have none.
 */
export type PromptExample = Base & { readonly kind: 'prompt'; readonly fields?: Readonly<Record<string, unknown>> } & (
    | { readonly style: 'conversational'; readonly prompt: readonly Message[] }
    | { readonly style: 'text'; readonly prompt: string }
  );

export type Example = PreferenceExample | UnpairedExample | SftExample | PromptExample;

/** A row that was not loaded, and why. Never dropped silently: loaders return every one. */
export interface SkippedRow {
  /** `file:line` or `file:line (element i)`. */
  readonly where: string;
  readonly source: RowSource;
  /** Path of the offending field inside the row, e.g. `chosen`, `conversations[2].value`; `` for the whole row. */
  readonly field: string;
  readonly reason: string;
}
