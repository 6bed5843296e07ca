/**
 * The end-to-end demo (`alignment demo`, `npm run demo`): from nothing to an aligned model and a report.
 *
 *   1. build the built-in tiny chat model (tokenizer trained on the synthetic corpus, seeded weights)
 *   2. SFT on the synthetic dialogue corpus (src/engine/tokenizer/demoCorpus.ts), half of whose answers carry a
 *      filler sentence (src/training/demo/chattyAnswers.ts), so the SFT model answers both concisely and chattily
 *   3. sample k replies per prompt from the SFT model and label them with the rule-based proxy reward
 *      (src/training/demo/proxyReward.ts, which prefers correct and concise replies): the best is `chosen`, the
 *      worst `rejected`
 *   4. train a reward model (Bradley-Terry) on those pairs and measure its held-out accuracy
 *   5. DPO from the SFT model on the pairs, and SimPO (reference-free) from the SFT model on the same pairs
 *   6. online RL from the SFT model on the pair prompts (demoOnline.ts): GRPO with the proxy reward as a verifiable
 *      reward against each prompt's reference answer, and PPO against the reward model of step 4
 *   7. evaluate each policy on held-out prompts: mean proxy reward, win rate against the SFT model's replies (ties
 *      count one half), and KL(policy || SFT) estimated on the policy's own samples (mean of
 *      sum_t log pi(y_t) - log pi_SFT(y_t), the k1 estimator), at DPO checkpoints too
 *   8. write <out>/report.json and <out>/report.html (inline SVG plots, no network)
 *
 * Every training stage is a normal session run folder under <out>/runs/<stage> (spec.json, events.jsonl,
 * checkpoints/, final/), so the dashboard and the CLI can read them like any other run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runPaths } from '../core/runs/layout';
import { parseSessionEvents, type SessionEvent } from '../protocol/session';
import { withFiller } from '../training/demo/chattyAnswers';
import { proxyPreference, proxyReward } from '../training/demo/proxyReward';
import { ensureBuiltinModel } from '../engine/models/builtin';
import { loadHfModel } from '../engine/models/hfMapping';
import { Rng } from '../engine/rng';
import { TextTokenizer } from '../engine/tokenizer/tokenizer';
import { loadRunCheckpoint, listCheckpointSteps } from '../session/checkpoints';
import { assistant, corpus, DemoRun, evalRng, MAX_LEN, MAX_NEW, PolicyLab, user, writeJsonl, type PolicyEval, type QA, type Reply } from './demoLab';
import { trainOnlinePolicies, type OnlineDemoMethod, type OnlineDemoScale } from './demoOnline';
import { writeDemoHtml } from './demoReport';

/** Sizes of the demo; `quick` is for tests (minutes on 2 cores), `full` is the README demo. */
export interface DemoScale {
  readonly sftExamples: number;
  readonly sftSteps: number;
  readonly pairPrompts: number;
  readonly rmSteps: number;
  readonly dpoSteps: number;
  readonly evalPrompts: number;
  readonly batchSize: number;
  /** DPO checkpoints evaluated along the way (besides the start and the end). */
  readonly trajectoryPoints: number;
  /** Replies sampled per prompt; the pair is the best and the worst of them under the proxy reward. */
  readonly samplesPerPrompt: number;
  readonly dpo: { readonly beta: number; readonly learningRate: number };
  readonly simpo: { readonly beta: number; readonly gamma: number; readonly learningRate: number };
  /** Online stages, each from the SFT model (demoOnline.ts). */
  readonly online: readonly OnlineDemoScale[];
}

