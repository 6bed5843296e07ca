/**
 * A judge labeling job (RLAIF pre-labeling): judges a dataset's pairs and writes one `ai:<judge>` comparison
 * per pair to a {@link LabelSink} (the feedback store, through {@link feedbackStoreSink}).
 *
 * Exactly one AI label per pair and judge: pairs the sink already holds a label for from this judge are skipped
 * (so a retried or resumed job only does what is left), a pair listed twice is judged once, and a failed pair
 * is reported as an error, never written. Human labels are never read for writing, changed or removed.
 */
import type { Message, PreferenceExample } from '../datasets/examples';
import { abortReason } from './backoff';
import { JudgeError, type JudgeErrorKind, type PairJudge, type PairJudgement } from './judgeTypes';

/** One pair to label: a dataset record with two candidate outputs. */
export interface PairItem {
  /** The feedback store's record id. */
  readonly recordId: string;
  /** The prompt as the judge sees it (a conversation rendered with {@link renderConversation}). */
  readonly prompt: string;
  /** First candidate: its key in the record (e.g. `chosen`, `responses[0]`) and its text. Judged as "A". */
  readonly a: { readonly key: string; readonly text: string };
  /** Second candidate, judged as "B". */
  readonly b: { readonly key: string; readonly text: string };
}

export type AiSource = `ai:${string}`;

/** What the job writes for one pair. */
export interface AiPairLabel {
  readonly recordId: string;
  readonly source: AiSource;
  /** Candidate keys with A first. */
  readonly order: readonly [string, string];
  /** The preferred candidate key, or null for a tie. */
  readonly preferred: string | null;
  readonly judgement: PairJudgement;
}

/** Where AI labels go. The feedback store satisfies it through {@link feedbackStoreSink}. */
export interface LabelSink {
  /**
   * Identity of the label store (e.g. its folder). When given, only one job per store and judge can run at a time
   * in this process: a second one is refused with {@link LabelJobBusyError} instead of labeling pairs twice.
   */
  readonly id?: string;
  /** Record ids that already hold a (current) comparison label from `source`. */
  labeledRecordIds(source: AiSource): ReadonlySet<string> | Promise<ReadonlySet<string>>;
  /** Appends one label; a throw stops the job (the label was not written). */
  append(label: AiPairLabel): void | Promise<void>;
}

export interface LabelJobProgress {
  /** Distinct pairs given. */
  readonly total: number;
  /** Pairs skipped because this judge had labeled them already. */
  readonly skipped: number;
  readonly labeled: number;
  readonly failed: number;
  /** Pairs neither labeled, failed nor skipped yet. */
  readonly remaining: number;
}

export interface LabelJobError {
  readonly recordId: string;
  readonly kind: JudgeErrorKind;
  readonly message: string;
}

export interface LabelJobResult extends LabelJobProgress {
  /** `completed`: every pair was tried; `cancelled`: the caller aborted; `stopped`: the job gave up early (see `stopReason`). */
  readonly status: 'completed' | 'cancelled' | 'stopped';
  readonly stopReason?: string;
  readonly errors: readonly LabelJobError[];
  /** The labels written by this run, in completion order. */
  readonly labels: readonly AiPairLabel[];
}

export interface LabelJobOptions {
  readonly judge: PairJudge;
  readonly sink: LabelSink;
  readonly pairs: readonly PairItem[];
  /** Pairs judged at once (default 4; the judge's own request limit still applies). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: LabelJobProgress) => void;
  readonly onLabel?: (label: AiPairLabel) => void;
  readonly onError?: (e: LabelJobError) => void;
  /**
   * Endpoint failures in a row (network, timeout, rate-limit, server-error, invalid-response) after which the job
   * stops (the endpoint is down, refuses us or is not the API; default 3). An auth failure stops it at once. Other
   * failures (unparseable answers) are recorded and the job goes on.
   */
  readonly maxConsecutiveFailures?: number;
}

/** A job for the same label store and judge is already running in this process. */
export class LabelJobBusyError extends Error {
  constructor(readonly sinkId: string, readonly source: AiSource) {
    super(`A labeling job for ${source} is already running on ${sinkId}; wait for it to finish or cancel it first.`);
    this.name = 'LabelJobBusyError';
  }
}

const running = new Set<string>();

/** Failure kinds that say the endpoint itself is failing (not one pair), with what a run of them means. */
const ENDPOINT_FAILURE: Partial<Record<JudgeErrorKind, string>> = {
  network: 'the endpoint looks down',
  timeout: 'the endpoint looks down or too slow for the timeout',
  'rate-limit': 'the endpoint keeps rate-limiting requests',
  'server-error': 'the endpoint keeps answering with server errors',
  'invalid-response': 'the endpoint keeps answering with something that is not a chat completion',
};

/** The source string of a judge's labels. */
export function aiSource(judge: PairJudge): AiSource {
  return `ai:${judge.name}`;
}

/**
 * Runs the job; resolves when every pair is done, the job is cancelled, or it stops early. Never rejects for a judge
 * failure; rejects with {@link LabelJobBusyError} when the same store and judge already have a job running.
 */
export async function runLabelJob(opts: LabelJobOptions): Promise<LabelJobResult> {
  const source = aiSource(opts.judge);
  const lock = opts.sink.id === undefined ? undefined : JSON.stringify([opts.sink.id, source]);
  if (lock !== undefined) {
    if (running.has(lock)) throw new LabelJobBusyError(opts.sink.id as string, source);
    running.add(lock);
  }
  try {
    return await runUnlocked(opts, source);
  } finally {
    if (lock !== undefined) running.delete(lock);
  }
}

