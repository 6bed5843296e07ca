/**
 * Headless labels for a run with a person (docs/human-loop.md): the CLI stands where the editor's comparison
 * panel stands. A {@link HeadlessLabeler} watches the run's waiting batches and records a decision for each pair
 * its decider answers, in the batch's labels journal under its own writer id, exactly as the panel would:
 *
 *   file / stdin   JSON lines {"id": "r1-p0", "preferred": "chosen" | "rejected" | null}; a line for a pair not
 *                  published yet is kept until its batch appears; a bad line is a UserError naming file:line
 *   simulated      a scripted preference with noise: the demo's proxy reward (src/training/demo/proxyReward.ts)
 *                  of each candidate against its prompt's reference `answer` (the data row's, found by prompt), the higher preferred (equal: a
 *                  tie), and a share `flip` of the decisions flipped, chosen by a hash of (seed, pair id) so a
 *                  rerun flips the same ones. Whether a reply ended on its own comes from the pair's `ended`
 *                  (a pair without it counts both as ended).
 */
import * as readline from 'node:readline';
import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { isRecord } from '../protocol/message';
import { candidateText, type RoundPair } from '../protocol/humanLoop';
import { openRoundLabels, readRoundPairs, roundDecisions, waitingBatches } from '../core/runs/rounds';
import type { FeedbackSource } from '../core/feedback/types';
import { proxyReward } from '../training/demo/proxyReward';
import { UserError } from '../util/errors';

/** A decision on a pair, or undefined when the decider has none (yet). */
export type Decide = (pair: RoundPair) => 'chosen' | 'rejected' | null | undefined;

export interface LabelerOptions {
  readonly writerId: string;
  readonly source: FeedbackSource;
  readonly annotator: string;
}

export class HeadlessLabeler {
  private timer: NodeJS.Timeout | undefined;
  private recorded = 0;

  constructor(
    private readonly runDir: string,
    private readonly decide: Decide,
    private readonly o: LabelerOptions,
  ) {}

  /** Decisions recorded so far. */
  get count(): number {
    return this.recorded;
  }

  /**
   * The oldest waiting batch after the last {@link labelOnce}, with the person's labels it still lacks, when the
   * decider had no answer for some of its pairs: the batch the session is stuck on unless more labels come.
   */
  stuck: { readonly round: number; readonly missing: number } | undefined;