export const DEMO_SCALES: Readonly<Record<'full' | 'quick', DemoScale>> = {
  full: {
    sftExamples: 8000,
    sftSteps: 450,
    // Tuned on this machine with the filler SFT data (seed 7): 512 prompts x 4 samples give ~500 best-vs-worst pairs
    // (the worst mostly chatty, the best mostly concise); the reward model reaches ~0.87 held-out accuracy in 40
    // steps. DPO at lr 1e-4, beta 0.2 gained most of its proxy reward by step 25 (0.50 -> 0.66, win rate 0.65,
    // KL 0.52) and then drifted (step 100: 0.63, KL 1.86), so it stops at 50; SimPO 100 steps at lr 5e-5 reached
    // 0.67 at KL 0.70, here 50 steps at 1e-4.
    pairPrompts: 512,
    rmSteps: 40,
    dpoSteps: 50,
    evalPrompts: 256,
    batchSize: 16,
    trajectoryPoints: 1,
    samplesPerPrompt: 4,
    dpo: { beta: 0.2, learningRate: 1e-4 },
    simpo: { beta: 2, gamma: 0.5, learningRate: 1e-4 },
    // Online stages, tuned from the SFT models of seeds 7 and 11 (held-out win rate vs SFT at KL to SFT). GRPO, 16
    // prompts x 8 replies per rollout at lr 2e-4, beta 0: with one learning rate for every weight it stalls at
    // 0.67-0.69 (KL 0.7-1.3) whatever the budget (16-48 rollouts), prompts x replies (8 x 16, 32 x 4), temperature
    // (0.7-1.5), loss (dr_grpo) or lr (up to 1e-3, which only spends KL). What it gains is concision (extra words
    // 1.75 -> 0.1-0.3); what it lacks is sharpness: the SFT model with its logits x 2 reaches 0.74 at KL 1.04. With tied
    // embeddings the one per-coordinate scale of the logits is the final norm's gain (about 1.1), which AdamW moves by
    // about lr per step, under 1 % in 12 rollouts. So that gain has a learning rate of its own (optimizer.paramGroups),
    // and GRPO learns the temperature along with the rest: seed 7 at 2e-2 / 6e-2 / 1.5e-1 0.70 / 0.73 / 0.78 at KL
    // 0.79 / 1.11 / 1.85 after 12 rollouts (mean gain 1.11 -> 1.22 / 1.43 / ~2); at 1.5e-1 seed 7 0.74 at KL 1.27
    // after 8 and 0.78 at KL 2.1 after 16, seed 11 0.81 at KL 1.19 after 8 and 0.82 at KL 1.56 after 16. In the whole
    // demo (from the seed 7 / 11 SFT models) 0.773 at KL 1.84 / 0.799 at KL 1.44 for 45 / 46 CPU seconds. PPO, 8
    // rollouts x 2 epochs: 64 prompts 0.60 (lr 1e-4, kl_coef 0.05, KL 0.47) and 0.63 (lr 3e-4, kl_coef 0.02, KL 1.25)
    // for 66 CPU seconds; here 6 rollouts of 32, in the whole demo 0.63 at KL 0.80 / 0.67 at KL 1.00 for 43 CPU seconds.
    online: [
      { method: 'grpo', steps: 12, promptsPerStep: 16, numGenerations: 8, learningRate: 2e-4, finalNormLearningRate: 0.15, beta: 0, maxCompletionLength: MAX_NEW },
      { method: 'ppo', steps: 6, promptsPerStep: 32, learningRate: 3e-4, klCoef: 0.02, ppoEpochs: 2, maxCompletionLength: MAX_NEW },
    ],
  },
  quick: {
    sftExamples: 400,
    sftSteps: 12,
    pairPrompts: 32,
    rmSteps: 4,
    dpoSteps: 4,
    evalPrompts: 16,
    batchSize: 8,
    trajectoryPoints: 1,
    samplesPerPrompt: 2,
    dpo: { beta: 0.2, learningRate: 1e-4 },
    simpo: { beta: 2, gamma: 0.5, learningRate: 5e-5 },
    online: [
      { method: 'grpo', steps: 2, promptsPerStep: 4, numGenerations: 4, learningRate: 5e-4, finalNormLearningRate: 0.05, beta: 0, maxCompletionLength: 12 },
      { method: 'ppo', steps: 2, promptsPerStep: 4, learningRate: 1e-4, klCoef: 0.05, ppoEpochs: 1, maxCompletionLength: 12 },
    ],
  },
};

export interface DemoOptions {
  readonly outDir: string;
  readonly cacheDir: string;
  readonly threads?: number;
  readonly scale?: DemoScale;
  readonly seed?: number;
  /** Progress lines for people. */
  readonly log?: (line: string) => void;
  /** Reuse this SFT model folder instead of training one (to iterate on the later stages). */
  readonly sftDir?: string;
  /** Every event of every stage, with the stage name. */
  readonly onEvent?: (stage: string, e: SessionEvent) => void;
}

/** report.json's figures of each online method that ran, e.g. `proxy_reward_grpo`. */
export type OnlineFigures = { readonly [M in OnlineDemoMethod as `proxy_reward_${M}`]?: number } & { readonly [M in OnlineDemoMethod as `win_rate_${M}_vs_sft`]?: number } & {
  readonly [M in OnlineDemoMethod as `kl_${M}_to_sft`]?: number;
};

