/**
 * Active vs random pair selection in runs with a person: how many of the person's labels each needs to reach a
 * fixed win rate against the SFT model on the demo task.
 *
 *   npm run bench -- active [--sft-from DIR] [--rm-from DIR] [--seeds 8] [--first-seed 1] [--rounds 8]
 *                           [--target 0.58] [--eval-prompts 256] [--noise 0.15] [--threads N]
 *
 * The demo's data (src/cli/demo.ts, full scale), its SFT model (trained here, or `--sft-from` a demo's
 * runs/sft/final) and its reward model (Bradley-Terry on proxy-labeled SFT pairs: trained here, or `--rm-from`,
 * by default the runs/reward/final beside `--sft-from` when there is one). Then, for each seed and each rule, a
 * `human-dpo` session from the SFT model on the demo's pair prompts, with the reward model among its reward
 * functions (a selection signal; feedback_mode "human", so it never labels), labeled by the simulated labeler
 * (src/cli/humanLabels.ts: the proxy reward against each prompt's reference answer, `--noise` of its decisions
 * flipped) writing to the batches' journals as the comparison panel would. Both rules run with the same seeds in
 * the same process, so a seed's prompts and first round's samples are the same for both. Every round's checkpoint
 * is evaluated as the demo evaluates its policies (PolicyLab: replies sampled on held-out prompts, win rate against
 * the SFT model's replies under the proxy reward, ties 1/2).
 *
 * A run's labels_to_target is the person's labels (ties included: a tie is a label spent) up to the first round
 * whose policy reaches `--target`. A run that never reaches it counts as its total labels plus one round's
 * (a lower bound on what it needed), and is listed as censored. The figures are means over seeds; ratio =
 * active / random (the goal is 0.5), with a 95% paired bootstrap interval over seeds (the seeds resampled, the
 * ratio of means recomputed), each run's count, and each rule's mean win-rate curve with its standard error
 * across seeds. `labels_to_target_mean_curve` reads the same count off each rule's mean curve (linear between
 * rounds), which averages the evaluation noise of single runs before the first passage is taken.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { answersFromPromptFile, HeadlessLabeler, simulatedDecider } from '../src/cli/humanLabels';
import { DEMO_SCALES, labelPairs, trainRewardModel, trainSft, writeDemoData } from '../src/cli/demo';
import { DemoRun, MAX_LEN, MAX_NEW, PolicyLab, evalRng, type QA } from '../src/cli/demoLab';
import { ONLINE_PROMPTS, writeOnlinePrompts } from '../src/cli/demoOnline';
import { listRounds, readBatch, roundPaths, SIMULATED_LABELER_SOURCE } from '../src/core/runs/rounds';
import { resolveRunSpec } from '../src/core/runs/spec';
import { Rng } from '../src/engine/rng';
import { parseSessionEvents } from '../src/protocol/session';
import { loadHfModel } from '../src/engine/models/hfMapping';
import { TextTokenizer } from '../src/engine/tokenizer/tokenizer';
import { defaultCacheDir } from '../src/session/model';
import { runSession } from '../src/session/runSession';
import { proxyReward, type ProxyRewardParts } from '../src/training/demo/proxyReward';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const pathArg = (name: string): string | undefined => ((i) => (i >= 0 ? process.argv[i + 1] : undefined))(process.argv.indexOf(`--${name}`));
const sftFrom = pathArg('sft-from');
const rmFrom = pathArg('rm-from') ?? (sftFrom && fs.existsSync(path.resolve(sftFrom, '..', '..', 'reward', 'final', 'config.json')) ? path.resolve(sftFrom, '..', '..', 'reward', 'final') : undefined);
const SEEDS = arg('seeds', 8);
/** Seeds FIRST_SEED .. FIRST_SEED + SEEDS - 1, so the bench can be split across runs or machines. */
const FIRST_SEED = arg('first-seed', 1);
const ROUNDS = arg('rounds', 8);
const TARGET = arg('target', 0.58);
const EVAL_PROMPTS = arg('eval-prompts', 256);
const NOISE = arg('noise', 0.15);
const THREADS = arg('threads', 0);

