/**
 * A session of an online method (GRPO, RLOO, PPO, online DPO), from a resolved run spec to `<run>/final`:
 *
 *   data      the train split's prompts (prompt-only rows keep their columns, e.g. a verifier's `answer`; other
 *             kinds of data contribute their distinct prompts); the eval split's prompts are held out
 *   model     as an offline run (memory estimate first), with the causal-LM head
 *   trainer   OnlineTrainer (src/training/online): the method from the spec's hyperparameters (the card's TRL
 *             names), the spec's reward functions, batchSize completions per micro-batch, batchSize x
 *             gradientAccumulationSteps completions (that many / num_generations prompts) per rollout; PPO's
 *             trainer, sizes and value model: onlinePpo.ts
 *   steps     optimizer steps, as TRL counts them: each rollout is `num_iterations` of them; maxSteps (rounded up
 *             to whole rollouts) or epochs over the prompts
 *   resume    the newest readable checkpoint restores the trainer (parameters, AdamW, LR schedule; PPO's kl_coef)
 *             and the rollout count; prompts and sampling seeds are functions of the rollout count, so a resumed
 *             run continues exactly as an uninterrupted one
 *   loop      onlineLoop.ts
 */
import * as path from 'node:path';
import type { Example } from '../core/datasets/examples';
import { methodCard } from '../core/methods';
import type { RunSpec } from '../core/runs/spec';
import { usesRewardFunctions } from '../core/runs/specRewards';
import { JUDGE_API_KEY_ENV, WORKSPACE_TRUSTED_ENV } from '../core/runs/specRewardSources';
import { grpoConfig, grpoMethod } from '../training/online/grpo';
import type { OnlineDpoConfig } from '../training/online/onlineDpo';
import type { OnlineMethod } from '../training/online/onlineMethod';
import { OnlineTrainer } from '../training/online/onlineTrainer';
import { rewardOptionsFromSpec } from '../training/online/rewards/builtin';
import { openRewards, RewardSourceError, type OpenedRewards } from '../training/online/rewards/openRewards';
import { MissingRewardFieldError } from '../training/online/rewards/rewardFunction';
import { rlooConfig, rlooMethod } from '../training/online/rloo';
import type { RolloutPrompt } from '../training/online/rollout';
import type { OnlineRunTrainer } from '../training/online/runTrainer';
import { resumeCheckpoint } from './resume';
import { loadSplit } from './data';
import type { EventSink } from './events';
import type { RunModel } from './model';
import { createOnlineDpoTrainer, onlineDpoSchedule, sessionOnlineDpoConfig, sessionRewardedOptions, type OnlineTrainerBasics } from './onlineDpo';
import { OnlineLoop, type OnlineSchedule } from './onlineLoop';
import { createPpoTrainer, ppoSchedule, ppoSpecConfig } from './onlinePpo';
import { specOptim } from './optim';
import { loadFittingModel } from './plan';
import { SessionInputError, type SessionOptions, type SessionResult } from './types';

/** The methods this module trains: those trained against the spec's reward functions. */
export function isOnlineRlMethod(method: RunSpec['method']): boolean {
  return usesRewardFunctions(methodCard(method));
}