/** One row of the report's sample replies: the prompt, its reference answer and each policy's reply by name. */
export type SampleRow = { readonly prompt: string; readonly reference: string } & Readonly<Record<string, string>>;

export type DemoReport = OnlineFigures & {
  readonly proxy_reward_sft: number;
  readonly proxy_reward_aligned: number;
  readonly win_rate_vs_sft: number;
  readonly kl_to_sft: number;
  readonly aligned_method: 'dpo';
  /** The aligned policy (DPO, SimPO or an online method) with the highest win rate against SFT, its win rate and KL. */
  readonly best_method: string;
  readonly best_win_rate_vs_sft: number;
  readonly best_kl_to_sft: number;
  /** The online stages as they ran. */
  readonly online: readonly OnlineDemoScale[];
  readonly policies: Readonly<Record<string, PolicyEval>>;
  readonly reward_model: { readonly eval_accuracy: number | null; readonly eval_loss: number | null };
  readonly pairs: { readonly generated: number; readonly ties_dropped: number; readonly used: number; readonly samples_per_prompt: number };
  /** The SFT data: dialogues and the share of answers with a filler sentence (src/training/demo/chattyAnswers.ts). */
  readonly sft_data: { readonly examples: number; readonly filler_rate: number };
  /** Held-out prompts every policy is evaluated on. */
  readonly eval_prompts: number;
  /** Proxy reward, win rate and KL of the DPO policy at steps along its training. */
  readonly dpo_trajectory: readonly ({ readonly step: number } & PolicyEval)[];
  readonly samples: readonly SampleRow[];
  /** Wall seconds per stage and in total. */
  readonly seconds: Readonly<Record<string, number>>;
  /** CPU seconds (user + system) per stage and in total. */
  readonly cpu_seconds: Readonly<Record<string, number>>;
  readonly proxy_reward_rule: string;
};

/** Share of the SFT answers that get a filler sentence (src/training/demo/chattyAnswers.ts). */
export const SFT_FILLER_RATE = 0.5;
/** The demo's questions: the SFT corpus, prompts for pairs, and held-out prompts unseen in the pair set. */
export interface DemoData {
  readonly sft: readonly QA[];
  readonly pairQs: readonly QA[];
  readonly evalQs: readonly QA[];
}

/** Makes the demo's data and writes the SFT set (half of its answers with a filler sentence, chattyAnswers.ts). */
export function writeDemoData(run: DemoRun): DemoData {
  const { scale } = run;
  const sft = corpus(scale.sftExamples, 1001);
  const pairQs = corpus(scale.pairPrompts, 2002);
  const seenQ = new Set(pairQs.map((x) => x.q));
  const evalQs = corpus(scale.evalPrompts * 4, 3003).filter((x) => !seenQ.has(x.q)).slice(0, scale.evalPrompts);
  // The proxy reward's references stay concise; only the SFT answers get filler.
  const fillerRng = new Rng(run.seed).derive('sft-filler');
  writeJsonl(path.join(run.out, 'data', 'sft.jsonl'), sft.map((x) => ({ prompt: user(x.q), completion: assistant(withFiller(x.a, fillerRng, SFT_FILLER_RATE)) })));
  return { sft, pairQs, evalQs };
}

/** 2. SFT on the synthetic dialogues (or the given SFT model); returns the SFT model folder. */
export async function trainSft(run: DemoRun, examples: number): Promise<string> {
  const { scale } = run;
  run.log(`2/8 SFT: ${scale.sftSteps} steps on ${examples} synthetic dialogues`);
  const sftDir = run.opts.sftDir ? path.resolve(run.opts.sftDir) : (await run.stage('sft', {
    method: 'sft',
    model: { kind: 'builtin' },
    data: { path: 'data/sft.jsonl', evalSplit: 0.02, maxLength: MAX_LEN },
    batchSize: scale.batchSize,
    maxSteps: scale.sftSteps,
    optimizer: { learningRate: 3e-3, schedule: 'cosine', warmupRatio: 0.05, weightDecay: 0, maxGradNorm: 1 },
    intervals: { logging: Math.max(1, Math.floor(scale.sftSteps / 24)), eval: scale.sftSteps, checkpoint: 0, sample: scale.sftSteps },
  })).finalDir as string;
  run.lap('sft');
  return sftDir;
}

