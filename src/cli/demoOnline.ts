/**
 * The demo's online stages, each from the SFT model on the pair prompts (never the held-out ones):
 *
 *   grpo / rloo   the proxy reward as a verifiable reward (src/training/online/rewards/proxyReward.ts), which reads
 *                 each prompt's reference answer; each rollout samples `numGenerations` replies for each of
 *                 `promptsPerStep` prompts and takes one optimizer step (num_iterations 1: the ratio is 1, nothing
 *                 is clipped)
 *   ppo           RLHF proper: scored by the demo's trained Bradley-Terry reward model (runs/reward), which also
 *                 starts the value model; one reply per prompt, `ppoEpochs` optimizer steps per rollout
 *
 *   data/prompts.jsonl   {"prompt": [{"role": "user", ...}], "answer": "<the corpus's concise answer>"}
 */
import * as path from 'node:path';
import { MAX_LEN, user, writeJsonl, type DemoRun, type QA } from './demoLab';

/** The online methods the demo can run. */
export type OnlineDemoMethod = 'grpo' | 'rloo' | 'ppo';

/** What every online stage has (TRL's names in the comments). */
interface OnlineStageBase {
  /** Rollouts. */
  readonly steps: number;
  /** Prompts per rollout. */
  readonly promptsPerStep: number;
  readonly learningRate: number;
  /** Most tokens per sampled reply while training (max_completion_length, PPO's response_length); evaluation allows MAX_NEW. */
  readonly maxCompletionLength: number;
}

/** GRPO or RLOO against the proxy reward. */
export interface GroupRlDemoScale extends OnlineStageBase {
  readonly method: 'grpo' | 'rloo';
  /** k, replies sampled per prompt (num_generations). */
  readonly numGenerations: number;
  /** KL weight (GRPO: per-token k3 in the loss; RLOO: sequence-level k1 in the reward); 0 loads no reference. */
  readonly beta: number;
  /**
   * Learning rate of the final norm's gain (optimizer.paramGroups), when it differs from `learningRate`. With tied
   * embeddings that gain is the one per-coordinate scale of every logit, so it sets how sharp the policy is.
   */
  readonly finalNormLearningRate?: number;
}

/** PPO against the demo's reward model. */
export interface PpoDemoScale extends OnlineStageBase {
  readonly method: 'ppo';
  /** Weight of the per-token KL penalty (kl_coef, fixed). */
  readonly klCoef: number;
  /** Optimizer steps per rollout (num_ppo_epochs, one mini-batch each). */
  readonly ppoEpochs: number;
}

/** One online stage's sizes and hyperparameters. */
export type OnlineDemoScale = GroupRlDemoScale | PpoDemoScale;

/** The online stages' prompts: the pair prompts with their reference answers. */
export const ONLINE_PROMPTS = 'data/prompts.jsonl';

/** Writes the online stages' prompt file (see module comment). */
export function writeOnlinePrompts(run: DemoRun, qs: readonly QA[]): void {
  writeJsonl(path.join(run.out, ONLINE_PROMPTS), qs.map((x) => ({ prompt: user(x.q), answer: x.a })));
}

/** The demo's reward-model run, relative to the output folder (PPO's reward and the start of its value model). */
export const REWARD_MODEL_RUN = 'runs/reward';

/** The final norm's gain in the built-in (Llama-style) model, by its safetensors name. */
const FINAL_NORM = 'model.norm.weight';

/** The run spec of an online stage from `sftDir`. */
export function onlineStageSpec(sftDir: string, s: OnlineDemoScale): Record<string, unknown> {
  const common = {
    method: s.method,
    model: { kind: 'hf', path: sftDir },
    data: { path: ONLINE_PROMPTS, evalSplit: 0, maxLength: MAX_LEN },
    gradientAccumulationSteps: 1,
    optimizer: { learningRate: s.learningRate, schedule: 'constant', warmupRatio: 0, weightDecay: 0, maxGradNorm: 1 },
  };
  if (s.method === 'ppo') {
    return {
      ...common,
      hyperparameters: { kl_coef: s.klCoef, num_ppo_epochs: s.ppoEpochs, num_mini_batches: 1, response_length: s.maxCompletionLength, temperature: 1 },
      rewards: { functions: [{ kind: 'reward_model', path: REWARD_MODEL_RUN }], onError: 'stop' },
      batchSize: s.promptsPerStep,
      maxSteps: s.steps * s.ppoEpochs,
      intervals: { logging: s.ppoEpochs, eval: 0, checkpoint: 0, sample: s.steps * s.ppoEpochs },
    };
  }
  const norm = s.finalNormLearningRate === undefined ? {} : { paramGroups: [{ params: [FINAL_NORM], learningRate: s.finalNormLearningRate }] };
  return {
    ...common,
    optimizer: { ...common.optimizer, ...norm },
    hyperparameters: { num_generations: s.numGenerations, beta: s.beta, max_completion_length: s.maxCompletionLength, temperature: 1, top_k: 0, top_p: 1 },
    rewards: { functions: [{ kind: 'proxy', field: 'answer' }], onError: 'stop' },
    batchSize: s.promptsPerStep * s.numGenerations,
    maxSteps: s.steps,
    intervals: { logging: 1, eval: 0, checkpoint: 0, sample: s.steps },
  };
}

/** The stage's progress line. */
function describe(s: OnlineDemoScale): string {
  if (s.method === 'ppo') return `PPO: ${s.steps} rollouts of one reply to each of ${s.promptsPerStep} prompts from the SFT model, scored by the demo's reward model (${s.ppoEpochs} PPO epochs, lr ${s.learningRate}, kl_coef ${s.klCoef})`;
  const norm = s.finalNormLearningRate === undefined ? '' : `, final norm lr ${s.finalNormLearningRate}`;
  return `${s.method.toUpperCase()}: ${s.steps} rollouts of ${s.numGenerations} replies to ${s.promptsPerStep} prompts from the SFT model, the proxy reward as a verifiable reward (lr ${s.learningRate}${norm}, beta ${s.beta})`;
}

/** 6. Each online stage from the SFT model; its run folder is `<out>/runs/<method>`. */
export async function trainOnlinePolicies(run: DemoRun, sftDir: string, qs: readonly QA[]): Promise<void> {
  const stages = run.scale.online;
  if (!stages.length) return;
  writeOnlinePrompts(run, qs);
  for (const [i, s] of stages.entries()) {
    // One numbered step, 6/8, for all online stages; the later ones are indented under it (as SimPO under DPO).
    run.log(`${i === 0 ? '6/8' : '  '} ${describe(s)}`);
    await run.stage(s.method, onlineStageSpec(sftDir, s));
    run.lap(s.method);
  }
}
