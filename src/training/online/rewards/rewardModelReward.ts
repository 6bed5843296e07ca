/**
 * A reward model as a reward function: a trained reward-model run (its `final/`) or a Hugging Face
 * sequence-classification folder (a one-output `score` head) scores each sample in the session process, in
 * batches, on the run's device.
 *
 * The reward model reads text, not the policy's token ids: each sample's prompt and completion text are encoded
 * with the reward model's own tokenizer (and chat template), exactly as `alignment rm-score` and reward-model
 * training encode a pair's prompt and response (src/training/encode.ts: a text completion gets EOS; a
 * conversational prompt gets the completion as an assistant turn). So a policy whose tokenizer differs from the
 * reward model's gets the score of its decoded text, and a sample scores what the same text scores in an RM
 * evaluation. Rows longer than the reward model's limit are cut by TRL's rules (the prompt keeps its end, the
 * completion its start).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { truncateTokenized } from '../../../core/datasets/prepare';
import { loadHfModel } from '../../../engine/models/hfMapping';
import { buildModel } from '../../../engine/models/transformer';
import type { DeviceRequest } from '../../../engine/runtime/devices';
import { TextTokenizer } from '../../../engine/tokenizer/tokenizer';
import { promptCompletionRow, type Row } from '../../batching';
import { encodeWithPrompt } from '../../encode';
import { SequenceScorer } from '../../evaluate';
import type { RewardFunction, RewardSample } from './rewardFunction';

export interface RewardModelRewardOptions {
  /** Metric and error name. */
  readonly name: string;
  /** A reward model folder, or a run folder whose `final/` is one (absolute). */
  readonly dir: string;
  /** Token limit of prompt + completion (capped by the model's positions; default min(positions, 1024)). */
  readonly maxLength?: number;
  /** Rows per forward pass (default 8). */
  readonly batch?: number;
  readonly device?: DeviceRequest;
  readonly threads?: number;
}

/** A folder that is not a usable reward model; the message says which and why. */
export class RewardModelSourceError extends Error {
  override readonly name = 'RewardModelSourceError';
}

/** The model folder of `dir`: itself when it holds config.json, else its `final/` (a run folder). */
export function rewardModelFolder(dir: string): string {
  if (fs.existsSync(path.join(dir, 'config.json'))) return dir;
  if (fs.existsSync(path.join(dir, 'final', 'config.json'))) return path.join(dir, 'final');
  if (!fs.existsSync(dir)) throw new RewardModelSourceError(`no folder at ${dir}`);
  throw new RewardModelSourceError(`${dir} is not a model folder (no config.json) or a run folder with a saved final/ model`);
}

/** A loaded reward model: the text -> reward scorer behind {@link rewardModelReward}. */
export class RewardModelScorer {
  private constructor(
    readonly dir: string,
    private readonly tok: TextTokenizer,
    private readonly scorer: SequenceScorer,
  ) {}

  static async open(opts: RewardModelRewardOptions): Promise<RewardModelScorer> {
    const dir = rewardModelFolder(opts.dir);
    const loaded = loadHfModel(dir);
    if (loaded.head !== 'score') throw new RewardModelSourceError(`${dir} is not a reward model: its head is "${loaded.head}", not a sequence-classification "score" head`);
    const tok = TextTokenizer.fromFolder(dir);
    const seqLen = Math.min(opts.maxLength ?? 1024, loaded.config.maxPositions);
    const model = buildModel(loaded.config, loaded.head, { maxLength: seqLen });
    const runner = { ...(opts.device ? { device: opts.device } : {}), ...(opts.threads ? { threads: opts.threads } : {}) };
    const scorer = await SequenceScorer.create(model, 'reward', { batch: opts.batch ?? 8, seqLen, padId: tok.padTokenId ?? 0 }, runner);
    try {
      await scorer.setWeights(new Map([...loaded.weights].map(([k, v]) => [k, v.data])));
    } catch (e) {
      await scorer.dispose();
      throw e;
    }
    return new RewardModelScorer(dir, tok, scorer);
  }

  /** The reward model's row for a prompt and a completion text (see module comment). */
  row(prompt: RewardSample['prompt']['prompt'], completion: string): Row {
    const { prompt: p, completions } = typeof prompt === 'string' ? encodeWithPrompt(this.tok, prompt, [completion]) : encodeWithPrompt(this.tok, prompt, [[{ role: 'assistant', content: completion }]]);
    const c = completions[0] as number[];
    const [cut] = truncateTokenized([{ id: '', prompt: p, completions: [c] }], { maxLength: this.scorer.seqLen }).examples;
    return promptCompletionRow(cut?.prompt ?? p, cut?.completions[0] ?? c);
  }

  /** The reward of each (prompt, completion text). */
  async score(items: readonly { readonly prompt: RewardSample['prompt']['prompt']; readonly completion: string }[]): Promise<number[]> {
    if (!items.length) return [];
    return [...(await this.scorer.score(items.map((x) => this.row(x.prompt, x.completion))))];
  }

  async dispose(): Promise<void> {
    await this.scorer.dispose();
  }
}

/** The reward function of a loaded reward model: one score per sample, from its prompt and completion text. */
export function rewardModelReward(name: string, scorer: RewardModelScorer): RewardFunction {
  return { name, score: (samples) => scorer.score(samples.map((s) => ({ prompt: s.prompt.prompt, completion: s.completion }))) };
}
