/**
 * Events of `alignment rm-score --json`: a reward model scoring a dataset's pairs in its own process, streamed as
 * JSON lines (`{ type, params }`) on stdout. The extension host's reward-model judge reads them; it validates every
 * line before using it, since the process may crash, print noise, or be another version.
 *
 * Order: `ready` once the model is loaded (or `error` and exit), then one `score` or `skip` per requested record as
 * batches finish, then `done`.
 */
import { defineMessage, isRecord, v, type Envelope } from './message';

export interface RmReadyParams {
  /** The model folder in use (a run folder resolves to its `final/`). */
  readonly model: string;
  /** Pairs that will be scored. */
  readonly pairs: number;
  /** Tokens per row the scorer was built for (the longest pair, rounded up, capped by --max-length). */
  readonly seqLen: number;
}

export interface RmScoreParams {
  /** The record id as the dataset scan (and the feedback store) knows it. */
  readonly recordId: string;
  /** Reward of the `chosen` response. */
  readonly chosen: number;
  /** Reward of the `rejected` response. */
  readonly rejected: number;
}

export interface RmSkipParams {
  readonly recordId: string;
  /** Why the record is not scored (not a preference pair for the loader, missing from the file, ...). */
  readonly reason: string;
}

export interface RmErrorParams {
  /** What failed and where (the model folder, the dataset file and line). The process exits after it. */
  readonly message: string;
}

export interface RmDoneParams {
  readonly scored: number;
  readonly skipped: number;
}

export const RmReady = defineMessage<'ready', RmReadyParams>('ready', v.object<RmReadyParams>({ model: v.string(), pairs: v.integer(0), seqLen: v.integer(1) }));
export const RmScore = defineMessage<'score', RmScoreParams>('score', v.object<RmScoreParams>({ recordId: v.string(), chosen: v.number(), rejected: v.number() }));
export const RmSkip = defineMessage<'skip', RmSkipParams>('skip', v.object<RmSkipParams>({ recordId: v.string(), reason: v.string() }));
export const RmError = defineMessage<'error', RmErrorParams>('error', v.object<RmErrorParams>({ message: v.string() }));
export const RmDone = defineMessage<'done', RmDoneParams>('done', v.object<RmDoneParams>({ scored: v.integer(0), skipped: v.integer(0) }));

export type RmEvent =
  | Envelope<'ready', RmReadyParams>
  | Envelope<'score', RmScoreParams>
  | Envelope<'skip', RmSkipParams>
  | Envelope<'error', RmErrorParams>
  | Envelope<'done', RmDoneParams>;

const TYPES = [RmReady, RmScore, RmSkip, RmError, RmDone];

/** One stdout line as an event, or why it is not one. Never throws. */
export function parseRmEventLine(line: string): RmEvent | { readonly warning: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { warning: 'not JSON' };
  }
  if (!isRecord(value)) return { warning: 'not a JSON object' };
  const def = TYPES.find((t) => t.type === value.type);
  if (!def) return { warning: `unknown event type ${JSON.stringify(value.type)}` };
  const problems = def.problems(value);
  if (problems.length) return { warning: `invalid "${def.type}" event: ${problems.join('; ')}` };
  return value as unknown as RmEvent;
}

/** The line `alignment rm-score --json` prints for an event. */
export function formatRmEvent(e: RmEvent): string {
  return JSON.stringify(e) + '\n';
}