interface PairSet {
  readonly used: number;
  readonly ties: number;
}

/**
 * 3. Pairs labeled by the proxy reward: k replies per prompt from the SFT model, the best one (by R) is `chosen`
 * and the worst `rejected` (best-vs-worst of k, as SimPO's on-policy pairs are built), so each pair has a clear gap.
 */
export async function labelPairs(run: DemoRun, lab: PolicyLab, pairQs: readonly QA[]): Promise<PairSet> {
  const k = run.scale.samplesPerPrompt;
  run.log(`3/8 sampling ${k} replies for ${pairQs.length} prompts from the SFT model; the proxy reward picks the best and the worst`);
  const rng = new Rng(run.seed).derive('pairs');
  const draws: Reply[][] = [];
  for (let j = 0; j < k; j++) draws.push(await lab.sampleReplies(lab.sftWeights, pairQs, rng));
  const pairs: unknown[] = [];
  let ties = 0;
  pairQs.forEach((x, i) => {
    const cands = draws.map((d) => d[i] as Reply).filter((r) => r.text !== '');
    const scored = cands.map((r) => ({ r, p: proxyReward(r.text, x.a, r.ended) })).sort((u, v) => v.p.total - u.p.total);
    const best = scored[0];
    const worst = scored[scored.length - 1];
    if (!best || !worst || proxyPreference(best.p, worst.p) <= 0 || best.r.text === worst.r.text) {
      ties++;
      return;
    }
    pairs.push({ prompt: user(x.q), chosen: assistant(best.r.text), rejected: assistant(worst.r.text) });
  });
  if (pairs.length < run.scale.batchSize) throw new Error(`demo: only ${pairs.length} usable pairs (of ${pairQs.length} prompts); the SFT model's replies are all alike`);
  writeJsonl(path.join(run.out, 'data', 'pairs.jsonl'), pairs);
  run.log(`   ${pairs.length} pairs (${ties} ties or empty replies dropped)`);
  run.lap('pairs');
  return { used: pairs.length, ties };
}

/** Pairs per batch in the reward-model, DPO and SimPO stages. */
const pairBatch = (scale: DemoScale): number => Math.max(2, scale.batchSize / 2);

/** 4. A Bradley-Terry reward model on the pairs, from the SFT model. */
export async function trainRewardModel(run: DemoRun, sftDir: string): Promise<void> {
  const { scale } = run;
  run.log(`4/8 reward model: ${scale.rmSteps} Bradley-Terry steps`);
  await run.stage('reward', {
    method: 'reward',
    model: { kind: 'hf', path: sftDir },
    data: { path: 'data/pairs.jsonl', evalSplit: 0.15, maxLength: MAX_LEN },
    batchSize: pairBatch(scale),
    maxSteps: scale.rmSteps,
    optimizer: { learningRate: 3e-4, schedule: 'linear', warmupRatio: 0.1, weightDecay: 0, maxGradNorm: 1 },
    intervals: { logging: Math.max(1, Math.floor(scale.rmSteps / 12)), eval: Math.max(1, Math.floor(scale.rmSteps / 4)), checkpoint: 0, sample: 0 },
  });
  run.lap('reward_model');
}

/** 5. DPO (with checkpoints along the way for the trajectory) and SimPO, both from the SFT model on the same pairs. */
async function trainPolicies(run: DemoRun, sftDir: string): Promise<void> {
  const { scale } = run;
  const ckptEvery = Math.max(1, Math.floor(scale.dpoSteps / (scale.trajectoryPoints + 1)));
  const model = { kind: 'hf', path: sftDir };
  const data = { path: 'data/pairs.jsonl', evalSplit: 0.1, maxLength: MAX_LEN };
  const logging = Math.max(1, Math.floor(scale.dpoSteps / 12));
  run.log(`5/8 DPO: ${scale.dpoSteps} steps from the SFT model (beta ${scale.dpo.beta}, reference log-probs precomputed)`);
  await run.stage('dpo', {
    method: 'dpo',
    model,
    data,
    hyperparameters: { beta: scale.dpo.beta, loss_type: 'sigmoid', precompute_ref_log_probs: true },
    batchSize: pairBatch(scale),
    maxSteps: scale.dpoSteps,
    optimizer: { learningRate: scale.dpo.learningRate, schedule: 'constant', warmupRatio: 0, weightDecay: 0, maxGradNorm: 1 },
    intervals: { logging, eval: ckptEvery, checkpoint: ckptEvery, sample: 0 },
  });
  run.lap('dpo');
  run.log(`   SimPO: ${scale.dpoSteps} steps from the SFT model (reference-free; beta ${scale.simpo.beta}, gamma ${scale.simpo.gamma})`);
  await run.stage('simpo', {
    method: 'simpo',
    model,
    data,
    hyperparameters: { beta: scale.simpo.beta, simpo_gamma: scale.simpo.gamma },
    batchSize: pairBatch(scale),
    maxSteps: scale.dpoSteps,
    optimizer: { learningRate: scale.simpo.learningRate, schedule: 'constant', warmupRatio: 0, weightDecay: 0, maxGradNorm: 1 },
    intervals: { logging, eval: scale.dpoSteps, checkpoint: 0, sample: 0 },
  });
  run.lap('simpo');
}

