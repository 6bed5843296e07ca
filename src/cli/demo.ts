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
 *   6. evaluate each policy on held-out prompts: mean proxy reward, win rate against the SFT model's replies (ties
 *      count one half), and KL(policy || SFT) estimated on the policy's own samples (mean of
 *      sum_t log pi(y_t) - log pi_SFT(y_t), the k1 estimator), at DPO checkpoints too
 *   7. write <out>/report.json and <out>/report.html (inline SVG plots, no network)
 *
 * Every training stage is a normal session run folder under <out>/runs/<stage> (spec.json, events.jsonl,
 * checkpoints/, final/), so the dashboard and the CLI can read them like any other run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Message } from '../core/datasets/examples';
import { resolveRunSpec, type RunSpec } from '../core/runs/spec';
import { runPaths } from '../core/runs/layout';
import { parseSessionEvents, type SessionEvent } from '../protocol/session';
import { withFiller } from '../training/demo/chattyAnswers';
import { proxyPreference, proxyReward, words, type ProxyRewardParts } from '../training/demo/proxyReward';
import { ensureBuiltinModel } from '../engine/models/builtin';
import { loadHfModel } from '../engine/models/hfMapping';
import { buildModel, type TransformerModel } from '../engine/models/transformer';
import { Rng } from '../engine/rng';
import { generateDemoDialogues } from '../engine/tokenizer/demoCorpus';
import { TextTokenizer } from '../engine/tokenizer/tokenizer';
import { promptCompletionRow } from '../training/batching';
import { encodePrompt } from '../training/encode';
import { SequenceScorer, type RunnerOptions } from '../training/evaluate';
import { Generator } from '../engine/generate/generator';
import type { Weights } from '../engine/models/params';
import { loadRunCheckpoint, listCheckpointSteps } from '../session/checkpoints';
import { writeDemoHtml } from './demoReport';
import { EventSink } from '../session/events';
import { runSession } from '../session/runSession';
import type { SessionResult } from '../session/types';

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

export interface PolicyEval {
  readonly proxy_reward: number;
  readonly win_rate_vs_sft: number;
  readonly kl_to_sft: number;
  readonly ended_fraction: number;
  /** Mean word-F1 against the reference answer (the proxy reward's first term). */
  readonly mean_f1: number;
  /** Share of replies whose words are exactly the reference answer's (correct and concise). */
  readonly exact_match: number;
  /** Mean number of words past the reference answer's length (filler). */
  readonly mean_extra_words: number;
}

export interface DemoReport {
  readonly proxy_reward_sft: number;
  readonly proxy_reward_aligned: number;
  readonly win_rate_vs_sft: number;
  readonly kl_to_sft: number;
  readonly aligned_method: 'dpo';
  readonly policies: Readonly<Record<string, PolicyEval>>;
  readonly reward_model: { readonly eval_accuracy: number | null; readonly eval_loss: number | null };
  readonly pairs: { readonly generated: number; readonly ties_dropped: number; readonly used: number; readonly samples_per_prompt: number };
  /** The SFT data: dialogues and the share of answers with a filler sentence (src/training/demo/chattyAnswers.ts). */
  readonly sft_data: { readonly examples: number; readonly filler_rate: number };
  /** Held-out prompts every policy is evaluated on. */
  readonly eval_prompts: number;
  /** Proxy reward, win rate and KL of the DPO policy at steps along its training. */
  readonly dpo_trajectory: readonly ({ readonly step: number } & PolicyEval)[];
  readonly samples: readonly { readonly prompt: string; readonly reference: string; readonly sft: string; readonly dpo: string; readonly simpo: string }[];
  readonly seconds: Readonly<Record<string, number>>;
  readonly proxy_reward_rule: string;
}

/** Share of the SFT answers that get a filler sentence (src/training/demo/chattyAnswers.ts). */
export const SFT_FILLER_RATE = 0.5;
const MAX_NEW = 24;
const MAX_LEN = 64;

interface QA {
  readonly q: string;
  readonly a: string;
}

function corpus(n: number, seed: number): QA[] {
  return generateDemoDialogues(n, seed).map((d) => ({ q: d.messages[0]?.content ?? '', a: d.messages[1]?.content ?? '' }));
}

