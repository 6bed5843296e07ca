/**
 * The session side of the refit of a run with a person (`refit_reward_model`, `refit_policy`;
 * src/training/online/humanRefit.ts has the model side): opening it, the pairs it fits (every decisive label of the
 * person that the updates so far took, read from the rounds' used.json), and its state in checkpoints.
 */
import * as path from 'node:path';
import { isPersonSource, readRoundPairs } from '../core/runs/rounds';
import type { RunSpec } from '../core/runs/spec';
import type { HumanDpoConfig, HumanDpoPair } from '../training/online/humanDpoTrainer';
import { HumanRefit, readRefitState, type RefitPair } from '../training/online/humanRefit';
import type { RolloutPrompt } from '../training/online/rollout';
import type { EventSink } from './events';
import { readUsed, roundTrainPairs } from './humanRounds';
import type { RunModel } from './model';
import { sessionPolicyOptions, type OnlineTrainerBasics } from './onlineDpo';
import { SessionInputError } from './types';

/** The refit of the run, or undefined when `refit_reward_model` is off. Its optimizer runs at the run's rate, constant. */
export async function openHumanRefit(spec: RunSpec, cfg: HumanDpoConfig, rm: RunModel, basics: OnlineTrainerBasics, prompts: readonly RolloutPrompt[]): Promise<HumanRefit | undefined> {
  if (!cfg.refit.rewardModel) return undefined;
  const sampling = { maxNewTokens: cfg.maxNewTokens, temperature: cfg.temperature, topK: cfg.topK, topP: cfg.topP, samplesPerPrompt: cfg.samplesPerPrompt, promptsPerRound: cfg.promptsPerRound };
  return HumanRefit.create({
    ...sessionPolicyOptions(spec, rm, prompts, basics),
    refit: cfg.refit,
    sampling,
    stopStrings: spec.generation?.stop ?? [],
    microBatchPairs: spec.batchSize,
    optim: { ...basics.optim, schedule: { kind: 'constant', warmupSteps: 0 } },
  });
}

/** Every decisive label of the person that the updates of rounds 1..round took, as pairs in token ids. */
export function personRefitPairs(runDir: string, round: number, prompts: ReadonlyMap<string, RolloutPrompt>): RefitPair[] {
  const byRound = new Map<number, HumanDpoPair[]>();
  const out: RefitPair[] = [];
  for (let r = 1; r <= round; r++) {
    for (const l of readUsed(runDir, r) ?? []) {
      if (!isPersonSource(l.source)) continue;
      if (!byRound.has(l.round)) byRound.set(l.round, roundTrainPairs(runDir, l.round, readRoundPairs(runDir, l.round), prompts));
      const p = byRound.get(l.round)?.[Number(/-p(\d+)$/.exec(l.id)?.[1])];
      if (!p) throw new SessionInputError(`round ${r}: used label ${l.id} names no pair of round ${l.round}`);
      const [w, lo] = l.preferred === 'chosen' ? [p.a, p.b] : [p.b, p.a];
      out.push({ id: l.id, promptIds: p.promptIds, chosen: w.ids, rejected: lo.ids });
    }
  }
  return out;
}

/** Restores the refit from the checkpoint folder `dir` (relative to the run); a checkpoint without it starts the refit afresh, and says so. */
export async function resumeHumanRefit(refit: HumanRefit, runDir: string, dir: string, sink: EventSink): Promise<void> {
  let state: ReturnType<typeof readRefitState>;
  try {
    state = readRefitState(path.join(runDir, dir));
  } catch (e) {
    throw new SessionInputError(`${dir}: the refit reward model cannot be read: ${(e as Error).message}`);
  }
  if (!state) {
    sink.warning({ message: `${dir} has no refit reward model (it was saved before refit_reward_model was on); the reward model is fitted afresh from the labels so far` });
    return;
  }
  await refit.restore(state);
}
