/**
 * What the demo's stages share (demo.ts): the run (options, output folder, timings, one session run per stage) and
 * the policy lab, which samples from and scores any policy of the SFT model's shape on the held-out prompts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Message } from '../core/datasets/examples';
import { resolveRunSpec, type RunSpec } from '../core/runs/spec';
import { runPaths } from '../core/runs/layout';
import { Generator } from '../engine/generate/generator';
import { loadHfModel } from '../engine/models/hfMapping';
import type { Weights } from '../engine/models/params';
import { buildModel, type TransformerModel } from '../engine/models/transformer';
import { Rng } from '../engine/rng';
import { generateDemoDialogues } from '../engine/tokenizer/demoCorpus';
import type { TextTokenizer } from '../engine/tokenizer/tokenizer';
import { promptCompletionRow } from '../training/batching';
import { proxyPreference, proxyReward, words, type ProxyRewardParts } from '../training/demo/proxyReward';
import { encodePrompt } from '../training/encode';
import type { RunnerOptions } from '../engine/runtime/devices';
import { SequenceScorer } from '../training/evaluate';
import { EventSink } from '../session/events';
import { runSession } from '../session/runSession';
import type { SessionResult } from '../session/types';
import type { DemoOptions, DemoScale } from './demo';

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

/** Most tokens of a reply when the demo samples (pairs, evaluation). */
export const MAX_NEW = 24;
/** Prompt + reply tokens every demo stage trains on. */
export const MAX_LEN = 64;

export interface QA {
  readonly q: string;
  readonly a: string;
}

export function corpus(n: number, seed: number): QA[] {
  return generateDemoDialogues(n, seed).map((d) => ({ q: d.messages[0]?.content ?? '', a: d.messages[1]?.content ?? '' }));
}

export function writeJsonl(file: string, rows: readonly unknown[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

export const user = (q: string): Message[] => [{ role: 'user', content: q }];
export const assistant = (a: string): Message[] => [{ role: 'assistant', content: a }];
export const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

const cpuSecondsSince = (start: NodeJS.CpuUsage): number => ((u) => (u.user + u.system) / 1e6)(process.cpuUsage(start));

/** What every stage shares: the options, the output folder, the progress log and the stage timings. */
export class DemoRun {
  readonly scale: DemoScale;
  readonly seed: number;
  readonly out: string;
  readonly log: (line: string) => void;
  readonly runner: RunnerOptions;
  /** Wall seconds per stage, in the order the stages ran. */
  readonly seconds: Record<string, number> = {};
  /**
   * CPU seconds (user + system) per stage: the sessions and onnxruntime's compute threads run in this process, so
   * this is each stage's whole CPU time, which unlike wall time does not grow with other jobs on the machine.
   */
  readonly cpuSeconds: Record<string, number> = {};
  private readonly started = Date.now();
  private lapStart = Date.now();
  private readonly cpuStart = process.cpuUsage();
  private lapCpu = process.cpuUsage();

  constructor(readonly opts: DemoOptions, scale: DemoScale) {
    this.scale = scale;
    this.seed = opts.seed ?? 7;
    this.out = path.resolve(opts.outDir);
    this.log = opts.log ?? (() => undefined);
    this.runner = { device: 'cpu', ...(opts.threads ? { threads: opts.threads } : {}) };
  }

  /** Ends the timing of stage `name` and starts the next one. */
  lap(name: string): void {
    this.seconds[name] = (Date.now() - this.lapStart) / 1000;
    this.cpuSeconds[name] = cpuSecondsSince(this.lapCpu);
    this.lapStart = Date.now();
    this.lapCpu = process.cpuUsage();
  }

  totalSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }

  totalCpuSeconds(): number {
    return cpuSecondsSince(this.cpuStart);
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

export interface Reply {
  readonly text: string;
  readonly ids: number[];
  readonly ended: boolean;
}

/** The SFT model's graph, to sample from and score under any policy's weights (all policies share its shape). */
export class PolicyLab {
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
export const evalRng = (run: DemoRun): Rng => new Rng(run.seed).derive('eval');
