/**
 * Reading and writing the rounds of a run "with a person" (the protocol: src/protocol/humanLoop.ts; for users:
 * docs/human-loop.md). The session publishes each round's batch here and closes it; the editor and the CLI read
 * the batches and their labels, which live in the ordinary labels journal of the batch's pairs.jsonl, so the
 * comparison panel labels a batch as it labels any preference dataset and every decision is durable the moment it
 * is made.
 *
 * Durability: pairs.jsonl and then batch.json are written with `writeFileDurable` (atomic rename + fsync), so a
 * batch.json never names pairs that are not on disk, and a published batch is never rewritten except to close it
 * (its pairs, which the journal's record ids point into, never change).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { batchProblems, roundPairProblems, type BatchClosed, type RoundBatch, type RoundPair } from '../../protocol/humanLoop';
import { writeFileDurable } from '../../util/durable';
import { UserError } from '../../util/errors';
import { FeedbackStore, labelsDirFor } from '../feedback/store';
import type { FeedbackSource, JournalEntryOf } from '../feedback/types';
import type { LabelView } from '../feedback/labelView';

export const ROUNDS_DIR = 'rounds';
const ROUND_PREFIX = 'round-';

/**
 * The source the simulated labeler writes its decisions with. It stands in for the person (tests, benchmarks,
 * the CLI's `--labels simulated`), so its decisions count as the person's.
 */
export const SIMULATED_LABELER_SOURCE: FeedbackSource = 'program:simulated-labeler';

/** True for decisions that count as the person's: a human's, or the simulated labeler's standing in for one. */
export function isPersonSource(s: FeedbackSource): boolean {
  return s === 'human' || s === SIMULATED_LABELER_SOURCE;
}

export interface RoundPaths {
  readonly dir: string;
  readonly pairs: string;
  readonly batch: string;
  /** The labels folder of pairs.jsonl (the feedback store's). */
  readonly labels: string;
}

/** The files of round `round` of the run in `runDir`. */
export function roundPaths(runDir: string, round: number): RoundPaths {
  const dir = path.join(runDir, ROUNDS_DIR, `${ROUND_PREFIX}${round}`);
  const pairs = path.join(dir, 'pairs.jsonl');
  return { dir, pairs, batch: path.join(dir, 'batch.json'), labels: labelsDirFor(pairs) };
}

/** The run folder and round of a round's pairs.jsonl (`<run>/rounds/round-<n>/pairs.jsonl`), else undefined. */
export function pairsFileRound(file: string): { readonly runDir: string; readonly round: number } | undefined {
  const roundDir = path.dirname(path.resolve(file));
  const m = /^round-([1-9]\d*)$/.exec(path.basename(roundDir));
  if (!m || path.basename(file) !== 'pairs.jsonl' || path.basename(path.dirname(roundDir)) !== ROUNDS_DIR) return undefined;
  return { runDir: path.dirname(path.dirname(roundDir)), round: Number(m[1]) };
}

/** The rounds of a run that have a batch.json, in order (empty when the run has none). */
export function listRounds(runDir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(runDir, ROUNDS_DIR));
  } catch {
    return [];
  }
  const rounds: number[] = [];
  for (const n of names) {
    const m = /^round-([1-9]\d*)$/.exec(n);
    if (m && fs.existsSync(roundPaths(runDir, Number(m[1])).batch)) rounds.push(Number(m[1]));
  }
  return rounds.sort((a, b) => a - b);
}

/** Reads and validates round `round`'s batch.json; a missing or bad file is a UserError naming the file and field. */
export function readBatch(runDir: string, round: number): RoundBatch {
  const file = roundPaths(runDir, round).batch;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: cannot read the batch: ${(e as Error).message}`);
  }
  const problems = batchProblems(parsed);
  if (problems.length === 0 && (parsed as RoundBatch).round !== round) problems.push(`batch.round: expected ${round}, got ${(parsed as RoundBatch).round}`);
  if (problems.length) throw new UserError(`${file}: ${problems.join('; ')}`);
  return parsed as RoundBatch;
}

/** Reads and validates round `round`'s pairs.jsonl; a bad line is a UserError naming file:line and field. */
export function readRoundPairs(runDir: string, round: number): RoundPair[] {
  const file = roundPaths(runDir, round).pairs;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read the pairs: ${(e as Error).message}`);
  }
  const lines = text.split('\n');
  const out: RoundPair[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      throw new UserError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const problems = roundPairProblems(parsed, round, out.length);
    if (problems.length) throw new UserError(`${file}:${i + 1}: ${problems.join('; ')}`);
    out.push(parsed as RoundPair);
  });
  return out;
}

/**
 * Publishes a round: pairs.jsonl, then batch.json (state `waiting`). Refuses to replace a published batch: the
 * journal's decisions point at its record ids. Throws (a programming error) on an invalid batch or pair.
 */
