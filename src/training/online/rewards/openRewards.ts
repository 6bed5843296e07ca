/**
 * Every entry of a run spec's `rewards.functions` (already validated by src/core/runs/specRewards.ts) as a weighted
 * reward function, in the spec's order: the built-ins (./builtin.ts), reward models (./rewardModelReward.ts), user
 * modules (./moduleReward.ts) and LLM judges (./judgeReward.ts). Sources that hold resources (a loaded reward
 * model, a worker thread) are released by `dispose`.
 *
 * Problems with a source (a missing folder, a model that is not a reward model, a module that does not load or
 * runs in an untrusted workspace, a bad judge URL) are {@link RewardSourceError}s that name the entry's JSON path,
 * so the user knows which field of which entry to fix. Everything opened before the failure is released.
 */
import * as path from 'node:path';
import type { RewardEntrySpec, RewardsSpec } from '../../../core/runs/specRewards';
import type { RewardSourceSpec } from '../../../core/runs/specRewardSources';
import type { DeviceRequest } from '../../../engine/runtime/devices';
import { builtinRewardFunction } from './builtin';
import { judgeReward, type JudgeRewardOptions } from './judgeReward';
import { ModuleReward } from './moduleReward';
import type { RewardFunction, WeightedReward } from './rewardFunction';
import { rewardModelReward, RewardModelScorer } from './rewardModelReward';

export interface OpenRewardsContext {
  /** Relative paths resolve against this folder (the workspace). */
  readonly baseDir: string;
  readonly maxCompletionLength: number;
  /** The workspace is trusted (the host says so, or the CLI runs): reward modules may run. */
  readonly trusted: boolean;
  /** A judge's API key (from the session's environment; never from the spec). */
  readonly judgeApiKey?: string;
  /** Where reward models run. */
  readonly device?: DeviceRequest;
  readonly threads?: number;
  /** Chat-client settings for judges (tests: short backoff). */
  readonly judgeClient?: JudgeRewardOptions['client'];
}

export interface OpenedRewards {
  readonly rewards: WeightedReward[];
  /** Releases reward models and module workers. */
  dispose(): Promise<void>;
}

/** A reward source that cannot be used; the message starts with the entry's JSON path. */
export class RewardSourceError extends Error {
  override readonly name = 'RewardSourceError';
}

const isSource = (f: RewardEntrySpec): f is RewardSourceSpec => f.kind === 'reward_model' || f.kind === 'module' || f.kind === 'judge';

/** One source's reward function, and how to release it. */
async function openSource(f: RewardSourceSpec, ctx: OpenRewardsContext, timeoutMs: number): Promise<{ fn: RewardFunction; dispose?: () => Promise<void> }> {
  switch (f.kind) {
    case 'reward_model': {
      const scorer = await RewardModelScorer.open({ name: f.name, dir: path.resolve(ctx.baseDir, f.path), ...(f.maxLength !== undefined ? { maxLength: f.maxLength } : {}), ...(ctx.device ? { device: ctx.device } : {}), ...(ctx.threads ? { threads: ctx.threads } : {}) });
      return { fn: rewardModelReward(f.name, scorer), dispose: () => scorer.dispose() };
    }
    case 'module': {
      const m = new ModuleReward({ name: f.name, modulePath: path.resolve(ctx.baseDir, f.path), exportName: f.export, trusted: ctx.trusted, timeoutMs });
      try {
        await m.load();
      } catch (e) {
        await m.dispose();
        throw e;
      }
      return { fn: m, dispose: () => m.dispose() };
    }
    case 'judge':
      return { fn: judgeReward({ name: f.name, baseUrl: f.baseUrl, model: f.model, ...(ctx.judgeApiKey ? { apiKey: ctx.judgeApiKey } : {}), ...(f.instructions ? { instructions: f.instructions } : {}), ...(ctx.judgeClient ? { client: ctx.judgeClient } : {}) }) };
  }
}

const WHICH_FIELD: Readonly<Record<RewardSourceSpec['kind'], string>> = { reward_model: 'path', module: 'path', judge: 'baseUrl' };

/** The weighted reward functions of a spec's `rewards` section (see module comment). */
export async function openRewards(spec: RewardsSpec, ctx: OpenRewardsContext): Promise<OpenedRewards> {
  const disposers: (() => Promise<void>)[] = [];
  const dispose = async (): Promise<void> => {
    for (const d of disposers.splice(0).reverse()) await d();
  };
  const rewards: WeightedReward[] = [];
  for (const [i, f] of spec.functions.entries()) {
    if (!isSource(f)) {
      rewards.push({ fn: builtinRewardFunction(f, ctx.maxCompletionLength), weight: f.weight });
      continue;
    }
    try {
      const opened = await openSource(f, ctx, spec.timeoutSeconds * 1000);
      if (opened.dispose) disposers.push(opened.dispose);
      rewards.push({ fn: opened.fn, weight: f.weight });
    } catch (e) {
      await dispose();
      throw new RewardSourceError(`rewards.functions[${i}].${WHICH_FIELD[f.kind]} (${f.kind} "${f.name}"): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { rewards, dispose };
}
