/**
 * The session's side of the rounds protocol (docs/human-loop.md): publishing a round's batch with its token
 * sidecar, and the record of which labels a round trained on.
 *
 *   <round>/tokens.json   session-private: each pair's prompt and completion token ids and l_ref, so a resumed
 *                         session trains on exactly the sampled tokens (re-encoding the text need not give them
 *                         back); written before pairs.jsonl
 *   <round>/used.json     the labels the round's update took ({@link UsedLabel}), written when the batch closes and
 *                         before the update, so a session killed during the update trains on the same labels
 *
 * Both are written durably (src/util/durable.ts) and validated when read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { v, type Validator } from '../protocol/message';
import { candidateText, roundCandidate, roundPairId, type RoundBatch, type RoundPair } from '../protocol/humanLoop';
import { publishBatch, roundPaths } from '../core/runs/rounds';
import type { FeedbackSource } from '../core/feedback/types';
import { writeFileDurable } from '../util/durable';
import type { HumanDpoConfig, HumanDpoPair, RoundSample } from '../training/online/humanDpoTrainer';
import { selectPairs } from '../training/online/pairSelection';
import type { RolloutPrompt } from '../training/online/rollout';
import { SessionInputError } from './types';

interface SideTokens {
  readonly ids: number[];
  readonly refLogp: number;
  readonly terminated: boolean;
}

interface TokensFile {
  readonly v: 1;
  readonly pairs: { readonly promptIds: number[]; readonly a: SideTokens; readonly b: SideTokens }[];
}

const side: Validator<SideTokens> = v.object<SideTokens>({ ids: v.array(v.integer(0)), refLogp: v.number(), terminated: v.boolean() });
const tokensFile: Validator<TokensFile> = v.object<TokensFile>({
  v: v.literal(1) as Validator<1>,
  pairs: v.array(v.object<TokensFile['pairs'][number]>({ promptIds: v.array(v.integer(0)), a: side, b: side })),
});

/** A label a round's update took. */
export interface UsedLabel {
  /** The pair's record id, `r<round>-p<index>`. */
  readonly id: string;
  /** The round the pair was published in (earlier than the using round for a late label). */
  readonly round: number;
  readonly preferred: 'chosen' | 'rejected';
  readonly source: FeedbackSource;
  readonly entryId: string;
  readonly weight: number;
  /** The pair came from a batch closed before this label arrived: sampled by an older policy than the one it trains. */
  readonly olderPolicy: boolean;
}

interface UsedFile {
  readonly v: 1;
  readonly round: number;
  readonly labels: UsedLabel[];
}

const usedFile: Validator<UsedFile> = v.object<UsedFile>({
  v: v.literal(1) as Validator<1>,
  round: v.integer(1),
  labels: v.array(
    v.object<UsedLabel>({
      id: v.string(),
      round: v.integer(1),
      preferred: v.literal('chosen', 'rejected'),
      source: v.string() as Validator<FeedbackSource>,
      entryId: v.string(),
      weight: v.number(),
      olderPolicy: v.boolean(),
    }),
  ),
});

function readJson<T>(file: string, check: Validator<T>, what: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SessionInputError(`${file}: cannot read the ${what}: ${(e as Error).message}`);
  }
  const problems = check(parsed, what);
  if (problems.length) throw new SessionInputError(`${file}: ${problems.join('; ')}`);
  return parsed as T;
}

const usedPath = (runDir: string, round: number): string => path.join(roundPaths(runDir, round).dir, 'used.json');
const tokensPath = (runDir: string, round: number): string => path.join(roundPaths(runDir, round).dir, 'tokens.json');

/** The text a prompt shows (its last user turn), for prompt similarity. */
export function promptText(p: RolloutPrompt): string {
  if (typeof p.prompt === 'string') return p.prompt;
  const users = p.prompt.filter((m) => m.role === 'user');
  return (users[users.length - 1] ?? p.prompt[p.prompt.length - 1])?.content ?? '';
}

/** A batch's header fields that the loop decides (the rest comes from the config). */
export interface BatchHeader {
  readonly round: number;
  readonly policyRound: number;
  readonly policyStep: number;
  readonly now: number;
}

