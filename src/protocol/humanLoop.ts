/**
 * The human-in-the-loop run folder protocol (docs/human-loop.md): what a session running an online run "with a
 * person" writes for each round, and what the editor (status bar, Runs view, comparison panel) and the CLI read.
 * Both sides import these definitions; a reader validates every file before it uses it (`batchProblems`,
 * `roundPairProblems`), so a hand-edited or half-understood file is reported by field, never trusted.
 *
 *   <run>/rounds/round-<n>/pairs.jsonl   the batch: one preference record per pair ({@link RoundPair})
 *   <run>/rounds/round-<n>/batch.json    the batch's state ({@link RoundBatch}); written after pairs.jsonl, so a
 *                                        batch.json always describes a complete pairs file
 *   <run>/rounds/round-<n>/.alignment/pairs.jsonl.labels/<writer>.jsonl
 *                                        the labels: the feedback store of pairs.jsonl (src/core/feedback/store.ts)
 */
import { isRecord, v, type Validator } from './message';

export const HUMAN_LOOP_VERSION = 1;

/** Who labels a round's pairs (docs/human-loop.md, "Feedback modes"). */
export const FEEDBACK_MODES = ['human', 'human-then-judge', 'judge-audit'] as const;
export type FeedbackMode = (typeof FEEDBACK_MODES)[number];

/** How the pairs shown to the person are picked from the sampled completions. */
export const PAIR_SELECTIONS = ['active', 'random'] as const;
export type PairSelection = (typeof PAIR_SELECTIONS)[number];

/** What the session does when the person's labels are not in by a batch's deadline. */
export const TIMEOUT_ACTIONS = ['judge', 'train-on-labeled', 'stop'] as const;
export type TimeoutAction = (typeof TIMEOUT_ACTIONS)[number];

