/**
 * The demo's online stage: GRPO (or RLOO) from the SFT model, trained against the proxy reward used as a
 * verifiable reward (src/training/online/rewards/proxyReward.ts). Its prompts are the pair prompts (never the
 * held-out ones), each with its reference answer in the `answer` column that the proxy reward reads:
 *
 *   data/prompts.jsonl   {"prompt": [{"role": "user", ...}], "answer": "<the corpus's concise answer>"}
 *
 * Each rollout samples `numGenerations` replies for each of `promptsPerStep` prompts from the current policy,
 * scores them and takes one optimizer step (num_iterations 1, so the ratio is 1 and nothing is clipped).
 *
 * PPO against the demo's trained reward model (runs/reward) belongs here too, as a stage whose rewards section
 * names that run instead of the proxy reward; it is left out until the session trains `ppo` with a reward-model
 * reward.
 */
import * as path from 'node:path';
import { MAX_LEN, user, writeJsonl, type DemoRun, type QA } from './demoLab';

/** The online methods the demo can run. */
export type OnlineDemoMethod = 'grpo' | 'rloo';

/** One online stage's sizes and hyperparameters (TRL's names in the comments). */
export interface OnlineDemoScale {
  readonly method: OnlineDemoMethod;
  /** Rollouts, one optimizer step each. */
  readonly steps: number;
  /** Prompts per rollout. */
  readonly promptsPerStep: number;
  /** k, replies sampled per prompt (num_generations). */
  readonly numGenerations: number;
  readonly learningRate: number;
  /** KL weight (GRPO: per-token k3 in the loss; RLOO: sequence-level k1 in the reward); 0 loads no reference. */
  readonly beta: number;
  /** Most tokens per sampled reply while training (max_completion_length); evaluation allows MAX_NEW. */
  readonly maxCompletionLength: number;
}

/** The online stages' prompts: the pair prompts with their reference answers. */
export const ONLINE_PROMPTS = 'data/prompts.jsonl';

/** Writes the online stages' prompt file (see module comment). */
export function writeOnlinePrompts(run: DemoRun, qs: readonly QA[]): void {
  writeJsonl(path.join(run.out, ONLINE_PROMPTS), qs.map((x) => ({ prompt: user(x.q), answer: x.a })));
}

/** The run spec of an online stage from `sftDir`. */
export function onlineStageSpec(sftDir: string, s: OnlineDemoScale): Record<string, unknown> {
  const completions = s.promptsPerStep * s.numGenerations;
  return {
    method: s.method,
    model: { kind: 'hf', path: sftDir },
    data: { path: ONLINE_PROMPTS, evalSplit: 0, maxLength: MAX_LEN },
    hyperparameters: { num_generations: s.numGenerations, beta: s.beta, max_completion_length: s.maxCompletionLength, temperature: 1, top_k: 0, top_p: 1 },
    rewards: { functions: [{ kind: 'proxy', field: 'answer' }], onError: 'stop' },
    batchSize: completions,
    gradientAccumulationSteps: 1,
    maxSteps: s.steps,
    optimizer: { learningRate: s.learningRate, schedule: 'constant', warmupRatio: 0, weightDecay: 0, maxGradNorm: 1 },
    intervals: { logging: 1, eval: 0, checkpoint: 0, sample: s.steps },
  };
}

/** 6. Each online stage from the SFT model; its run folder is `<out>/runs/<method>`. */
export async function trainOnlinePolicies(run: DemoRun, sftDir: string, qs: readonly QA[]): Promise<void> {
  const stages = run.scale.online;
  if (!stages.length) return;
  writeOnlinePrompts(run, qs);
  for (const s of stages) {
    run.log(`6/8 ${s.method.toUpperCase()}: ${s.steps} rollouts of ${s.numGenerations} replies to ${s.promptsPerStep} prompts from the SFT model, the proxy reward as a verifiable reward (lr ${s.learningRate}, beta ${s.beta})`);
    await run.stage(s.method, onlineStageSpec(sftDir, s));
    run.lap(s.method);
  }
}
