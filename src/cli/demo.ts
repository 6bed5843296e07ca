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
import { SequenceScorer } from '../training/evaluate';
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

/** Runs the whole demo; returns the report (also written to disk). */
export async function runDemo(opts: DemoOptions): Promise<DemoReport> {
  const scale = opts.scale ?? DEMO_SCALES.full;
  const seed = opts.seed ?? 7;
  const out = path.resolve(opts.outDir);
  const log = opts.log ?? (() => undefined);
  const seconds: Record<string, number> = {};
  const t00 = Date.now();
  let t0 = Date.now();
  const lap = (name: string): void => {
    seconds[name] = (Date.now() - t0) / 1000;
    t0 = Date.now();
  };
  fs.mkdirSync(out, { recursive: true });
  const runner = { device: 'cpu' as const, ...(opts.threads ? { threads: opts.threads } : {}) };

  // 1. built-in model
  log('1/7 building the built-in tiny chat model (tokenizer + seeded weights, cached after the first time)');
  const baseDir = ensureBuiltinModel(opts.cacheDir);
  const tok = TextTokenizer.fromFolder(baseDir);
  lap('build_model');

  // Data: SFT corpus, prompts for pairs, held-out prompts for evaluation (questions unseen in the pair set).
  const sftData = corpus(scale.sftExamples, 1001);
  const pairQs = corpus(scale.pairPrompts, 2002);
  const seenQ = new Set(pairQs.map((x) => x.q));
  const evalQs = corpus(scale.evalPrompts * 4, 3003).filter((x) => !seenQ.has(x.q)).slice(0, scale.evalPrompts);
  const dataDir = path.join(out, 'data');
  // Half of the SFT answers carry a filler sentence (chattyAnswers.ts); the proxy reward's references stay concise.
  const fillerRng = new Rng(seed).derive('sft-filler');
  writeJsonl(path.join(dataDir, 'sft.jsonl'), sftData.map((x) => ({ prompt: user(x.q), completion: assistant(withFiller(x.a, fillerRng, SFT_FILLER_RATE)) })));

  const stage = async (name: string, spec: Record<string, unknown>): Promise<SessionResult> => {
    const dir = path.join(out, 'runs', name);
    fs.rmSync(dir, { recursive: true, force: true });
    const r = resolveRunSpec({ ...spec, outputDir: dir, seed }, dir);
    if (!r.ok) throw new Error(`demo ${name} spec: ${r.problems.map((p) => `${p.path}: ${p.reason}`).join('; ')}`);
    const sink = new EventSink(runPaths(dir).events);
    sink.on((e) => opts.onEvent?.(name, e));
    try {
      const res = await runSession(r.spec as RunSpec, { runDir: dir, cacheDir: opts.cacheDir, baseDir: out, sink, keepCheckpoints: 100, ...(opts.threads ? { threads: opts.threads } : {}) });
      if (res.reason === 'failed') throw new Error(`demo stage ${name} failed: ${res.error}`);
      return res;
    } finally {
      sink.close();
    }
  };

  // 2. SFT
  log(`2/7 SFT: ${scale.sftSteps} steps on ${sftData.length} synthetic dialogues`);
  const sftDir = opts.sftDir ? path.resolve(opts.sftDir) : (await stage('sft', {
    method: 'sft',
    model: { kind: 'builtin' },
    data: { path: 'data/sft.jsonl', evalSplit: 0.02, maxLength: MAX_LEN },
    batchSize: scale.batchSize,
    maxSteps: scale.sftSteps,
    optimizer: { learningRate: 3e-3, schedule: 'cosine', warmupRatio: 0.05, weightDecay: 0, maxGradNorm: 1 },
    intervals: { logging: Math.max(1, Math.floor(scale.sftSteps / 24)), eval: scale.sftSteps, checkpoint: 0, sample: scale.sftSteps },
  })).finalDir as string;
  lap('sft');

  // Model pieces for sampling and scoring with any policy's weights.
  const sftLoaded = loadHfModel(sftDir, 'lm');
  const model: TransformerModel = buildModel(sftLoaded.config, 'lm', { maxLength: MAX_LEN });
  const sftWeights = new Map([...sftLoaded.weights].map(([k, v]) => [k, v.data]));
  const imEnd = tok.eosTokenId as number;
  const padId = tok.padTokenId ?? 0;
  const batch = 32;
  const scorer = await SequenceScorer.create(model, 'logps', { batch, seqLen: MAX_LEN, padId }, runner);
  try {
    // Replies sampled at temperature 1 with the KV-cache generator (src/engine/generate), in chunks of prompts.
    const sampleReplies = async (weights: Map<string, Float32Array>, qs: readonly QA[], rng: Rng): Promise<{ text: string; ids: number[]; ended: boolean }[]> => {
      const w: Weights = new Map();
      for (const p of model.params) w.set(p.name, { shape: [...p.shape], data: weights.get(p.name) as Float32Array });
      const gen = await Generator.create(model, w, runner);
      try {
        const prompts = qs.map((x) => encodePrompt(tok, user(x.q)));
        const out: { text: string; ids: number[]; ended: boolean }[] = [];
        for (let i = 0; i < prompts.length; i += 128) {
          const res = await gen.generate(prompts.slice(i, i + 128), { maxNewTokens: MAX_NEW, temperature: 1, stopTokens: [imEnd], padTokenId: padId, vocabLimit: tok.vocabSize, seed: rng.int(0x7fffffff) });
          out.push(...res.map((r) => ({ text: tok.decode(r.tokens, { skipSpecialTokens: true }).trim(), ids: r.tokens, ended: r.finishReason === 'stop' })));
        }
        return out;
      } finally {
        await gen.dispose();
      }
    };

    // 3. pairs labeled by the proxy reward: k replies per prompt, the best one (by R) is `chosen` and the worst
    //    `rejected` (best-vs-worst of k, as SimPO's on-policy pairs are built), so each pair has a clear gap.
    const k = scale.samplesPerPrompt;
    log(`3/7 sampling ${k} replies for ${pairQs.length} prompts from the SFT model; the proxy reward picks the best and the worst`);
    const rng = new Rng(seed).derive('pairs');
    const draws: { text: string; ended: boolean }[][] = [];
    for (let j = 0; j < k; j++) draws.push(await sampleReplies(sftWeights, pairQs, rng));
    const pairs: unknown[] = [];
    let ties = 0;
    pairQs.forEach((x, i) => {
      const cands = draws.map((d) => d[i] as { text: string; ended: boolean }).filter((r) => r.text !== '');
      const scored = cands.map((r) => ({ r, p: proxyReward(r.text, x.a, r.ended) })).sort((u, v) => v.p.total - u.p.total);
      const best = scored[0];
      const worst = scored[scored.length - 1];
      if (!best || !worst || proxyPreference(best.p, worst.p) <= 0 || best.r.text === worst.r.text) {
        ties++;
        return;
      }
      pairs.push({ prompt: user(x.q), chosen: assistant(best.r.text), rejected: assistant(worst.r.text) });
    });
    if (pairs.length < scale.batchSize) throw new Error(`demo: only ${pairs.length} usable pairs (of ${pairQs.length} prompts); the SFT model's replies are all alike`);
    writeJsonl(path.join(dataDir, 'pairs.jsonl'), pairs);
    log(`   ${pairs.length} pairs (${ties} ties or empty replies dropped)`);
    lap('pairs');

    // 4. reward model
    log(`4/7 reward model: ${scale.rmSteps} Bradley-Terry steps`);
    const pairBatch = Math.max(2, scale.batchSize / 2);
    const rm = await stage('reward', {
      method: 'reward',
      model: { kind: 'hf', path: sftDir },
      data: { path: 'data/pairs.jsonl', evalSplit: 0.15, maxLength: MAX_LEN },
      batchSize: pairBatch,
      maxSteps: scale.rmSteps,
      optimizer: { learningRate: 3e-4, schedule: 'linear', warmupRatio: 0.1, weightDecay: 0, maxGradNorm: 1 },
      intervals: { logging: Math.max(1, Math.floor(scale.rmSteps / 12)), eval: Math.max(1, Math.floor(scale.rmSteps / 4)), checkpoint: 0, sample: 0 },
    });
    lap('reward_model');

    // 5. DPO and SimPO
    const points = scale.trajectoryPoints + 1;
    const ckptEvery = Math.max(1, Math.floor(scale.dpoSteps / points));
    log(`5/7 DPO: ${scale.dpoSteps} steps from the SFT model (beta ${scale.dpo.beta}, reference log-probs precomputed)`);
    await stage('dpo', {
      method: 'dpo',
      model: { kind: 'hf', path: sftDir },
      data: { path: 'data/pairs.jsonl', evalSplit: 0.1, maxLength: MAX_LEN },
      hyperparameters: { beta: scale.dpo.beta, loss_type: 'sigmoid', precompute_ref_log_probs: true },
      batchSize: pairBatch,
      maxSteps: scale.dpoSteps,
      optimizer: { learningRate: scale.dpo.learningRate, schedule: 'constant', warmupRatio: 0, weightDecay: 0, maxGradNorm: 1 },
      intervals: { logging: Math.max(1, Math.floor(scale.dpoSteps / 12)), eval: ckptEvery, checkpoint: ckptEvery, sample: 0 },
    });
    lap('dpo');
    log(`   SimPO: ${scale.dpoSteps} steps from the SFT model (reference-free; beta ${scale.simpo.beta}, gamma ${scale.simpo.gamma})`);
    await stage('simpo', {
      method: 'simpo',
      model: { kind: 'hf', path: sftDir },
      data: { path: 'data/pairs.jsonl', evalSplit: 0.1, maxLength: MAX_LEN },
      hyperparameters: { beta: scale.simpo.beta, simpo_gamma: scale.simpo.gamma },
      batchSize: pairBatch,
      maxSteps: scale.dpoSteps,
      optimizer: { learningRate: scale.simpo.learningRate, schedule: 'constant', warmupRatio: 0, weightDecay: 0, maxGradNorm: 1 },
      intervals: { logging: Math.max(1, Math.floor(scale.dpoSteps / 12)), eval: scale.dpoSteps, checkpoint: 0, sample: 0 },
    });
    lap('simpo');

    // 6. evaluation on held-out prompts
    log(`6/7 evaluating SFT, DPO and SimPO on ${evalQs.length} held-out prompts (proxy reward, win rate vs SFT, KL to SFT)`);
    const evalRng = (): Rng => new Rng(seed).derive('eval');
    const sftReplies = await sampleReplies(sftWeights, evalQs, evalRng());
    const sftRewards = sftReplies.map((r, i) => proxyReward(r.text, (evalQs[i] as QA).a, r.ended));
    const evaluatePolicy = async (weights: Map<string, Float32Array>): Promise<{ ev: PolicyEval; replies: string[] }> => {
      const replies = await sampleReplies(weights, evalQs, evalRng());
      const rewards = replies.map((r, i) => proxyReward(r.text, (evalQs[i] as QA).a, r.ended));
      let wins = 0;
      rewards.forEach((r, i) => {
        const p = proxyPreference(r, sftRewards[i] as ProxyRewardParts);
        wins += p > 0 ? 1 : p === 0 ? 0.5 : 0;
      });
      // KL(pi || pi_SFT) ~ mean over the policy's samples of log pi(y|x) - log pi_SFT(y|x).
      const rows = replies.map((r, i) => promptCompletionRow(encodePrompt(tok, user((evalQs[i] as QA).q)), r.ids));
      await scorer.setWeights(weights);
      const lp = await scorer.score(rows);
      await scorer.setWeights(sftWeights);
      const lq = await scorer.score(rows);
      let kl = 0;
      for (let i = 0; i < rows.length; i++) kl += (lp[i] as number) - (lq[i] as number);
      const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
      return {
        ev: {
          proxy_reward: mean(rewards.map((r) => r.total)),
          win_rate_vs_sft: wins / evalQs.length,
          kl_to_sft: kl / rows.length,
          ended_fraction: mean(replies.map((r) => (r.ended ? 1 : 0))),
          mean_f1: mean(rewards.map((r) => r.f1)),
          exact_match: mean(replies.map((r, i) => (words(r.text).join(' ') === words((evalQs[i] as QA).a).join(' ') ? 1 : 0))),
          mean_extra_words: mean(replies.map((r, i) => Math.max(0, words(r.text).length - words((evalQs[i] as QA).a).length))),
        },
        replies: replies.map((r) => r.text),
      };
    };
    const finalWeights = (dir: string): Map<string, Float32Array> => new Map([...loadHfModel(dir, 'lm').weights].map(([k, v]) => [k, v.data]));
    const sftEval = await evaluatePolicy(sftWeights);
    const dpoDir = path.join(out, 'runs', 'dpo');
    const trajectory: ({ step: number } & PolicyEval)[] = [{ step: 0, ...sftEval.ev }];
    for (const s of listCheckpointSteps(dpoDir)) {
      const c = loadRunCheckpoint(dpoDir, s);
      const w = new Map(sftWeights);
      for (const [k, v] of c.state.params) w.set(k, v.data);
      trajectory.push({ step: s, ...(await evaluatePolicy(w)).ev });
    }
    const dpoEval = await evaluatePolicy(finalWeights(path.join(dpoDir, 'final')));
    trajectory.push({ step: scale.dpoSteps, ...dpoEval.ev });
    const simpoEval = await evaluatePolicy(finalWeights(path.join(out, 'runs', 'simpo', 'final')));
    lap('evaluation');

    // 7. report
    const rmEvents = readEvents(path.join(out, 'runs', 'reward'));
    const rmEval = [...rmEvents].reverse().find((e) => e.type === 'eval');
    const rmMetrics = rmEval?.type === 'eval' ? rmEval.params.metrics : {};
    const report: DemoReport = {
      proxy_reward_sft: sftEval.ev.proxy_reward,
      proxy_reward_aligned: dpoEval.ev.proxy_reward,
      win_rate_vs_sft: dpoEval.ev.win_rate_vs_sft,
      kl_to_sft: dpoEval.ev.kl_to_sft,
      aligned_method: 'dpo',
      policies: { sft: sftEval.ev, dpo: dpoEval.ev, simpo: simpoEval.ev },
      reward_model: { eval_accuracy: rmMetrics['eval_accuracy'] ?? null, eval_loss: rmMetrics['eval_loss'] ?? null },
      pairs: { generated: pairQs.length, ties_dropped: ties, used: pairs.length, samples_per_prompt: k },
      sft_data: { examples: sftData.length, filler_rate: SFT_FILLER_RATE },
      eval_prompts: evalQs.length,
      dpo_trajectory: trajectory,
      samples: evalQs.slice(0, 8).map((x, i) => ({ prompt: x.q, reference: x.a, sft: sftEval.replies[i] ?? '', dpo: dpoEval.replies[i] ?? '', simpo: simpoEval.replies[i] ?? '' })),
      seconds: { ...seconds, total: (Date.now() - t00) / 1000 },
      proxy_reward_rule: 'R(x, y) = F1(y, reference answer) - 0.5 [reply did not end] - 0.1 * max(0, words(y) - words(reference) - 2)',
    };
    void rm;
    fs.writeFileSync(path.join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    writeDemoHtml(path.join(out, 'report.html'), report, {
      sft: readEvents(path.join(out, 'runs', 'sft')),
      reward: rmEvents,
      dpo: readEvents(dpoDir),
      simpo: readEvents(path.join(out, 'runs', 'simpo')),
    });
    log(`7/7 report: ${path.join(out, 'report.html')}`);
    return report;
  } finally {
    await scorer.dispose();
  }
}

/** A run folder's events (empty when it has none). */
export function readEvents(runDir: string): SessionEvent[] {
  const file = runPaths(runDir).events;
  if (!fs.existsSync(file)) return [];
  return parseSessionEvents(fs.readFileSync(file, 'utf8')).events;
}
