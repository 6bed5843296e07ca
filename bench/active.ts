/**
 * Active vs random pair selection in runs with a person: how many of the person's labels each needs to reach a
 * fixed win rate against the SFT model on the demo task.
 *
 *   npm run bench -- active [--sft-from DIR] [--seeds 3] [--rounds 6] [--target 0.58] [--eval-prompts 96]
 *                           [--noise 0.15] [--threads N]
 *
 * The demo's data (src/cli/demo.ts, full scale) and its SFT model (trained here, or `--sft-from` a demo's
 * runs/sft/final); then, for each selection rule and seed, a `human-dpo` session from the SFT model on the demo's
 * pair prompts, labeled by the simulated labeler (src/cli/humanLabels.ts: the proxy reward against each
 * prompt's reference answer, `--noise` of its decisions flipped) writing to the batches' journals as the
 * comparison panel would. Every round's checkpoint is evaluated as the demo evaluates its policies (PolicyLab:
 * replies sampled on held-out prompts, win rate against the SFT model's replies under the proxy reward, ties 1/2).
 *
 * A run's labels_to_target is the person's labels (ties included: a tie is a label spent) up to the first round
 * whose policy reaches `--target`. A run that never reaches it counts as its total labels plus one round's
 * (a lower bound on what it needed), and is listed as censored. The figures are means over seeds; ratio =
 * active / random (the goal is 0.5).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { answersFromPromptFile, HeadlessLabeler, simulatedDecider } from '../src/cli/humanLabels';
import { DEMO_SCALES, trainSft, writeDemoData } from '../src/cli/demo';
import { DemoRun, MAX_LEN, MAX_NEW, PolicyLab, evalRng, type QA } from '../src/cli/demoLab';
import { ONLINE_PROMPTS, writeOnlinePrompts } from '../src/cli/demoOnline';
import { listRounds, readBatch, roundPaths, SIMULATED_LABELER_SOURCE } from '../src/core/runs/rounds';
import { resolveRunSpec } from '../src/core/runs/spec';
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
const sftFrom = ((i) => (i >= 0 ? process.argv[i + 1] : undefined))(process.argv.indexOf('--sft-from'));
const SEEDS = arg('seeds', 3);
const ROUNDS = arg('rounds', 6);
const TARGET = arg('target', 0.58);
const EVAL_PROMPTS = arg('eval-prompts', 96);
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
async function loopRun(run: DemoRun, sftDir: string, selection: 'active' | 'random', seed: number): Promise<string> {
  const dir = run.runDir(`${selection}-${seed}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const { learningRate, ...hyper } = LOOP;
  const raw = {
    method: 'human-dpo',
    model: { kind: 'hf', path: sftDir },
    data: { path: ONLINE_PROMPTS, evalSplit: 0, maxLength: MAX_LEN },
    hyperparameters: { ...hyper, rounds: ROUNDS, max_new_tokens: MAX_NEW, temperature: 1, selection, prefetch_next_batch: false },
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

async function main(): Promise<void> {
  const run = new DemoRun({ outDir: path.resolve('bench-results', 'active-work'), cacheDir: defaultCacheDir(), ...(THREADS ? { threads: THREADS } : {}), log: (l) => console.log(l) }, DEMO_SCALES.full);
  const data = writeDemoData(run);
  writeOnlinePrompts(run, data.pairQs);
  const sftDir = sftFrom ? path.resolve(sftFrom) : await trainSft(run, data.sft.length);
  const tok = TextTokenizer.fromFolder(sftDir);
  const lab = await PolicyLab.create(run, sftDir, tok);
  const evalQs = data.evalQs.slice(0, EVAL_PROMPTS);
  const sftReplies = await lab.sampleReplies(lab.sftWeights, evalQs, evalRng(run));
  const sftRewards = sftReplies.map((r, i) => proxyReward(r.text, (evalQs[i] as QA).a, r.ended));
  const results: Record<'active' | 'random', RunOutcome[]> = { active: [], random: [] };
  try {
    for (let seed = 1; seed <= SEEDS; seed++) {
      for (const sel of ['active', 'random'] as const) {
        const dir = await loopRun(run, sftDir, sel, seed);
        results[sel].push(outcome(seed, dir, await curve(dir, lab, evalQs, sftRewards)));
      }
    }
  } finally {
    await lab.dispose();
  }
  const active = mean(results.active.map((r) => r.labels_to_target));
  const random = mean(results.random.map((r) => r.labels_to_target));
  const report = {
    labels_to_target_active: active,
    labels_to_target_random: random,
    ratio: active / random,
    goal_ratio: 0.5,
    target_win_rate_vs_sft: TARGET,
    decisive_share: { active: mean(results.active.map((r) => r.decisive_share)), random: mean(results.random.map((r) => r.decisive_share)) },
    final_win_rate_vs_sft: { active: mean(results.active.map((r) => r.curve[r.curve.length - 1]?.win_rate_vs_sft ?? NaN)), random: mean(results.random.map((r) => r.curve[r.curve.length - 1]?.win_rate_vs_sft ?? NaN)) },
    censored: { active: results.active.filter((r) => r.censored).length, random: results.random.filter((r) => r.censored).length },
    seeds: SEEDS,
    rounds: ROUNDS,
    label_noise: NOISE,
    eval_prompts: evalQs.length,
    loop: LOOP,
    sft: sftFrom ? path.resolve(sftFrom) : 'trained here (demo full scale)',
    runs: results,
  };
  fs.writeFileSync(path.join('bench-results', 'active.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(`labels to a ${TARGET} win rate vs SFT: active ${active.toFixed(1)}, random ${random.toFixed(1)}, ratio ${(active / random).toFixed(2)} (goal 0.5); censored runs: active ${report.censored.active}, random ${report.censored.random}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