async function runUnlocked(opts: LabelJobOptions, source: AiSource): Promise<LabelJobResult> {
  const seen = new Set<string>();
  const unique = opts.pairs.filter((p) => (seen.has(p.recordId) ? false : (seen.add(p.recordId), true)));
  const already = await opts.sink.labeledRecordIds(source);
  const pending = unique.filter((p) => !already.has(p.recordId));
  const skipped = unique.length - pending.length;
  const errors: LabelJobError[] = [];
  const labels: AiPairLabel[] = [];
  let failed = 0;
  let consecutive = 0;
  let stopReason: string | undefined;
  const maxConsecutive = opts.maxConsecutiveFailures ?? 3;

  // One controller for the job: the caller's cancel, or our own stop, aborts every in-flight judgement.
  const job = new AbortController();
  const onCallerAbort = (): void => job.abort(opts.signal ? abortReason(opts.signal) : undefined);
  if (opts.signal?.aborted) onCallerAbort();
  else opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const stop = (reason: string): void => {
    if (stopReason === undefined) stopReason = reason;
    job.abort(new Error(reason));
  };

  const progress = (): LabelJobProgress => ({ total: unique.length, skipped, labeled: labels.length, failed, remaining: pending.length - labels.length - failed });
  opts.onProgress?.(progress());

  let next = 0;
  const worker = async (): Promise<void> => {
    while (!job.signal.aborted && next < pending.length) {
      const item = pending[next++];
      let judgement: PairJudgement;
      try {
        judgement = await opts.judge.judgePair({ prompt: item.prompt, responseA: item.a.text, responseB: item.b.text, record: { id: item.recordId, keys: [item.a.key, item.b.key] } }, job.signal);
      } catch (e) {
        // Cancelled or stopped: not this pair's fault (a fatal judge error is counted once, on the pair that saw it first).
        if (job.signal.aborted && (!(e instanceof JudgeError) || e.details.fatal)) return;
        const err: LabelJobError = {
          recordId: item.recordId,
          kind: e instanceof JudgeError ? e.kind : 'invalid-response',
          message: e instanceof Error ? e.message : String(e),
        };
        failed++;
        errors.push(err);
        opts.onError?.(err);
        opts.onProgress?.(progress());
        if (e instanceof JudgeError && e.details.fatal) stop(err.message);
        else if (err.kind === 'auth') stop(`the judge endpoint refused the API key: ${err.message}`);
        else if (e instanceof JudgeError && ENDPOINT_FAILURE[err.kind] !== undefined) {
          if (++consecutive >= maxConsecutive) stop(`${consecutive} pairs in a row failed (${err.kind}): ${ENDPOINT_FAILURE[err.kind]}. Resume the job later: labeled pairs are kept and skipped.`);
        }
        continue;
      }
      consecutive = 0;
      const label: AiPairLabel = {
        recordId: item.recordId,
        source,
        order: [item.a.key, item.b.key],
        preferred: judgement.winner === 'A' ? item.a.key : judgement.winner === 'B' ? item.b.key : null,
        judgement,
      };
      try {
        await opts.sink.append(label);
      } catch (e) {
        stop(`writing the label of ${item.recordId} failed: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      labels.push(label);
      opts.onLabel?.(label);
      opts.onProgress?.(progress());
    }
  };

  try {
    const n = Math.max(1, Math.min(opts.concurrency ?? 4, pending.length));
    await Promise.all(Array.from({ length: n }, worker));
  } finally {
    opts.signal?.removeEventListener('abort', onCallerAbort);
  }
  const status: LabelJobResult['status'] = stopReason !== undefined ? 'stopped' : opts.signal?.aborted ? 'cancelled' : 'completed';
  return { ...progress(), status, stopReason, errors, labels };
}

/** A conversation rendered as the judge's prompt text: a lone user turn as itself, otherwise a labelled transcript. */
export function renderConversation(messages: readonly { readonly role: string; readonly content: string }[]): string {
  if (messages.length === 1 && messages[0].role === 'user') return messages[0].content;
  const name: Record<string, string> = { system: 'System', user: 'User', assistant: 'Assistant', tool: 'Tool' };
  return messages.map((m) => `[${name[m.role] ?? m.role}]\n${m.content}`).join('\n\n');
}

/** The text of a completion: a lone message's content, or a labelled transcript of several. */
export function completionText(c: string | readonly Message[]): string {
  if (typeof c === 'string') return c;
  return c.length === 1 ? c[0].content : renderConversation(c);
}

/**
 * A loaded preference example as a pair to judge: A = `chosen`, B = `rejected` (both orders are judged anyway, so
 * the fixed assignment does not bias the verdict). `recordId` defaults to the example's id.
 */
export function pairItemFromPreference(e: PreferenceExample, recordId: string = e.id): PairItem {
  if (e.style === 'text') return { recordId, prompt: e.prompt, a: { key: 'chosen', text: e.chosen }, b: { key: 'rejected', text: e.rejected } };
  return { recordId, prompt: renderConversation(e.prompt), a: { key: 'chosen', text: completionText(e.chosen) }, b: { key: 'rejected', text: completionText(e.rejected) } };
}