type Evaluated = { readonly ev: PolicyEval; readonly replies: string[] };

interface PolicyResults {
  readonly sft: Evaluated;
  /** Each aligned policy by name: dpo, simpo, then the online methods in the order they ran. */
  readonly aligned: ReadonlyMap<string, Evaluated>;
  readonly trajectory: ({ step: number } & PolicyEval)[];
}

const finalWeights = (dir: string): Map<string, Float32Array> => new Map([...loadHfModel(dir, 'lm').weights].map(([k, v]) => [k, v.data]));

/** 7. SFT, DPO (final and at each checkpoint), SimPO and the online policies on the held-out prompts. */
async function evaluatePolicies(run: DemoRun, lab: PolicyLab, evalQs: readonly QA[]): Promise<PolicyResults> {
  const names = ['dpo', 'simpo', ...run.scale.online.map((o) => o.method)];
  run.log(`7/8 evaluating SFT, ${names.map((n) => n.toUpperCase()).join(', ')} on ${evalQs.length} held-out prompts (proxy reward, win rate vs SFT, KL to SFT)`);
  const sftReplies = await lab.sampleReplies(lab.sftWeights, evalQs, evalRng(run));
  const sftRewards = sftReplies.map((r, i) => proxyReward(r.text, (evalQs[i] as QA).a, r.ended));
  const evaluate = (weights: Map<string, Float32Array>): Promise<Evaluated> => lab.evaluate(weights, evalQs, sftRewards);
  const sft = await evaluate(lab.sftWeights);
  const dpoDir = run.runDir('dpo');
  const trajectory: ({ step: number } & PolicyEval)[] = [{ step: 0, ...sft.ev }];
  for (const s of listCheckpointSteps(dpoDir)) {
    const c = loadRunCheckpoint(dpoDir, s);
    const w = new Map(lab.sftWeights);
    for (const [k, v] of c.state.params) w.set(k, v.data);
    trajectory.push({ step: s, ...(await evaluate(w)).ev });
  }
  const aligned = new Map<string, Evaluated>();
  for (const name of names) aligned.set(name, await evaluate(finalWeights(path.join(run.runDir(name), 'final'))));
  trajectory.push({ step: run.scale.dpoSteps, ...(aligned.get('dpo') as Evaluated).ev });
  run.lap('evaluation');
  return { sft, aligned, trajectory };
}

/** The online methods' figures under their report.json keys (`proxy_reward_grpo`, ...). */
function onlineFigures(run: DemoRun, r: PolicyResults): OnlineFigures {
  const out: Record<string, number> = {};
  for (const { method: m } of run.scale.online) {
    const ev = (r.aligned.get(m) as Evaluated).ev;
    out[`proxy_reward_${m}`] = ev.proxy_reward;
    out[`win_rate_${m}_vs_sft`] = ev.win_rate_vs_sft;
    out[`kl_${m}_to_sft`] = ev.kl_to_sft;
  }
  return out;
}

/** The aligned policy with the highest win rate against SFT (the first of equals, in the order they ran). */
function bestPolicy(r: PolicyResults): { readonly name: string; readonly ev: PolicyEval } {
  let best: { name: string; ev: PolicyEval } | undefined;
  for (const [name, { ev }] of r.aligned) if (!best || ev.win_rate_vs_sft > best.ev.win_rate_vs_sft) best = { name, ev };
  if (!best) throw new Error('demo: no aligned policy was evaluated');
  return best;
}

