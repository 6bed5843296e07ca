/**
 * From a method, its hyperparameters and loaded examples to a TrainerPlan: picks the model head, encodes the
 * examples the way the method needs them (pairs, labeled completions, rated completions or SFT sequences),
 * chooses the static row length and calls the method's trainer factory. Reports what encoding changed
 * (truncation counts) and what it could not use.
 */
import type { Example, PreferenceExample, SftExample, UnpairedExample } from '../core/datasets/examples';
import { unpairPreferences } from '../core/datasets/formats';
import { packSequences, type PackingReport, type TruncationReport } from '../core/datasets/prepare';
import type { MethodId } from '../core/methods';
import type { HeadKind } from '../engine/models/params';
import type { TransformerModel } from '../engine/models/transformer';
import type { TextTokenizer } from '../engine/tokenizer/tokenizer';
import { sequenceLength } from './batching';
import { cpoConfig, createCpoPlan } from './cpo';
import { createDpoPlan, dpoConfig } from './dpo';
import { encodePairs, encodeRated, encodeSft, encodeUnpaired, examplesOfKind, NO_TRUNCATION, type EncodeLimits } from './encode';
import type { Hyperparameters } from './hyper';
import { createKtoPlan, ktoConfig } from './kto';
import { createOrpoPlan, orpoConfig } from './orpo';
import type { Splits } from './pairs';
import type { TrainerPlan } from './plan';
import { createRegressionPlan, createRewardPlan, regressionConfig, rewardConfig } from './reward';
import { createPackedSftPlan, createSftPlan, sftConfig } from './sft';
import { createSimpoPlan, simpoConfig } from './simpo';
import { UserError } from '../util/errors';

/** The methods this module trains (the online ones run elsewhere). */
export const OFFLINE_METHODS: readonly MethodId[] = ['sft', 'reward', 'reward-regression', 'dpo', 'kto', 'orpo', 'simpo', 'cpo'];

export function isOfflineMethod(m: MethodId): boolean {
  return OFFLINE_METHODS.includes(m);
}

/** The head a method trains: a score head for reward models, the LM head otherwise. */
export function headFor(method: MethodId): HeadKind {
  return method === 'reward' || method === 'reward-regression' ? 'score' : 'lm';
}

export interface BuildPlanInput {
  readonly method: MethodId;
  readonly hyperparameters: Hyperparameters;
  readonly model: TransformerModel;
  readonly weights: ReadonlyMap<string, Float32Array>;
  readonly tokenizer: TextTokenizer;
  readonly examples: Splits<Example>;
  readonly limits: EncodeLimits;
  readonly batchSize: number;
}

/** What SFT packing did (train and eval together), for the session to report. */
export interface PackingSummary {
  /** Sequences packed. */
  readonly examples: number;
  /** Rows they were packed into (the plan's examples). */
  readonly packs: number;
  readonly train: { readonly examples: number; readonly packs: number };
  readonly eval: { readonly examples: number; readonly packs: number };
  /** Real tokens in all packs. */
  readonly tokens: number;
  /** Static row length T the packs are padded to. */
  readonly rowLength: number;
  /** Padding tokens / (packs * rowLength). */
  readonly paddingFraction: number;
  /** Sequences longer than a row, cut at their end before packing, and the tokens cut. */
  readonly truncated: number;
  readonly tokensDropped: number;
}

export interface BuiltPlan {
  readonly plan: TrainerPlan;
  readonly truncation: TruncationReport;
  /** Set when the SFT sequences were packed. */
  readonly packing?: PackingSummary;
  /** Examples the method could not use (e.g. pairs without ratings for regression), with why. */
  readonly unusable: readonly { readonly id: string; readonly reason: string }[];
}

/** Problems of a data set for a method, as sentences (empty when usable). */
export class PlanDataError extends UserError {
  override readonly name = 'PlanDataError';
}

function sum(a: TruncationReport, b: TruncationReport): TruncationReport {
  return {
    examples: a.examples + b.examples,
    promptsTruncated: a.promptsTruncated + b.promptsTruncated,
    completionsTruncated: a.completionsTruncated + b.completionsTruncated,
    tokensDropped: a.tokensDropped + b.tokensDropped,
  };
}

function wrongKind(method: MethodId, want: string, xs: readonly Example[]): PlanDataError {
  const kinds = [...new Set(xs.map((e) => e.kind))].join(', ') || 'none';
  return new PlanDataError(`${method} trains on ${want} examples; the data holds ${kinds}`);
}

function packingSummary(train: PackingReport, evalSplit: PackingReport, packs: readonly { readonly ids: readonly number[] }[], rowLength: number): PackingSummary {
  const tokens = packs.reduce((n, p) => n + p.ids.length, 0);
  return {
    examples: train.sequences + evalSplit.sequences,
    packs: packs.length,
    train: { examples: train.sequences, packs: train.packs },
    eval: { examples: evalSplit.sequences, packs: evalSplit.packs },
    tokens,
    rowLength,
    paddingFraction: packs.length ? 1 - tokens / (packs.length * rowLength) : 0,
    truncated: train.truncated + evalSplit.truncated,
    tokensDropped: train.tokensDropped + evalSplit.tokensDropped,
  };
}

/** One line for the session's events: what packing did. */
export function describePacking(p: PackingSummary, batchSize: number): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const few = p.train.packs < batchSize ? `; fewer train packs than batchSize ${batchSize}, so a batch repeats packs` : '';
  return (
    `packing: ${p.examples} examples into ${p.packs} packs of ${p.rowLength} tokens (train ${p.train.examples} into ${p.train.packs}, eval ${p.eval.examples} into ${p.eval.packs}), ` +
    `${p.tokens} tokens, padding ${pct(p.paddingFraction)}, ${p.truncated} truncated (${p.tokensDropped} tokens dropped)${few}`
  );
}

