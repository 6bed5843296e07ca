/**
 * Shared types of AI judges (RLAIF): what a judge is asked, what it answers, and how it fails.
 */
import type { PairVerdict } from './rubric';

export type { PairVerdict } from './rubric';

/** One preference pair as a judge sees it. `responseA` is the pair's first response in the dataset. */
export interface PairToJudge {
  readonly prompt: string;
  readonly responseA: string;
  readonly responseB: string;
  /**
   * The dataset record the pair comes from and its candidates' keys (A's first). Judges that look at the content
   * ignore it; a reward-model judge, which scores records in its own process, finds its scores by it.
   */
  readonly record?: { readonly id: string; readonly keys: readonly [string, string] };
}

/** One presentation order's verdict, expressed in the pair's own labels (A = `responseA`). */
export interface OrderVerdict {
  readonly winner: PairVerdict;
  /** The position the judge picked in this presentation: the response shown first, second, or neither. */
  readonly position: 'first' | 'second' | 'tie';
  /** The judge's stated confidence, or 1 when it stated none. */
  readonly confidence: number;
  /** The judge's full final answer (its reasoning and verdict line). */
  readonly text: string;
  readonly cached: boolean;
}

export type JudgeMode = 'pairwise' | 'rating' | 'score';

/** A judge's decision on one pair. */
export interface PairJudgement {
  readonly winner: PairVerdict;
  /** Probability-like confidence in `winner`, in [0, 1] (how it is computed depends on `mode`; see each judge). */
  readonly confidence: number;
  readonly mode: JudgeMode;
  /** Pairwise mode: the verdict with A shown first. */
  readonly forward?: OrderVerdict;
  /** Pairwise mode: the verdict with B shown first (mapped back to A/B). */
  readonly reversed?: OrderVerdict;
  /** Pairwise mode: both orders gave the same verdict. */
  readonly consistent?: boolean;
  /** Pairwise mode: both orders picked the same *position* (first/first or second/second): the verdict followed the position, not the content. */
  readonly positionFollowed?: boolean;
  /** Rating and score modes: the score of each response. */
  readonly scores?: { readonly a: number; readonly b: number };
}

/** Anything that can label a pair; the label job only needs this. */
export interface PairJudge {
  /** Stable name; labels are recorded with source `ai:<name>`. */
  readonly name: string;
  judgePair(pair: PairToJudge, signal?: AbortSignal): Promise<PairJudgement>;
}

export type JudgeErrorKind =
  /** the judge answered, but never in the required format (after the re-asks) */
  | 'unparseable'
  /** the server answered with a non-retryable HTTP error */
  | 'http'
  /** 401/403: the key is wrong or missing */
  | 'auth'
  /** every attempt timed out */
  | 'timeout'
  /** the server could not be reached (refused, reset, DNS) on the last attempt */
  | 'network'
  /** the server kept answering 5xx or 408 through every retry; the message has the status and the server's reason */
  | 'server-error'
  /** the server kept answering 429 through every retry, or asked (Retry-After) for a wait past the pair's time limit */
  | 'rate-limit'
  /** the server answered 2xx with a body that is not a chat completion (not JSON, e.g. a proxy's HTML page, after every retry) */
  | 'invalid-response'
  /** a user-written scorer failed (proxy judge) */
  | 'scorer'
  /** a reward model could not score the pair, or its scoring process failed (reward-model judge) */
  | 'model';

/**
 * A judge could not produce a verdict. Recorded as an error for that pair, never as a label.
 * Messages never contain the API key.
 */
export class JudgeError extends Error {
  constructor(
    readonly kind: JudgeErrorKind,
    message: string,
    /** `fatal`: the judge cannot answer any further pair (its process died); a label job stops at once. */
    readonly details: { readonly status?: number; readonly attempts?: number; readonly fatal?: boolean } = {},
  ) {
    super(message);
    this.name = 'JudgeError';
  }
}

/** Running totals of a judge's traffic, from the servers' `usage` fields. */
export interface JudgeUsage {
  /** HTTP requests sent (retries included). */
  readonly requests: number;
  /** Single-order calls answered from the cache. */
  readonly cacheHits: number;
  /** Requests that were retried (429/5xx/timeout/network/non-JSON). */
  readonly retries: number;
  /** Re-asks after an unparseable answer. */
  readonly reasks: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
}