function writeJsonl(file: string, rows: readonly unknown[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

const user = (q: string): Message[] => [{ role: 'user', content: q }];
const assistant = (a: string): Message[] => [{ role: 'assistant', content: a }];
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

/** What every stage shares: the options, the output folder, the progress log and the stage timings. */
class DemoRun {
  readonly scale: DemoScale;
  readonly seed: number;
  readonly out: string;
  readonly log: (line: string) => void;
  readonly runner: RunnerOptions;
  /** Seconds per stage, in the order the stages ran. */
  readonly seconds: Record<string, number> = {};
  private readonly started = Date.now();
  private lapStart = Date.now();

  constructor(readonly opts: DemoOptions) {
    this.scale = opts.scale ?? DEMO_SCALES.full;
    this.seed = opts.seed ?? 7;
    this.out = path.resolve(opts.outDir);
    this.log = opts.log ?? (() => undefined);
    this.runner = { device: 'cpu', ...(opts.threads ? { threads: opts.threads } : {}) };
  }

  /** Ends the timing of stage `name` and starts the next one. */
  lap(name: string): void {
    this.seconds[name] = (Date.now() - this.lapStart) / 1000;
    this.lapStart = Date.now();
  }

  totalSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }

  runDir(name: string): string {
    return path.join(this.out, 'runs', name);
  }

  /** Trains one stage as a normal session run in `<out>/runs/<name>` (replacing an earlier one); throws when it fails. */
  async stage(name: string, spec: Record<string, unknown>): Promise<SessionResult> {
    const dir = this.runDir(name);
    fs.rmSync(dir, { recursive: true, force: true });
    const r = resolveRunSpec({ ...spec, outputDir: dir, seed: this.seed }, dir);
    if (!r.ok) throw new Error(`demo ${name} spec: ${r.problems.map((p) => `${p.path}: ${p.reason}`).join('; ')}`);
    const sink = new EventSink(runPaths(dir).events);
    sink.on((e) => this.opts.onEvent?.(name, e));
    try {
      const res = await runSession(r.spec as RunSpec, { runDir: dir, cacheDir: this.opts.cacheDir, baseDir: this.out, sink, keepCheckpoints: 100, ...(this.opts.threads ? { threads: this.opts.threads } : {}) });
      if (res.reason === 'failed') throw new Error(`demo stage ${name} failed: ${res.error}`);
      return res;
    } finally {
      sink.close();
    }
  }
}

/** The demo's questions: the SFT corpus, prompts for pairs, and held-out prompts unseen in the pair set. */
interface DemoData {
  readonly sft: readonly QA[];
  readonly pairQs: readonly QA[];
  readonly evalQs: readonly QA[];
}

/** Makes the demo's data and writes the SFT set (half of its answers with a filler sentence, chattyAnswers.ts). */
function writeDemoData(run: DemoRun): DemoData {
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
async function trainSft(run: DemoRun, examples: number): Promise<string> {
  const { scale } = run;
  run.log(`2/7 SFT: ${scale.sftSteps} steps on ${examples} synthetic dialogues`);
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

interface Reply {
  readonly text: string;
  readonly ids: number[];
  readonly ended: boolean;
}

/** The SFT model's graph, to sample from and score under any policy's weights (all policies share its shape). */
class PolicyLab {
  private constructor(
    private readonly run: DemoRun,
    private readonly tok: TextTokenizer,
    private readonly model: TransformerModel,
    readonly sftWeights: Map<string, Float32Array>,
    private readonly scorer: SequenceScorer,
  ) {}

  static async create(run: DemoRun, sftDir: string, tok: TextTokenizer): Promise<PolicyLab> {
    const sftLoaded = loadHfModel(sftDir, 'lm');
    const model = buildModel(sftLoaded.config, 'lm', { maxLength: MAX_LEN });
    const sftWeights = new Map([...sftLoaded.weights].map(([k, v]) => [k, v.data]));
    const scorer = await SequenceScorer.create(model, 'logps', { batch: 32, seqLen: MAX_LEN, padId: tok.padTokenId ?? 0 }, run.runner);
    return new PolicyLab(run, tok, model, sftWeights, scorer);
  }

  /** Replies sampled at temperature 1 with the KV-cache generator (src/engine/generate), in chunks of prompts. */
  async sampleReplies(weights: Map<string, Float32Array>, qs: readonly QA[], rng: Rng): Promise<Reply[]> {
    const tok = this.tok;
    const w: Weights = new Map();
    for (const p of this.model.params) w.set(p.name, { shape: [...p.shape], data: weights.get(p.name) as Float32Array });
    const gen = await Generator.create(this.model, w, this.run.runner);
    try {
      const prompts = qs.map((x) => encodePrompt(tok, user(x.q)));
      const out: Reply[] = [];
      for (let i = 0; i < prompts.length; i += 128) {
        const res = await gen.generate(prompts.slice(i, i + 128), { maxNewTokens: MAX_NEW, temperature: 1, stopTokens: [tok.eosTokenId as number], padTokenId: tok.padTokenId ?? 0, vocabLimit: tok.vocabSize, seed: rng.int(0x7fffffff) });
        out.push(...res.map((r) => ({ text: tok.decode(r.tokens, { skipSpecialTokens: true }).trim(), ids: r.tokens, ended: r.finishReason === 'stop' })));
      }
      return out;
    } finally {
      await gen.dispose();
    }
  }

  /**
   * A policy on held-out prompts: proxy reward, win rate against the SFT model's replies `sftRewards` (ties count
   * one half) and KL(pi || pi_SFT) ~ the mean over the policy's samples of log pi(y|x) - log pi_SFT(y|x).
   */
  async evaluate(weights: Map<string, Float32Array>, evalQs: readonly QA[], sftRewards: readonly ProxyRewardParts[]): Promise<{ ev: PolicyEval; replies: string[] }> {
    const replies = await this.sampleReplies(weights, evalQs, evalRng(this.run));
    const rewards = replies.map((r, i) => proxyReward(r.text, (evalQs[i] as QA).a, r.ended));
    let wins = 0;
    rewards.forEach((r, i) => {
      const p = proxyPreference(r, sftRewards[i] as ProxyRewardParts);
      wins += p > 0 ? 1 : p === 0 ? 0.5 : 0;
    });
    const rows = replies.map((r, i) => promptCompletionRow(encodePrompt(this.tok, user((evalQs[i] as QA).q)), r.ids));
    await this.scorer.setWeights(weights);
    const lp = await this.scorer.score(rows);
    await this.scorer.setWeights(this.sftWeights);
    const lq = await this.scorer.score(rows);
    let kl = 0;
    for (let i = 0; i < rows.length; i++) kl += (lp[i] as number) - (lq[i] as number);
    const ev: PolicyEval = {
      proxy_reward: mean(rewards.map((r) => r.total)),
      win_rate_vs_sft: wins / evalQs.length,
      kl_to_sft: kl / rows.length,
      ended_fraction: mean(replies.map((r) => (r.ended ? 1 : 0))),
      mean_f1: mean(rewards.map((r) => r.f1)),
      exact_match: mean(replies.map((r, i) => (words(r.text).join(' ') === words((evalQs[i] as QA).a).join(' ') ? 1 : 0))),
      mean_extra_words: mean(replies.map((r, i) => Math.max(0, words(r.text).length - words((evalQs[i] as QA).a).length))),
    };
    return { ev, replies: replies.map((r) => r.text) };
  }

  async dispose(): Promise<void> {
    await this.scorer.dispose();
  }
}

/** Every policy is evaluated on the same sampling stream. */
const evalRng = (run: DemoRun): Rng => new Rng(run.seed).derive('eval');

interface PairSet {
  readonly used: number;
  readonly ties: number;
}

/**
 * 3. Pairs labeled by the proxy reward: k replies per prompt from the SFT model, the best one (by R) is `chosen`
 * and the worst `rejected` (best-vs-worst of k, as SimPO's on-policy pairs are built), so each pair has a clear gap.
 */
async function labelPairs(run: DemoRun, lab: PolicyLab, pairQs: readonly QA[]): Promise<PairSet> {
  const k = run.scale.samplesPerPrompt;
  run.log(`3/7 sampling ${k} replies for ${pairQs.length} prompts from the SFT model; the proxy reward picks the best and the worst`);
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
async function trainRewardModel(run: DemoRun, sftDir: string): Promise<void> {
  const { scale } = run;
  run.log(`4/7 reward model: ${scale.rmSteps} Bradley-Terry steps`);
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
  run.log(`5/7 DPO: ${scale.dpoSteps} steps from the SFT model (beta ${scale.dpo.beta}, reference log-probs precomputed)`);
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

interface PolicyResults {
  readonly sft: { ev: PolicyEval; replies: string[] };
  readonly dpo: { ev: PolicyEval; replies: string[] };
  readonly simpo: { ev: PolicyEval; replies: string[] };
  readonly trajectory: ({ step: number } & PolicyEval)[];
}

/** 6. SFT, DPO (final and at each checkpoint) and SimPO on the held-out prompts. */
async function evaluatePolicies(run: DemoRun, lab: PolicyLab, evalQs: readonly QA[]): Promise<PolicyResults> {
  run.log(`6/7 evaluating SFT, DPO and SimPO on ${evalQs.length} held-out prompts (proxy reward, win rate vs SFT, KL to SFT)`);
  const sftReplies = await lab.sampleReplies(lab.sftWeights, evalQs, evalRng(run));
  const sftRewards = sftReplies.map((r, i) => proxyReward(r.text, (evalQs[i] as QA).a, r.ended));
  const evaluate = (weights: Map<string, Float32Array>): Promise<{ ev: PolicyEval; replies: string[] }> => lab.evaluate(weights, evalQs, sftRewards);
  const finalWeights = (dir: string): Map<string, Float32Array> => new Map([...loadHfModel(dir, 'lm').weights].map(([k, v]) => [k, v.data]));
  const sft = await evaluate(lab.sftWeights);
  const dpoDir = run.runDir('dpo');
  const trajectory: ({ step: number } & PolicyEval)[] = [{ step: 0, ...sft.ev }];
  for (const s of listCheckpointSteps(dpoDir)) {
    const c = loadRunCheckpoint(dpoDir, s);
    const w = new Map(lab.sftWeights);
    for (const [k, v] of c.state.params) w.set(k, v.data);
    trajectory.push({ step: s, ...(await evaluate(w)).ev });
  }
  const dpo = await evaluate(finalWeights(path.join(dpoDir, 'final')));
  trajectory.push({ step: run.scale.dpoSteps, ...dpo.ev });
  const simpo = await evaluate(finalWeights(path.join(run.runDir('simpo'), 'final')));
  run.lap('evaluation');
  return { sft, dpo, simpo, trajectory };
}

/** 7. report.json and report.html (with each stage's events) in the output folder. */
function writeReport(run: DemoRun, data: DemoData, pairs: PairSet, r: PolicyResults): DemoReport {
  const rmEvents = readEvents(run.runDir('reward'));
  const rmEval = [...rmEvents].reverse().find((e) => e.type === 'eval');
  const rmMetrics = rmEval?.type === 'eval' ? rmEval.params.metrics : {};
  const report: DemoReport = {
    proxy_reward_sft: r.sft.ev.proxy_reward,
    proxy_reward_aligned: r.dpo.ev.proxy_reward,
    win_rate_vs_sft: r.dpo.ev.win_rate_vs_sft,
    kl_to_sft: r.dpo.ev.kl_to_sft,
    aligned_method: 'dpo',
    policies: { sft: r.sft.ev, dpo: r.dpo.ev, simpo: r.simpo.ev },
    reward_model: { eval_accuracy: rmMetrics['eval_accuracy'] ?? null, eval_loss: rmMetrics['eval_loss'] ?? null },
    pairs: { generated: data.pairQs.length, ties_dropped: pairs.ties, used: pairs.used, samples_per_prompt: run.scale.samplesPerPrompt },
    sft_data: { examples: data.sft.length, filler_rate: SFT_FILLER_RATE },
    eval_prompts: data.evalQs.length,
    dpo_trajectory: r.trajectory,
    samples: data.evalQs.slice(0, 8).map((x, i) => ({ prompt: x.q, reference: x.a, sft: r.sft.replies[i] ?? '', dpo: r.dpo.replies[i] ?? '', simpo: r.simpo.replies[i] ?? '' })),
    seconds: { ...run.seconds, total: run.totalSeconds() },
    proxy_reward_rule: 'R(x, y) = F1(y, reference answer) - 0.5 [reply did not end] - 0.1 * max(0, words(y) - words(reference) - 2)',
  };
  fs.writeFileSync(path.join(run.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  writeDemoHtml(path.join(run.out, 'report.html'), report, {
    sft: readEvents(run.runDir('sft')),
    reward: rmEvents,
    dpo: readEvents(run.runDir('dpo')),
    simpo: readEvents(run.runDir('simpo')),
  });
  run.log(`7/7 report: ${path.join(run.out, 'report.html')}`);
  return report;
}

/** Runs the whole demo; returns the report (also written to disk). */
export async function runDemo(opts: DemoOptions): Promise<DemoReport> {
  const run = new DemoRun(opts);
  fs.mkdirSync(run.out, { recursive: true });
  run.log('1/7 building the built-in tiny chat model (tokenizer + seeded weights, cached after the first time)');
  const tok = TextTokenizer.fromFolder(ensureBuiltinModel(opts.cacheDir));
  run.lap('build_model');
  const data = writeDemoData(run);
  const sftDir = await trainSft(run, data.sft.length);
  const lab = await PolicyLab.create(run, sftDir, tok);
  try {
    const pairs = await labelPairs(run, lab, data.pairQs);
    await trainRewardModel(run, sftDir);
    await trainPolicies(run, sftDir);
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