/** Picks the round's pairs from its sample, writes tokens.json, then publishes pairs.jsonl and batch.json. */
export function publishRound(runDir: string, cfg: HumanDpoConfig, seed: number, h: BatchHeader, sample: RoundSample): RoundBatch {
  const picked = selectPairs(sample.completions, { method: cfg.selection, pairs: cfg.pairsPerRound, promptTexts: sample.prompts.map(promptText), diversityWeight: cfg.diversityWeight, seed: seed + h.round });
  const pairs: RoundPair[] = picked.map((s, i) => {
    const p = sample.prompts[s.promptIndex] as RolloutPrompt;
    const [a, b] = [sample.completions[s.a], sample.completions[s.b]] as [RoundSample['completions'][number], RoundSample['completions'][number]];
    const prompt = typeof p.prompt === 'string' ? [{ role: 'user', content: p.prompt }] : p.prompt.map((m) => ({ role: m.role, content: m.content }));
    return { id: roundPairId(h.round, i), prompt, chosen: roundCandidate(a.text), rejected: roundCandidate(b.text), round: h.round, policy_round: h.policyRound, prompt_id: p.id, selection: { method: cfg.selection, score: s.score, probabilities: s.probabilities }, ended: { chosen: a.terminated, rejected: b.terminated } };
  });
  const tokens: TokensFile = {
    v: 1,
    pairs: picked.map((s) => {
      const t = (i: number): SideTokens => ((c) => ({ ids: [...c.ids], refLogp: c.refLogp, terminated: c.terminated }))(sample.completions[i] as RoundSample['completions'][number]);
      return { promptIds: [...(sample.promptIds[s.promptIndex] as number[])], a: t(s.a), b: t(s.b) };
    }),
  };
  const wanted = cfg.feedbackMode === 'judge-audit' ? Math.max(1, Math.ceil(cfg.auditFraction * pairs.length)) : Math.min(cfg.humanLabelsPerRound, pairs.length);
  const batch: RoundBatch = {
    v: 1,
    round: h.round,
    policyRound: h.policyRound,
    policyStep: h.policyStep,
    state: 'waiting',
    pairs: pairs.length,
    wanted,
    mode: cfg.feedbackMode,
    selection: cfg.selection,
    publishedAt: h.now,
    deadline: cfg.roundTimeoutSeconds > 0 ? h.now + cfg.roundTimeoutSeconds * 1000 : null,
    onTimeout: cfg.onTimeout,
  };
  writeFileDurable(tokensPath(runDir, h.round), JSON.stringify(tokens) + '\n');
  publishBatch(runDir, batch, pairs);
  return batch;
}

/** The pairs of a published round as the trainer takes them (prompts found by id in the run's prompts). */
export function roundTrainPairs(runDir: string, round: number, pairs: readonly RoundPair[], prompts: ReadonlyMap<string, RolloutPrompt>): HumanDpoPair[] {
  const file = tokensPath(runDir, round);
  const t = readJson(file, tokensFile, 'tokens');
  if (t.pairs.length !== pairs.length) throw new SessionInputError(`${file}: ${t.pairs.length} pairs, but the batch has ${pairs.length}`);
  return pairs.map((p, i) => {
    const prompt = prompts.get(p.prompt_id);
    if (!prompt) throw new SessionInputError(`${roundPaths(runDir, round).pairs}:${i + 1}: prompt_id ${JSON.stringify(p.prompt_id)} is not among the run's prompts (was data.path changed?)`);
    const s = t.pairs[i] as TokensFile['pairs'][number];
    return { prompt, promptIds: s.promptIds, a: { ...s.a, text: candidateText(p.chosen) }, b: { ...s.b, text: candidateText(p.rejected) } };
  });
}

/** Writes round `round`'s used.json. */
export function writeUsed(runDir: string, round: number, labels: readonly UsedLabel[]): void {
  writeFileDurable(usedPath(runDir, round), JSON.stringify({ v: 1, round, labels }, null, 1) + '\n');
}

/** Round `round`'s used labels, or undefined when it has none on disk. */
export function readUsed(runDir: string, round: number): UsedLabel[] | undefined {
  const file = usedPath(runDir, round);
  if (!fs.existsSync(file)) return undefined;
  const u = readJson(file, usedFile, 'used');
  if (u.round !== round) throw new SessionInputError(`${file}: used.round is ${u.round}, expected ${round}`);
  return u.labels;
}