/** The loop's sizes: every round 16 prompts x 4 samples, 8 pairs shown, 4 DPO steps on them. */
const LOOP = { prompts_per_round: 16, samples_per_prompt: 4, pairs_per_round: 8, updates_per_round: 4, beta: 0.2, learningRate: 1e-4 };

interface RoundPoint {
  readonly round: number;
  readonly labels: number;
  readonly win_rate_vs_sft: number;
}

interface RunOutcome {
  readonly seed: number;
  readonly labels_to_target: number;
  readonly censored: boolean;
  /** Share of the person's labels that were decisive (not ties), so trained on. */
  readonly decisive_share: number;
  readonly curve: readonly RoundPoint[];
}

/** Share of a run's labels (ties included) that were decisive: its rounds' used.json against batch.json. */
function decisiveShare(dir: string): number {
  let labels = 0;
  let decisive = 0;
  for (const round of listRounds(dir)) {
    labels += readBatch(dir, round).closed?.human ?? 0;
    const used = JSON.parse(fs.readFileSync(path.join(roundPaths(dir, round).dir, 'used.json'), 'utf8')) as { labels: { round: number }[] };
    decisive += used.labels.filter((l) => l.round === round).length;
  }
  return decisive / Math.max(1, labels);
}

/** One human-dpo session with the simulated labeler; returns the run folder. */
async function loopRun(run: DemoRun, sftDir: string, rmDir: string, selection: 'active' | 'random', seed: number): Promise<string> {
  const dir = run.runDir(`${selection}-${seed}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const { learningRate, ...hyper } = LOOP;
  const raw = {
    method: 'human-dpo',
    model: { kind: 'hf', path: sftDir },
    data: { path: ONLINE_PROMPTS, evalSplit: 0, maxLength: MAX_LEN },
    hyperparameters: { ...hyper, rounds: ROUNDS, max_new_tokens: MAX_NEW, temperature: 1, selection, prefetch_next_batch: false },
    rewards: { functions: [{ kind: 'reward_model', name: 'reward_model', path: rmDir, weight: 1 }] },
    batchSize: LOOP.pairs_per_round,
    optimizer: { learningRate, schedule: 'constant', warmupRatio: 0, weightDecay: 0, maxGradNorm: 1 },
    intervals: { logging: 1, eval: 0, checkpoint: 0, sample: 0 },
    seed,
    outputDir: dir,
  };
  const r = resolveRunSpec(raw, dir);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.reason}`).join('; '));
  const decide = simulatedDecider(answersFromPromptFile(path.join(run.out, ONLINE_PROMPTS)), NOISE, seed);
  const labeler = new HeadlessLabeler(dir, decide, { writerId: 'bench', source: SIMULATED_LABELER_SOURCE, annotator: 'simulated-labeler' });
  let failure: unknown;
  labeler.start(20, (e) => (failure = e));
  try {
    const res = await runSession(r.spec, { runDir: dir, cacheDir: defaultCacheDir(), baseDir: run.out, keepCheckpoints: 1000, labelPollMs: 20, ...(THREADS ? { threads: THREADS } : {}) });
    if (res.reason !== 'completed') throw new Error(`${selection} seed ${seed}: ${res.reason} ${res.error ?? ''}`);
  } finally {
    labeler.stop();
  }
  if (failure) throw failure;
  return dir;
}

