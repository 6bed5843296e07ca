/**
 * Reward inspection: where in a response a reward model gives and takes reward. One record per line of
 * `alignment inspect-rm` (JSONL, for other tools and for the editor, which validates each line before use), and the
 * messages that carry it to the comparison and evaluation panels.
 *
 * The dense reward of a response y to prompt x is the potential-shaped reward with potential Φ(x, y≤t) = R(x, y≤t),
 * the reward model's score of each prefix: d_t = Φ(y≤t) − Φ(y<t). It sums to R(x, y) − Φ(x, ∅), and shaping keeps
 * the optimal policies (Ng et al. 1999; Jenner & Gleave, "Preprocessing Reward Functions for Interpretability").
 * Character offsets are UTF-16 code units of `text`, as JavaScript strings index them.
 */
import { defineMessage, v, type Validator } from './message';

/** One token of the response and its dense reward d_t. */
export interface TokenReward {
  /** The token id. */
  readonly id: number;
  /**
   * The characters of `text` the token completes, [start, end). A byte-level token that ends inside a character
   * (a part of a Chinese character's UTF-8 bytes) has start = end at the character it helps complete; a token
   * outside the text (EOS, chat-template markup) has start = end = -1.
   */
  readonly start: number;
  readonly end: number;
  readonly reward: number;
}

/** A word (Intl.Segmenter) or other segment of the text, with the dense rewards of its tokens summed. */
export interface SpanReward {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly reward: number;
  /** A word rather than spaces or punctuation. */
  readonly word: boolean;
}

export interface ResponseInspection {
  /** The response as the panels show it (a text completion, or the assistant message's content). */
  readonly text: string;
  /** R(x, y): the score at the last token. */
  readonly reward: number;
  /** Φ(x, ∅): the score of the prompt alone (0 when the prompt has no tokens). */
  readonly emptyPrefix: number;
  /** R(x, y) minus the mean reward of the prompt's responses in the inspected data (EPIC's canonicalization). */
  readonly canonicalReward: number;
  /** d_t of every response token in order; they sum to reward − emptyPrefix. */
  readonly tokens: readonly TokenReward[];
  /** The text in segments (every character in exactly one), each with the rewards of its tokens. */
  readonly spans: readonly SpanReward[];
  /** Reward of the tokens outside the text (EOS, chat-template markup). */
  readonly outside: number;
  /** The response was cut to the token limit: tokens and spans cover its start only. */
  readonly truncated: boolean;
}

/** One preference record, inspected. */
export interface RecordInspection {
  readonly recordId: string;
  /** 1-based line in the dataset file. */
  readonly line: number;
  /** The mean reward of the prompt's responses that `canonicalReward` subtracts. */
  readonly promptMean: number;
  readonly chosen: ResponseInspection;
  readonly rejected: ResponseInspection;
}

const offset: Validator<number> = v.integer(-1);
const tokenReward = v.object<TokenReward>({ id: v.integer(0), start: offset, end: offset, reward: v.number() });
const spanReward = v.object<SpanReward>({ start: v.integer(0), end: v.integer(0), text: v.string(), reward: v.number(), word: v.boolean() });

export const responseInspection: Validator<ResponseInspection> = v.object<ResponseInspection>({
  text: v.string(),
  reward: v.number(),
  emptyPrefix: v.number(),
  canonicalReward: v.number(),
  tokens: v.array(tokenReward, 100_000),
  spans: v.array(spanReward, 1_000_000),
  outside: v.number(),
  truncated: v.boolean(),
});

export const recordInspection: Validator<RecordInspection> = v.object<RecordInspection>({
  recordId: v.string(),
  line: v.integer(1),
  promptMean: v.number(),
  chosen: responseInspection,
  rejected: responseInspection,
});

/** One line of `alignment inspect-rm` output as a record, or the problems that make it not one. Never throws. */
export function parseInspectionLine(line: string): RecordInspection | { readonly problems: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { problems: ['not JSON'] };
  }
  const problems = recordInspection(value, 'record');
  return problems.length ? { problems } : (value as RecordInspection);
}

/** What a panel's heat overlay draws for one response. */
export interface RewardHeatView {
  readonly reward: number;
  readonly canonicalReward: number;
  readonly spans: readonly SpanReward[];
}

export const heatView: Validator<RewardHeatView> = v.object<RewardHeatView>({ reward: v.number(), canonicalReward: v.number(), spans: v.array(spanReward, 1_000_000) });

/** A record in the RM evaluation panel's example view (an inspect-rm file opened as an evaluation). */
export interface EvalExample {
  readonly recordId: string;
  readonly line: number;
  /** reward(chosen) − reward(rejected). */
  readonly margin: number;
  readonly chosen: RewardHeatView;
  readonly rejected: RewardHeatView;
}

export const evalExample: Validator<EvalExample> = v.object<EvalExample>({ recordId: v.string(), line: v.integer(1), margin: v.number(), chosen: heatView, rejected: heatView });

/** webview -> host (comparison panel): the heat overlay was turned on for the shown pair. */
export const ComparisonInspectReward = defineMessage('comparison/inspectReward', v.object<{ recordId: string }>({ recordId: v.string() }));

/** host -> webview (comparison panel): the dense rewards of the shown pair's outputs, as displayed (A left, B right). */
export const ComparisonRewardHeat = defineMessage(
  'comparison/rewardHeat',
  v.object<{ recordId: string; model: string; A: RewardHeatView; B: RewardHeatView }>({ recordId: v.string(), model: v.string(), A: heatView, B: heatView }),
);

/** host -> webview (comparison panel): the overlay could not be computed (no reward model, the model failed). */
export const ComparisonRewardHeatError = defineMessage('comparison/rewardHeatError', v.object<{ recordId: string; message: string }>({ recordId: v.string(), message: v.string() }));