  /** Records a decision for every pair of every waiting batch that the person has not decided and the decider answers. */
  labelOnce(): number {
    let n = 0;
    let undecidedOldest = 0;
    const waiting = waitingBatches(this.runDir, this.o.writerId);
    for (const w of waiting) {
      if (w.waiting === 0) continue;
      const pairs = readRoundPairs(this.runDir, w.round);
      const store = openRoundLabels(this.runDir, w.round, this.o.writerId, this.o.annotator);
      try {
        const done = roundDecisions(store.view(), pairs).person;
        for (const p of pairs) {
          if (done.has(p.id)) continue;
          const d = this.decide(p);
          if (d === undefined) {
            if (w === waiting[0]) undecidedOldest++;
            continue;
          }
          store.record({ recordId: p.id, type: 'comparison', source: this.o.source, payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: d } });
          n++;
        }
      } finally {
        store.close();
      }
    }
    this.recorded += n;
    const oldest = waitingBatches(this.runDir, this.o.writerId)[0];
    this.stuck = oldest && undecidedOldest > 0 && oldest.labeled < oldest.wanted ? { round: oldest.round, missing: oldest.wanted - oldest.labeled } : undefined;
    return n;
  }

  /**
   * Labels every `pollMs` until {@link stop}. A failure stops the labeler and is passed to `onError`; `check`
   * runs after each pass and may throw to stop it (e.g. a labels file that ended with pairs left undecided).
   */
  start(pollMs: number, onError: (e: unknown) => void, check: () => void = () => undefined): void {
    const tick = (): void => {
      try {
        this.labelOnce();
        check();
      } catch (e) {
        this.timer = undefined;
        onError(e);
        return;
      }
      this.timer = setTimeout(tick, pollMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** A number in [0, 1) from (seed, id), the same on every run. */
function hashUnit(seed: number, id: string): number {
  return createHash('sha256').update(`${seed}:${id}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** The key a prompt is looked up by: its turns as JSON (a string prompt is one user turn). */
export function promptKey(prompt: string | readonly { readonly role: string; readonly content: string }[]): string {
  const turns = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt;
  return JSON.stringify(turns.map((m) => [m.role, m.content]));
}

/**
 * The reference answers of a prompt file's rows ({"prompt": ..., "answer": "..."}, the demo's prompts.jsonl), by
 * {@link promptKey}. Rows without a text prompt and an answer are left out.
 */
export function answersFromPromptFile(file: string): Map<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`simulated labels: cannot read the prompts ${file}: ${(e as Error).message}`);
  }
  const out = new Map<string, string>();
  text.split('\n').forEach((line) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      return; // the session reports the file's bad lines; the labeler only needs the good ones
    }
    if (!isRecord(row) || typeof row.answer !== 'string') return;
    const prompt = row.prompt;
    if (typeof prompt === 'string' || (Array.isArray(prompt) && prompt.every((m) => isRecord(m) && typeof m.role === 'string' && typeof m.content === 'string'))) out.set(promptKey(prompt as string), row.answer);
  });
  return out;
}

/** The simulated labeler (module comment): `answers` maps a {@link promptKey} to its reference answer. */
export function simulatedDecider(answers: ReadonlyMap<string, string>, flip: number, seed: number): Decide {
  if (!(flip >= 0 && flip <= 0.5)) throw new UserError(`--label-noise: expected a share of flipped decisions in [0, 0.5], got ${flip}`);
  return (pair) => {
    const answer = answers.get(promptKey(pair.prompt));
    if (answer === undefined) throw new UserError(`simulated labels: prompt ${pair.prompt_id} has no reference "answer" field in the data to score replies against`);
    const [a, b] = [proxyReward(candidateText(pair.chosen), answer, pair.ended?.chosen ?? true).total, proxyReward(candidateText(pair.rejected), answer, pair.ended?.rejected ?? true).total];
    if (a === b) return null;
    const better = a > b ? 'chosen' : 'rejected';
    return hashUnit(seed, pair.id) < flip ? (better === 'chosen' ? 'rejected' : 'chosen') : better;
  };
}

/** Decisions read from a stream of JSON lines (module comment), filled in as lines arrive. */
export class StreamDecisions {
  private readonly byId = new Map<string, 'chosen' | 'rejected' | null>();
  private closed = false;
  private error: UserError | undefined;

  constructor(input: Readable, name: string) {
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    let line = 0;
    rl.on('line', (text) => {
      line++;
      if (text.trim() === '' || this.error) return;
      const problem = this.add(text);
      if (problem) this.error = new UserError(`${name}:${line}: ${problem}`);
    });
    rl.on('close', () => (this.closed = true));
  }

  /** True once the stream has ended. */
  get ended(): boolean {
    return this.closed;
  }

  private add(text: string): string | undefined {
    let x: unknown;
    try {
      x = JSON.parse(text);
    } catch (e) {
      return `not valid JSON (${(e as Error).message})`;
    }
    if (!isRecord(x) || typeof x.id !== 'string') return 'expected {"id": "<pair id>", "preferred": "chosen" | "rejected" | null}';
    if (x.preferred !== 'chosen' && x.preferred !== 'rejected' && x.preferred !== null) return `preferred: expected "chosen", "rejected" or null, got ${JSON.stringify(x.preferred)}`;
    this.byId.set(x.id, x.preferred);
    return undefined;
  }

  readonly decide: Decide = (pair) => {
    if (this.error) throw this.error;
    return this.byId.get(pair.id);
  };
}