/** Each round's policy (its checkpoint) evaluated against SFT, with the person's labels so far. */
async function curve(dir: string, lab: PolicyLab, evalQs: readonly QA[], sftRewards: readonly ProxyRewardParts[]): Promise<RoundPoint[]> {
  const events = parseSessionEvents(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8')).events;
  const out: RoundPoint[] = [];
  let labels = 0;
  for (const e of events) {
    if (e.type !== 'metrics') continue;
    labels += e.params.metrics['human/labels'] ?? 0;
    const loaded = loadHfModel(path.join(dir, 'checkpoints', `step-${e.params.step}`), 'lm');
    const weights = new Map([...loaded.weights].map(([k, v]) => [k, v.data]));
    const { ev } = await lab.evaluate(weights, evalQs, sftRewards);
    out.push({ round: e.params.metrics['human/round'] as number, labels, win_rate_vs_sft: ev.win_rate_vs_sft });
    console.log(`  ${path.basename(dir)} round ${out.length}: ${labels} labels, win rate vs SFT ${ev.win_rate_vs_sft.toFixed(3)}`);
  }
  return out;
}

function outcome(seed: number, dir: string, points: readonly RoundPoint[]): RunOutcome {
  const hit = points.find((p) => p.win_rate_vs_sft >= TARGET);
  const last = points[points.length - 1];
  return { seed, labels_to_target: hit ? hit.labels : (last?.labels ?? 0) + LOOP.pairs_per_round, censored: !hit, decisive_share: decisiveShare(dir), curve: points };
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

type Rule = 'active' | 'random';
const RULES: readonly Rule[] = ['active', 'random'];

/** 95% paired bootstrap interval of mean(active) / mean(random) over seeds (seeds resampled with replacement). */
function bootstrapRatio(active: readonly number[], random: readonly number[], resamples = 4000, seed = 1): [number, number] {
  const rng = new Rng(seed).derive('bootstrap');
  const ratios: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let sa = 0;
    let sr = 0;
    for (let i = 0; i < active.length; i++) {
      const j = rng.int(active.length);
      sa += active[j] as number;
      sr += random[j] as number;
    }
    ratios.push(sa / sr);
  }
  ratios.sort((x, y) => x - y);
  return [ratios[Math.floor(0.025 * resamples)] as number, ratios[Math.floor(0.975 * resamples)] as number];
}

/** What the ratio of means is when some runs never reached the target (their counts are lower bounds). */
function ratioBound(activeCensored: boolean, randomCensored: boolean): 'exact' | 'upper bound' | 'lower bound' | 'unbounded' {
  if (activeCensored && randomCensored) return 'unbounded';
  return activeCensored ? 'lower bound' : randomCensored ? 'upper bound' : 'exact';
}

/** Each round's mean win rate over seeds and its standard error across seeds. */
function meanCurve(runs: readonly RunOutcome[]): { labels: number; win_rate_vs_sft: number; se: number }[] {
  const n = runs.length ? Math.min(...runs.map((r) => r.curve.length)) : 0;
  return Array.from({ length: n }, (_, i) => {
    const ws = runs.map((r) => (r.curve[i] as RoundPoint).win_rate_vs_sft);
    const m = mean(ws);
    const sd = Math.sqrt(ws.reduce((s, w) => s + (w - m) ** 2, 0) / Math.max(1, ws.length - 1));
    return { labels: mean(runs.map((r) => (r.curve[i] as RoundPoint).labels)), win_rate_vs_sft: m, se: sd / Math.sqrt(ws.length) };
  });
}

/** Labels at which a curve first reaches the target, linear between rounds (from 0 labels at the SFT's 0.5); null if never. */
function firstPassage(curve: readonly { labels: number; win_rate_vs_sft: number }[]): number | null {
  let prev = { labels: 0, win_rate_vs_sft: 0.5 };
  for (const p of curve) {
    if (p.win_rate_vs_sft >= TARGET) return prev.labels + ((TARGET - prev.win_rate_vs_sft) / (p.win_rate_vs_sft - prev.win_rate_vs_sft)) * (p.labels - prev.labels);
    prev = p;
  }
  return null;
}

/** Trains the demo's reward model here (pairs sampled from the SFT model, labeled by the proxy reward). */
async function rewardModel(run: DemoRun, lab: PolicyLab, pairQs: readonly QA[], sftDir: string): Promise<string> {
  if (rmFrom) return path.resolve(rmFrom);
  await labelPairs(run, lab, pairQs);
  await trainRewardModel(run, sftDir);
  return path.join(run.runDir('reward'), 'final');
}

function summary(results: Record<Rule, RunOutcome[]>, rmDir: string): Record<string, unknown> {
  const counts = (r: Rule): number[] => results[r].map((o) => o.labels_to_target);
  const [active, random] = [mean(counts('active')), mean(counts('random'))];
  const curves = { active: meanCurve(results.active), random: meanCurve(results.random) };
  const fromCurve = { active: firstPassage(curves.active), random: firstPassage(curves.random) };
  const final = (r: Rule): number => mean(results[r].map((o) => o.curve[o.curve.length - 1]?.win_rate_vs_sft ?? NaN));
  return {
    labels_to_target_active: active,
    labels_to_target_random: random,
    ratio: active / random,
    ratio_ci95: bootstrapRatio(counts('active'), counts('random')),
    // A censored run's count is a lower bound, so with only random runs censored the ratio is an upper bound.
    ratio_bound: ratioBound(results.active.some((r) => r.censored), results.random.some((r) => r.censored)),
    goal_ratio: 0.5,
    labels_to_target_per_seed: { active: counts('active'), random: counts('random') },
    labels_to_target_mean_curve: { ...fromCurve, ratio: fromCurve.active !== null && fromCurve.random !== null ? fromCurve.active / fromCurve.random : null },
    target_win_rate_vs_sft: TARGET,
    mean_curve: curves,
    decisive_share: { active: mean(results.active.map((r) => r.decisive_share)), random: mean(results.random.map((r) => r.decisive_share)) },
    final_win_rate_vs_sft: { active: final('active'), random: final('random') },
    censored: { active: results.active.filter((r) => r.censored).length, random: results.random.filter((r) => r.censored).length },
    seeds: SEEDS,
    first_seed: FIRST_SEED,
    rounds: ROUNDS,
    label_noise: NOISE,
    eval_prompts: EVAL_PROMPTS,
    loop: LOOP,
    sft: sftFrom ? path.resolve(sftFrom) : 'trained here (demo full scale)',
    reward_model: rmFrom ? rmDir : 'trained here (demo full scale)',
    runs: results,
  };
}

async function main(): Promise<void> {
  const run = new DemoRun({ outDir: path.resolve('bench-results', 'active-work'), cacheDir: defaultCacheDir(), ...(THREADS ? { threads: THREADS } : {}), log: (l) => console.log(l) }, DEMO_SCALES.full);
  const data = writeDemoData(run);
  writeOnlinePrompts(run, data.pairQs);
  const sftDir = sftFrom ? path.resolve(sftFrom) : await trainSft(run, data.sft.length);
  const tok = TextTokenizer.fromFolder(sftDir);
  const lab = await PolicyLab.create(run, sftDir, tok);
  const results: Record<Rule, RunOutcome[]> = { active: [], random: [] };
  let rmDir: string;
  try {
    rmDir = await rewardModel(run, lab, data.pairQs, sftDir);
    const evalQs = data.evalQs.slice(0, EVAL_PROMPTS);
    const sftReplies = await lab.sampleReplies(lab.sftWeights, evalQs, evalRng(run));
    const sftRewards = sftReplies.map((r, i) => proxyReward(r.text, (evalQs[i] as QA).a, r.ended));
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      for (const sel of RULES) {
        const dir = await loopRun(run, sftDir, rmDir, sel, seed);
        results[sel].push(outcome(seed, dir, await curve(dir, lab, evalQs, sftRewards)));
      }
    }
  } finally {
    await lab.dispose();
  }
  const report = summary(results, rmDir);
  fs.writeFileSync(path.join('bench-results', 'active.json'), JSON.stringify(report, null, 2) + '\n');
  const [lo, hi] = report['ratio_ci95'] as [number, number];
  const c = report['censored'] as Record<Rule, number>;
  console.log(`labels to a ${TARGET} win rate vs SFT over ${SEEDS} seeds: active ${(report['labels_to_target_active'] as number).toFixed(1)}, random ${(report['labels_to_target_random'] as number).toFixed(1)}, ratio ${(report['ratio'] as number).toFixed(2)} (95% CI ${lo.toFixed(2)}-${hi.toFixed(2)}; goal 0.5); censored runs: active ${c.active}, random ${c.random}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