export function publishBatch(runDir: string, batch: RoundBatch, pairs: readonly RoundPair[]): void {
  const problems = [...batchProblems(batch), ...pairs.flatMap((p, i) => roundPairProblems(p, batch.round, i, `pairs[${i}]`))];
  if (batch.state !== 'waiting') problems.push('batch.state: a batch is published waiting');
  if (pairs.length !== batch.pairs) problems.push(`batch.pairs: ${batch.pairs}, but ${pairs.length} pairs were given`);
  if (problems.length) throw new Error(`invalid round batch: ${problems.join('; ')}`);
  const p = roundPaths(runDir, batch.round);
  if (fs.existsSync(p.batch)) throw new Error(`round ${batch.round} is already published (${p.batch})`);
  writeFileDurable(p.pairs, pairs.map((x) => JSON.stringify(x) + '\n').join(''));
  writeFileDurable(p.batch, JSON.stringify(batch, null, 2) + '\n');
}

/** Marks round `round`'s batch closed (its pairs and labels stay); returns the closed batch. */
export function closeBatch(runDir: string, round: number, closed: BatchClosed): RoundBatch {
  const { closed: _old, ...rest } = readBatch(runDir, round);
  const next: RoundBatch = { ...rest, state: 'closed', closed };
  const problems = batchProblems(next);
  if (problems.length) throw new Error(`invalid closed batch: ${problems.join('; ')}`);
  writeFileDurable(roundPaths(runDir, round).batch, JSON.stringify(next, null, 2) + '\n');
  return next;
}

/** One decision on a pair, read from the journal. */
export interface PairDecision {
  readonly recordId: string;
  /** The candidate preferred (`chosen` / `rejected` are only field names, see RoundPair), or null for a tie. */
  readonly preferred: 'chosen' | 'rejected' | null;
  readonly source: FeedbackSource;
  readonly annotator: string;
  readonly entryId: string;
  /** When it was recorded, ms since the epoch. */
  readonly time: number;
}

/** The current decisions on a round's pairs: the person's and the AI judge's, by record id. */
export interface RoundDecisions {
  readonly person: ReadonlyMap<string, PairDecision>;
  readonly ai: ReadonlyMap<string, PairDecision>;
}

function asDecision(e: JournalEntryOf<'comparison'>): PairDecision | undefined {
  const c = e.payload;
  if (c.mode !== 'pair') return undefined;
  const pref = c.preferred;
  if (pref !== null && pref !== 'chosen' && pref !== 'rejected') return undefined;
  return { recordId: e.recordId, preferred: pref, source: e.source, annotator: e.annotator, entryId: e.id, time: Date.parse(e.timestamp) };
}

/**
 * The current pair comparisons of `pairs` in a label view: per pair, the latest decision that counts as the
 * person's ({@link isPersonSource}) and the latest AI judge's. Retracted decisions (undo) are not current.
 */
export function roundDecisions(view: LabelView, pairs: readonly RoundPair[]): RoundDecisions {
  const person = new Map<string, PairDecision>();
  const ai = new Map<string, PairDecision>();
  for (const p of pairs) {
    for (const e of view.currentOfType(p.id, 'comparison')) {
      const d = asDecision(e);
      if (!d) continue;
      const into = isPersonSource(d.source) ? person : d.source.startsWith('ai:') ? ai : undefined;
      const had = into?.get(p.id);
      if (into && (!had || had.time <= d.time)) into.set(p.id, d);
    }
  }
  return { person, ai };
}

/**
 * Opens round `round`'s labels as `writerId` (the session writes the judge's labels as `session`, the CLI its
 * file/simulated labels as `cli`); a reader that never records passes its own id and no journal is created.
 */
export function openRoundLabels(runDir: string, round: number, writerId: string, annotator = writerId): FeedbackStore {
  const p = roundPaths(runDir, round);
  return FeedbackStore.open({ datasetPath: p.pairs, writerId, annotator });
}

/** What the editor shows for a waiting batch: "N pairs waiting". */
export interface WaitingBatch {
  readonly round: number;
  readonly pairs: number;
  /** Pairs with a current decision of the person. */
  readonly labeled: number;
  /** Pairs still without one (`pairs - labeled`). */
  readonly waiting: number;
  /** The person's labels the session waits for (the batch's `wanted`). */
  readonly wanted: number;
  readonly deadline: number | null;
  readonly pairsFile: string;
}

/** The run's waiting batches, oldest first, with how many of their pairs the person has labeled. */
export function waitingBatches(runDir: string, readerId = 'reader'): WaitingBatch[] {
  const out: WaitingBatch[] = [];
  for (const round of listRounds(runDir)) {
    const batch = readBatch(runDir, round);
    if (batch.state !== 'waiting') continue;
    const pairs = readRoundPairs(runDir, round);
    const store = openRoundLabels(runDir, round, readerId);
    try {
      const labeled = roundDecisions(store.view(), pairs).person.size;
      out.push({ round, pairs: pairs.length, labeled, waiting: pairs.length - labeled, wanted: batch.wanted, deadline: batch.deadline, pairsFile: roundPaths(runDir, round).pairs });
    } finally {
      store.close();
    }
  }
  return out;
}