/** A run's prompts: prompt rows as they are (with their columns), other examples' distinct prompts. */
export function rolloutPrompts(examples: readonly Example[]): RolloutPrompt[] {
  const seen = new Set<string>();
  const out: RolloutPrompt[] = [];
  for (const e of examples) {
    if (e.style === 'messages') continue;
    if (e.kind !== 'prompt') {
      const key = JSON.stringify(e.prompt);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push({ id: e.id, prompt: e.prompt, source: e.source, ...(e.kind === 'prompt' && e.fields ? { fields: e.fields } : {}) });
  }
  return out;
}

/** The online method of the spec (its hyperparameters were validated against the card). */
export function onlineMethod(spec: RunSpec): OnlineMethod {
  const stop = spec.generation?.stop ?? [];
  try {
    return spec.method === 'grpo' ? grpoMethod(grpoConfig(spec.hyperparameters), stop) : rlooMethod(rlooConfig(spec.hyperparameters), stop);
  } catch (e) {
    throw new SessionInputError((e as Error).message);
  }
}

/** Rollouts, optimizer steps and prompts per rollout of a run over `prompts` prompts. */
export function onlineSchedule(spec: RunSpec, method: OnlineMethod, prompts: number): OnlineSchedule {
  const k = method.sampling.numGenerations;
  const completions = spec.batchSize * spec.gradientAccumulationSteps;
  if (completions % k !== 0) throw new SessionInputError(`batchSize x gradientAccumulationSteps (${completions}) must be a multiple of hyperparameters.num_generations (${k})`);
  const promptsPerStep = completions / k;
  const mu = method.numIterations;
  const rollouts = spec.maxSteps > 0 ? Math.ceil(spec.maxSteps / mu) : Math.max(1, Math.ceil((spec.epochs * prompts) / promptsPerStep));
  return { rollouts, total: rollouts * mu, stepsPerRollout: mu, promptsPerStep, prompts };
}

/** Runs an online session (see module comment); errors propagate to runSession, which reports them. */
export async function runOnlineSession(spec: RunSpec, opts: SessionOptions, sink: EventSink, disposers: (() => Promise<void>)[], setStep: (s: number) => void): Promise<SessionResult> {
  if (!spec.rewards) throw new SessionInputError(`rewards: ${spec.method} needs reward functions`);
  if (spec.dtype !== 'float32') sink.warning({ message: `dtype ${spec.dtype}: training runs in float32 on this engine` });
  if (spec.lora && spec.lora.dropout > 0) sink.warning({ message: `lora.dropout ${spec.lora.dropout} is not applied (this engine trains LoRA without dropout)` });
  if (spec.earlyStopping) sink.warning({ message: `earlyStopping is not applied to ${spec.method} runs (they have no eval pass); the run trains for all its steps` });
  const baseDir = opts.baseDir ?? process.cwd();
  const split = await loadSplit(spec, baseDir, sink);
  const prompts = rolloutPrompts(split.train);
  if (!prompts.length) throw new SessionInputError(`data.path: ${spec.data.path} has no prompts to sample from`);
  if (split.eval.length) sink.warning({ message: `data.evalSplit ${spec.data.evalSplit}: ${split.eval.length} examples are held out and not trained on (online runs have no eval pass; set data.evalSplit 0 to train on all prompts)` });
  const rm = loadFittingModel(spec, 'lm', opts, baseDir, sink);
  const { trainer, sched } = await createSessionTrainer(spec, opts, rm, prompts, sink, disposers);
  disposers.push(() => trainer.dispose());
  const rollouts = await resumeOnline(opts, spec, trainer, sched, sink);
  setStep(rollouts * sched.stepsPerRollout);
  sink.started({
    runId: path.basename(path.resolve(opts.runDir)),
    method: spec.method,
    pid: process.pid,
    device: trainer.device,
    model: rm.label,
    totalSteps: sched.total,
    examples: { train: prompts.length, eval: split.eval.length },
    parameters: parameterCounts(rm),
  });
  return new OnlineLoop({ spec, opts, sink, rm, trainer, sched, prompts, setStep }).run();
}

/**
 * The spec's reward functions, opened: reward models loaded on the run's device, module workers started (only in a
 * trusted workspace), judges with the API key from the session's environment.
 */
export async function openSpecRewards(spec: RunSpec, opts: SessionOptions, baseDir: string, maxCompletionLength: number): Promise<OpenedRewards> {
  const apiKey = process.env[JUDGE_API_KEY_ENV];
  try {
    return await openRewards(spec.rewards as NonNullable<RunSpec['rewards']>, {
      baseDir,
      maxCompletionLength,
      trusted: opts.trustedWorkspace ?? process.env[WORKSPACE_TRUSTED_ENV] === '1',
      ...(apiKey ? { judgeApiKey: apiKey } : {}),
      device: spec.device,
      ...(opts.threads ? { threads: opts.threads } : {}),
    });
  } catch (e) {
    if (e instanceof RewardSourceError) throw new SessionInputError(e.message);
    throw e;
  }
}

/** The method's schedule and trainer (GRPO / RLOO, or online DPO), with the spec's reward functions opened. */
async function createSessionTrainer(spec: RunSpec, opts: SessionOptions, rm: RunModel, prompts: RolloutPrompt[], sink: EventSink, disposers: (() => Promise<void>)[]): Promise<{ trainer: OnlineRunTrainer; sched: OnlineSchedule }> {
  if (spec.method === 'ppo') return createSessionPpoTrainer(spec, opts, rm, prompts, sink, disposers);
  const dpo = spec.method === 'online-dpo' ? sessionOnlineDpoConfig(spec) : undefined;
  const method = dpo ? undefined : onlineMethod(spec);
  const maxNew = dpo ? dpo.maxNewTokens : (method as OnlineMethod).sampling.maxCompletionLength;
  const sched = method ? onlineSchedule(spec, method, prompts.length) : onlineDpoSchedule(spec, prompts.length);
  const rewards = await openSpecRewards(spec, opts, opts.baseDir ?? process.cwd(), maxNew);
  disposers.push(() => rewards.dispose());
  const basics = trainerBasics(spec, opts, rm, { value: maxNew, name: dpo ? 'max_new_tokens' : 'max_completion_length' }, sched, sink, rewards);
  try {
    return { sched, trainer: method ? await createOnlineTrainer(spec, rm, method, prompts, sched, basics) : await createOnlineDpoTrainer(spec, rm, dpo as OnlineDpoConfig, prompts, sched, basics) };
  } catch (e) {
    if (e instanceof MissingRewardFieldError) throw new SessionInputError(`rewards: ${e.message}`);
    throw e;
  }
}

/** PPO's schedule and trainer (onlinePpo.ts), with the spec's reward functions opened. */
async function createSessionPpoTrainer(spec: RunSpec, opts: SessionOptions, rm: RunModel, prompts: RolloutPrompt[], sink: EventSink, disposers: (() => Promise<void>)[]): Promise<{ trainer: OnlineRunTrainer; sched: OnlineSchedule }> {
  const cfg = ppoSpecConfig(spec);
  const sched = ppoSchedule(spec, cfg, prompts.length);
  const baseDir = opts.baseDir ?? process.cwd();
  const rewards = await openSpecRewards(spec, opts, baseDir, cfg.responseLength);
  disposers.push(() => rewards.dispose());
  const basics = trainerBasics(spec, opts, rm, { value: cfg.responseLength, name: 'response_length' }, sched, sink, rewards);
  try {
    return { sched, trainer: await createPpoTrainer({ spec, rm, cfg, prompts, sched, ...basics, baseDir, sink }) };
  } catch (e) {
    if (e instanceof MissingRewardFieldError) throw new SessionInputError(`rewards: ${e.message}`);
    throw e;
  }
}

/** What every online trainer takes from the spec: the opened rewards, the prompt limit, the optimizer with the spec's schedule. */
export function trainerBasics(spec: RunSpec, opts: SessionOptions, rm: RunModel, maxNew: { value: number; name: string }, sched: Pick<OnlineSchedule, 'total'>, sink: EventSink, opened: OpenedRewards | undefined): OnlineTrainerBasics {
  // Prompts keep their last tokens so that prompt + completion fit the model's positions.
  const room = rm.model.maxLength - maxNew.value;
  if (room < 1) throw new SessionInputError(`hyperparameters.${maxNew.name} ${maxNew.value} leaves no room for a prompt in the model's ${rm.model.maxLength} positions (data.maxLength ${spec.data.maxLength}); lower it or raise data.maxLength`);
  const maxPromptLength = Math.min(spec.data.maxPromptLength ?? room, room);
  if (spec.data.maxPromptLength !== undefined && maxPromptLength < spec.data.maxPromptLength) sink.warning({ message: `prompts keep their last ${maxPromptLength} tokens (data.maxPromptLength ${spec.data.maxPromptLength} + ${maxNew.name} ${maxNew.value} exceed the model's ${rm.model.maxLength} positions)` });
  return {
    rewards: opened?.rewards ?? [],
    rewardOptions: spec.rewards ? rewardOptionsFromSpec(spec.rewards) : {},
    maxPromptLength,
    optim: specOptim(spec, sched.total, rm),
    ...(opts.threads ? { threads: opts.threads } : {}),
  };
}

/** The GRPO / RLOO trainer: the method, the reward functions, batchSize completions per micro-batch. */
async function createOnlineTrainer(spec: RunSpec, rm: RunModel, method: OnlineMethod, prompts: RolloutPrompt[], sched: OnlineSchedule, basics: OnlineTrainerBasics): Promise<OnlineTrainer> {
  return OnlineTrainer.create({ ...sessionRewardedOptions(spec, rm, prompts, basics), method, promptsPerStep: sched.promptsPerStep, microBatchRows: spec.batchSize });
}

/** Restores the newest usable checkpoint; returns the rollouts done (0 for a fresh run). */
async function resumeOnline(opts: SessionOptions, spec: RunSpec, trainer: OnlineRunTrainer, sched: OnlineSchedule, sink: EventSink): Promise<number> {
  const c = resumeCheckpoint(opts.runDir, spec, sink, opts.restartFromScratch === true);
  if (!c) return 0;
  if (c.step % sched.stepsPerRollout !== 0 || c.step > sched.total) throw new SessionInputError(`${c.path} is at step ${c.step}, which does not fit this run (${sched.total} steps, ${sched.stepsPerRollout} per rollout)`);
  const rollouts = c.step / sched.stepsPerRollout;
  await trainer.restore({ train: c.state, rollouts, tokensSeen: c.trainer.numTokens, ...(c.trainer.online ? { extra: c.trainer.online } : {}) });
  sink.warning({ message: `resuming from ${c.path} (step ${c.step} of ${sched.total})`, step: c.step });
  return rollouts;
}

export function parameterCounts(rm: RunModel): { total: number; trainable: number } {
  let total = 0;
  let trainable = 0;
  for (const p of rm.model.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    total += n;
    if (p.trainable !== false) trainable += n;
  }
  return { total, trainable };
}