/** The first 8 held-out prompts with every policy's reply. */
function sampleRows(data: DemoData, r: PolicyResults): SampleRow[] {
  return data.evalQs.slice(0, 8).map((x, i) => {
    const row: Record<string, string> = { prompt: x.q, reference: x.a, sft: r.sft.replies[i] ?? '' };
    for (const [name, p] of r.aligned) row[name] = p.replies[i] ?? '';
    return row as SampleRow;
  });
}

/** 8. report.json and report.html (with each stage's events) in the output folder. */
function writeReport(run: DemoRun, data: DemoData, pairs: PairSet, r: PolicyResults): DemoReport {
  const rmEvents = readEvents(run.runDir('reward'));
  const rmEval = [...rmEvents].reverse().find((e) => e.type === 'eval');
  const rmMetrics = rmEval?.type === 'eval' ? rmEval.params.metrics : {};
  const dpo = (r.aligned.get('dpo') as Evaluated).ev;
  const best = bestPolicy(r);
  const report: DemoReport = {
    proxy_reward_sft: r.sft.ev.proxy_reward,
    proxy_reward_aligned: dpo.proxy_reward,
    win_rate_vs_sft: dpo.win_rate_vs_sft,
    kl_to_sft: dpo.kl_to_sft,
    aligned_method: 'dpo',
    ...onlineFigures(run, r),
    best_method: best.name,
    best_win_rate_vs_sft: best.ev.win_rate_vs_sft,
    best_kl_to_sft: best.ev.kl_to_sft,
    online: run.scale.online,
    policies: Object.fromEntries([['sft', r.sft.ev], ...[...r.aligned].map(([k, v]): [string, PolicyEval] => [k, v.ev])]),
    reward_model: { eval_accuracy: rmMetrics['eval_accuracy'] ?? null, eval_loss: rmMetrics['eval_loss'] ?? null },
    pairs: { generated: data.pairQs.length, ties_dropped: pairs.ties, used: pairs.used, samples_per_prompt: run.scale.samplesPerPrompt },
    sft_data: { examples: data.sft.length, filler_rate: SFT_FILLER_RATE },
    eval_prompts: data.evalQs.length,
    dpo_trajectory: r.trajectory,
    samples: sampleRows(data, r),
    seconds: { ...run.seconds, total: run.totalSeconds() },
    cpu_seconds: { ...run.cpuSeconds, total: run.totalCpuSeconds() },
    proxy_reward_rule: 'R(x, y) = F1(y, reference answer) - 0.5 [reply did not end] - 0.1 * max(0, words(y) - words(reference) - 2)',
  };
  fs.writeFileSync(path.join(run.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  const stages = ['sft', 'reward', 'dpo', 'simpo', ...run.scale.online.map((o) => o.method)];
  writeDemoHtml(path.join(run.out, 'report.html'), report, Object.fromEntries(stages.map((n) => [n, readEvents(run.runDir(n))])));
  run.log(`8/8 report: ${path.join(run.out, 'report.html')}`);
  return report;
}

/** Runs the whole demo; returns the report (also written to disk). */
export async function runDemo(opts: DemoOptions): Promise<DemoReport> {
  const run = new DemoRun(opts, opts.scale ?? DEMO_SCALES.full);
  fs.mkdirSync(run.out, { recursive: true });
  run.log('1/8 building the built-in tiny chat model (tokenizer + seeded weights, cached after the first time)');
  const tok = TextTokenizer.fromFolder(ensureBuiltinModel(opts.cacheDir));
  run.lap('build_model');
  const data = writeDemoData(run);
  const sftDir = await trainSft(run, data.sft.length);
  const lab = await PolicyLab.create(run, sftDir, tok);
  try {
    const pairs = await labelPairs(run, lab, data.pairQs);
    await trainRewardModel(run, sftDir);
    await trainPolicies(run, sftDir);
    await trainOnlinePolicies(run, sftDir, data.pairQs);
    const results = await evaluatePolicies(run, lab, data.evalQs);
    return writeReport(run, data, pairs, results);
  } finally {
    await lab.dispose();
  }
}

/** A run folder's events (empty when it has none). */
export function readEvents(runDir: string): SessionEvent[] {
  const file = runPaths(runDir).events;
  if (!fs.existsSync(file)) return [];
  return parseSessionEvents(fs.readFileSync(file, 'utf8')).events;
}