/** Why a batch was closed. */
export const CLOSE_REASONS = ['labeled', 'budget', 'timeout', 'judged', 'stopped'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** How a closed batch's pairs were labeled, and why it was closed. */
export interface BatchClosed {
  /** Milliseconds since the Unix epoch. */
  readonly at: number;
  readonly reason: CloseReason;
  /** Pairs with a current decision of the person (ties included). */
  readonly human: number;
  /** Pairs decided by the AI judge only. */
  readonly ai: number;
  /** Pairs left without a usable decision (not trained on). */
  readonly unlabeled: number;
  /** One sentence for the user: what happened and why. */
  readonly message: string;
}

/**
 * `batch.json`: one round's batch. `waiting` means the pairs are published and the session takes labels for them;
 * `closed` means the session took what it had (see {@link BatchClosed}) and trains on it. Labels that arrive for
 * a closed batch are kept in its journal and used by a later round, marked as coming from an older policy.
 */
export interface RoundBatch {
  readonly v: 1;
  readonly round: number;
  /** The round whose updated policy sampled these pairs (0: the starting policy). */
  readonly policyRound: number;
  /** Optimizer steps the sampling policy had taken. */
  readonly policyStep: number;
  readonly state: 'waiting' | 'closed';
  /** Pairs in pairs.jsonl. */
  readonly pairs: number;
  /** Human labels the session waits for before it closes the batch (the per-round budget; <= pairs). */
  readonly wanted: number;
  readonly mode: FeedbackMode;
  readonly selection: PairSelection;
  /** When the batch was published, ms since the epoch. */
  readonly publishedAt: number;
  /** When the session stops waiting (ms since the epoch), null for never; what it then does is `onTimeout`. */
  readonly deadline: number | null;
  readonly onTimeout: TimeoutAction;
  readonly closed?: BatchClosed;
}

/** Why a pair was picked: the selection rule, its score, and the signals it used. */
export interface PairSelectionInfo {
  readonly method: PairSelection;
  /** The score the pairs were ranked by (active: worth x distinctness x diversity weight, pairSelection.ts; random: the draw). */
  readonly score: number;
  /** P(first candidate preferred) under each signal that was available: `implicit` (the policy's implicit DPO reward), `rm`, `judge`. */
  readonly probabilities: Readonly<Record<string, number>>;
}

/** A candidate completion of a round pair: one assistant turn. */
export type RoundCandidate = readonly [{ readonly role: 'assistant'; readonly content: string }];
export const roundCandidate = (text: string): RoundCandidate => [{ role: 'assistant', content: text }];
export const candidateText = (c: RoundCandidate): string => c[0].content;

/**
 * One line of pairs.jsonl: a preference record the comparison panel opens as it opens any dataset. `chosen` and
 * `rejected` are only the two candidates' field names, in sampling order: the person's decision in the journal
 * (which key is `preferred`) says which is better. The other fields are kept by every reader of the dataset.
 * The prompt is a message list, so each candidate is one too (TRL's conversational preference format; a dataset
 * reader rejects a message-list prompt with string completions): see {@link roundCandidate}.
 */
export interface RoundPair {
  /** `r<round>-p<index>`: the record id the journal's entries name. */
  readonly id: string;
  readonly prompt: readonly { readonly role: string; readonly content: string }[];
  readonly chosen: RoundCandidate;
  readonly rejected: RoundCandidate;
  readonly round: number;
  readonly policy_round: number;
  /** The prompt's id in the run's prompt data. */
  readonly prompt_id: string;
  readonly selection: PairSelectionInfo;
  /** Whether each candidate ended on its own (false: cut off at max_new_tokens); absent when not known. */
  readonly ended?: { readonly chosen: boolean; readonly rejected: boolean };
}

/** The record id of pair `index` of `round`. */
export function roundPairId(round: number, index: number): string {
  return `r${round}-p${index}`;
}

const nonNegInt = v.integer(0);
const time = v.number();

const closed: Validator<BatchClosed> = v.object<BatchClosed>({
  at: time,
  reason: v.literal(...CLOSE_REASONS),
  human: nonNegInt,
  ai: nonNegInt,
  unlabeled: nonNegInt,
  message: v.string(),
});

const batchFields: Validator<RoundBatch> = v.object<RoundBatch>({
  v: v.literal(HUMAN_LOOP_VERSION) as Validator<1>,
  round: v.integer(1),
  policyRound: nonNegInt,
  policyStep: nonNegInt,
  state: v.literal('waiting', 'closed'),
  pairs: nonNegInt,
  wanted: nonNegInt,
  mode: v.literal(...FEEDBACK_MODES),
  selection: v.literal(...PAIR_SELECTIONS),
  publishedAt: time,
  deadline: v.nullable(time),
  onTimeout: v.literal(...TIMEOUT_ACTIONS),
  closed: v.optional(closed),
});

/** Problems with `x` as a batch.json (empty when valid), each naming its field. */
export function batchProblems(x: unknown, p = 'batch'): string[] {
  if (isRecord(x) && typeof x.v === 'number' && x.v > HUMAN_LOOP_VERSION) return [`${p}.v: written by a newer version (format ${x.v}); update the extension`];
  const out = batchFields(x, p);
  if (out.length) return out;
  const b = x as RoundBatch;
  if (b.wanted > b.pairs) out.push(`${p}.wanted: ${b.wanted} is more than the batch's ${b.pairs} pairs`);
  if (b.policyRound >= b.round) out.push(`${p}.policyRound: ${b.policyRound} must be below the round (${b.round})`);
  if (b.state === 'closed' && !b.closed) out.push(`${p}.closed: a closed batch says how it was closed`);
  if (b.state === 'waiting' && b.closed) out.push(`${p}.closed: a waiting batch is not closed`);
  return out;
}

const message = v.object<{ role: string; content: string }>({ role: v.string(), content: v.string() });

const candidateValidator = v.array(v.object<{ role: 'assistant'; content: string }>({ role: v.literal('assistant'), content: v.string() }), 1);
const candidate: Validator<RoundCandidate> = (x, p) => {
  const out = candidateValidator(x, p);
  return out.length || (x as unknown[]).length === 1 ? out : [`${p}: expected one assistant message`];
};

const pairFields: Validator<RoundPair> = v.object<RoundPair>({
  id: v.string(),
  prompt: v.array(message, 10_000),
  chosen: candidate,
  rejected: candidate,
  round: v.integer(1),
  policy_round: nonNegInt,
  prompt_id: v.string(),
  selection: v.object<PairSelectionInfo>({ method: v.literal(...PAIR_SELECTIONS), score: v.number(), probabilities: v.record(v.number()) }),
  ended: v.optional(v.object<{ chosen: boolean; rejected: boolean }>({ chosen: v.boolean(), rejected: v.boolean() })),
});

/** Problems with `x` as line `index` of round `round`'s pairs.jsonl (empty when valid). */
export function roundPairProblems(x: unknown, round: number, index: number, p = 'pair'): string[] {
  const out = pairFields(x, p);
  if (out.length) return out;
  const r = x as RoundPair;
  if (r.id !== roundPairId(round, index)) out.push(`${p}.id: expected "${roundPairId(round, index)}", got ${JSON.stringify(r.id)}`);
  if (r.round !== round) out.push(`${p}.round: expected ${round}, got ${r.round}`);
  if (r.prompt.length === 0) out.push(`${p}.prompt: at least one message`);
  return out;
}