/** Encodes the data for `method` and builds its plan. */
export function buildPlan(input: BuildPlanInput): BuiltPlan {
  const { method, tokenizer: tok, limits, examples } = input;
  const padId = tok.padTokenId ?? 0;
  const all = [...examples.train, ...examples.eval];
  const unusable: { id: string; reason: string }[] = [];
  const common = { model: input.model, weights: input.weights, batchSize: input.batchSize, padId };
  const T = (lengths: Iterable<number>): number => sequenceLength(lengths, Math.min(limits.maxLength, input.model.maxLength));

  const pairsOf = (xs: readonly Example[]): PreferenceExample[] => examplesOfKind(xs, 'preference');
  switch (method) {
    case 'sft': {
      const cfg = sftConfig(input.hyperparameters);
      const sftOf = (xs: readonly Example[]): SftExample[] => {
        const s = examplesOfKind(xs, 'sft');
        // Preference pairs can fine-tune on their chosen completions (TRL does the same for SFT on pair data).
        const fromPairs = pairsOf(xs).map((p): SftExample => (p.style === 'conversational' ? { kind: 'sft', id: p.id, source: p.source, format: p.format, style: 'conversational', prompt: p.prompt, completion: p.chosen } : { kind: 'sft', id: p.id, source: p.source, format: p.format, style: 'text', prompt: p.prompt, completion: p.chosen }));
        return [...s, ...fromPairs];
      };
      const tr = sftOf(examples.train);
      if (!tr.length) throw wrongKind(method, 'SFT (prompt/completion or messages) or preference', all);
      const completionOnly = cfg.completionOnlyLoss || cfg.assistantOnlyLoss;
      const a = encodeSft(tok, tr, { ...limits, completionOnly });
      const b = encodeSft(tok, sftOf(examples.eval), { ...limits, completionOnly });
      const truncation = sum(a.report, b.report);
      if (cfg.packing) {
        const cap = Math.min(limits.maxLength, input.model.maxLength);
        const pa = packSequences(a.sequences, cap);
        const pb = packSequences(b.sequences, cap);
        const seqLen = T([...pa.packs, ...pb.packs].map((p) => p.ids.length));
        const plan = createPackedSftPlan({ ...common, seqLen, data: { train: pa.packs, eval: pb.packs } });
        return { plan, truncation, unusable, packing: packingSummary(pa.report, pb.report, [...pa.packs, ...pb.packs], seqLen) };
      }
      const seqLen = T([...a.sequences, ...b.sequences].map((s) => s.ids.length));
      return { plan: createSftPlan({ ...common, seqLen, data: { train: a.sequences, eval: b.sequences } }), truncation, unusable };
    }
    case 'reward':
    case 'dpo':
    case 'orpo':
    case 'simpo':
    case 'cpo': {
      const tr = pairsOf(examples.train);
      if (!tr.length) throw wrongKind(method, 'preference (prompt/chosen/rejected)', all);
      const a = encodePairs(tok, tr, limits);
      const b = encodePairs(tok, pairsOf(examples.eval), limits);
      const seqLen = T([...a.pairs, ...b.pairs].flatMap((p) => [p.prompt.length + p.chosen.length, p.prompt.length + p.rejected.length]));
      const opts = { ...common, seqLen, data: { train: a.pairs, eval: b.pairs } };
      const h = input.hyperparameters;
      const plan =
        method === 'reward'
          ? createRewardPlan(opts, rewardConfig(h))
          : method === 'dpo'
            ? createDpoPlan(opts, dpoConfig(h))
            : method === 'orpo'
              ? createOrpoPlan(opts, orpoConfig(h))
              : method === 'simpo'
                ? createSimpoPlan(opts, simpoConfig(h))
                : createCpoPlan(opts, cpoConfig(h));
      return { plan, truncation: sum(a.report, b.report), unusable };
    }
    case 'kto': {
      const unpaired = (xs: readonly Example[]): UnpairedExample[] => [...examplesOfKind(xs, 'unpaired'), ...unpairPreferences(pairsOf(xs))];
      const tr = unpaired(examples.train);
      if (!tr.length) throw wrongKind(method, 'unpaired (prompt/completion/label) or preference', all);
      const a = encodeUnpaired(tok, tr, limits);
      const b = encodeUnpaired(tok, unpaired(examples.eval), limits);
      const seqLen = T([...a.items, ...b.items].map((e) => e.prompt.length + e.completion.length));
      return { plan: createKtoPlan({ ...common, seqLen, data: { train: a.items, eval: b.items } }, ktoConfig(input.hyperparameters)), truncation: sum(a.report, b.report), unusable };
    }
    case 'reward-regression': {
      const a = encodeRated(tok, pairsOf(examples.train), limits);
      const b = encodeRated(tok, pairsOf(examples.eval), limits);
      for (const e of [...a.unrated, ...b.unrated]) unusable.push({ id: e.id, reason: 'no ratings (scores) on this pair' });
      if (!a.items.length) throw new PlanDataError('reward-regression trains on rated completions (UltraFeedback-style rows with scores); the data has none');
      const seqLen = T([...a.items, ...b.items].map((e) => e.prompt.length + e.completion.length));
      return { plan: createRegressionPlan({ ...common, seqLen, data: { train: a.items, eval: b.items } }, regressionConfig(input.hyperparameters)), truncation: sum(a.report, b.report), unusable };
    }
    default:
      throw new PlanDataError(`${method} is an online method: it is not trained by the offline trainers (sft, reward, reward-regression, dpo, kto, orpo, simpo, cpo)`);
  }
}

export { NO_TRUNCATION };
