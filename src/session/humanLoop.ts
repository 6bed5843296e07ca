/**
 * A session of a run with a person (`human-dpo`; docs/human-loop.md). Setup as online.ts (prompts, model, the
 * optional reward functions: the AI judge and extra selection signals), then rounds:
 *
 *   publish   round r's pairs, sampled from the current policy and picked by the selection rule
 *             (humanRounds.ts); with prefetch_next_batch, round r + 1 is sampled and published while the person
 *             labels round r, so its pairs come from the policy before round r's update
 *   collect   the labels, read from the batch's journal every `labelPollMs`, by feedback_mode: the person's up to
 *             the budget (`wanted`); the judge (the reward functions, writer `session`, source `ai:<names>`) for
 *             the rest in human-then-judge, for every pair in judge-audit; at the deadline, `on_timeout`. A judge
 *             that fails falls back to waiting for the person, with a warning saying so
 *   close     used.json (the labels the update takes: the person's over the judge's, late labels of older
 *             rounds marked `olderPolicy`), then batch.json `closed`, both durable
 *   update    `updates_per_round` DPO steps (humanDpoTrainer.ts); with refit_reward_model, the reward model refit
 *             on the person's labels so far and refit_policy's steps against it (humanRefit.ts); then a checkpoint
 *             that records the round (and the refit reward model)
 *   metrics   human/labels (the person's decisions on the batch, ties included), human/labels_trained (the
 *             decisive ones the update took), human/ai_labels, human/late_labels, human/ai_agreement (person vs judge on the pairs
 *             both decided), human/heldout_agreement (the person's decisive labels that the policy's implicit
 *             reward already ranked the same way before training on them), human/win_rate_vs_previous (share of
 *             them where the updated policy's implicit reward margin toward the person's choice exceeds the
 *             previous policy's; ties count 1/2), and the DPO metrics
 *
 * Resume: the checkpoint holds the last trained round. A later round that is published is not sampled again; one
 * that has used.json trains on exactly those labels; a waiting one waits again, its labels all still in the journal.
 */
import * as path from 'node:path';
import { ADAPTER_DIR, FINAL_DIR } from '../core/runs/layout';
import type { RunSpec } from '../core/runs/spec';
import { closeBatch, isPersonSource, listRounds, openRoundLabels, readBatch, readRoundPairs, roundDecisions, type PairDecision } from '../core/runs/rounds';
import type { FeedbackStore } from '../core/feedback/store';
import type { BatchClosed, CloseReason, RoundBatch, RoundPair } from '../protocol/humanLoop';
import { NonFiniteStepError } from '../engine/step/trainer';
import { humanDpoConfig, HumanDpoTrainer, type HumanDpoConfig, type HumanDpoPair, type JudgeVerdict, type LabeledPair } from '../training/online/humanDpoTrainer';
import { writeRefitState, type HumanRefit } from '../training/online/humanRefit';
import { RewardError } from '../training/online/rewards/rewardFunction';
import type { RolloutPrompt } from '../training/online/rollout';
import { saveRunCheckpoint } from './checkpoints';
import { loadSplit } from './data';
import type { EventSink } from './events';
import { openHumanRefit, personRefitPairs, resumeHumanRefit } from './humanRefit';
import { publishRound, readUsed, roundTrainPairs, writeUsed, type UsedLabel } from './humanRounds';
import type { RunModel } from './model';
import { sessionRewardedOptions } from './onlineDpo';
import { openSpecRewards, parameterCounts, rolloutPrompts, trainerBasics } from './online';
import { trainerStateInfo, writeModelFiles, writeTrainerState } from './hfFolders';
import { loadFittingModel } from './plan';
import { resumeCheckpoint } from './resume';
import { SessionInputError, type SessionOptions, type SessionResult } from './types';

const SESSION_WRITER = 'session';

function config(spec: RunSpec): HumanDpoConfig {
  let cfg: HumanDpoConfig;
  try {
    cfg = humanDpoConfig(spec.hyperparameters);
  } catch (e) {
    throw new SessionInputError((e as Error).message);
  }
  if (cfg.pairsPerRound % spec.batchSize !== 0) throw new SessionInputError(`batchSize ${spec.batchSize} must divide hyperparameters.pairs_per_round (${cfg.pairsPerRound}): a round's update holds pairs_per_round pairs in micro-batches of batchSize`);
  return cfg;
}

/** Runs a session of a run with a person (module comment). */
export async function runHumanLoopSession(spec: RunSpec, opts: SessionOptions, sink: EventSink, disposers: (() => Promise<void>)[], setStep: (s: number) => void): Promise<SessionResult> {
  const cfg = config(spec);
  const baseDir = opts.baseDir ?? process.cwd();
  const split = await loadSplit(spec, baseDir, sink);
  const prompts = rolloutPrompts(split.train);
  if (!prompts.length) throw new SessionInputError(`data.path: ${spec.data.path} has no prompts to sample from`);
  const rm = loadFittingModel(spec, 'lm', opts, baseDir, sink);
  const rewards = spec.rewards ? await openSpecRewards(spec, opts, baseDir, cfg.maxNewTokens) : undefined;
  if (rewards) disposers.push(() => rewards.dispose());
  const total = cfg.rounds * cfg.updatesPerRound;
  const basics = trainerBasics(spec, opts, rm, { value: cfg.maxNewTokens, name: 'max_new_tokens' }, { total }, sink, rewards);
  const trainer = await HumanDpoTrainer.create({ ...sessionRewardedOptions(spec, rm, prompts, basics), config: cfg, stopStrings: spec.generation?.stop ?? [], microBatchPairs: spec.batchSize });
  disposers.push(() => trainer.dispose());
  const refit = await openHumanRefit(spec, cfg, rm, basics, prompts);
  if (refit) disposers.push(() => refit.dispose());
  const trained = await resume(opts, spec, trainer, sink, refit);
  setStep(trainer.stepsDone);
  sink.started({ runId: path.basename(path.resolve(opts.runDir)), method: spec.method, pid: process.pid, device: trainer.device, model: rm.label, totalSteps: total, examples: { train: prompts.length, eval: split.eval.length }, parameters: parameterCounts(rm) });
  return new HumanLoop({ spec, cfg, opts, sink, rm, trainer, prompts, setStep, judge: basics.rewards.map((r) => r.fn.name), ...(refit ? { refit } : {}) }, trained).run();
}

/** Restores the newest checkpoint; returns the rounds it had trained (0 for a fresh run). */
async function resume(opts: SessionOptions, spec: RunSpec, trainer: HumanDpoTrainer, sink: EventSink, refit: HumanRefit | undefined): Promise<number> {
  const c = resumeCheckpoint(opts.runDir, spec, sink, opts.restartFromScratch === true);
  if (!c) return 0;
  const round = c.trainer.online?.round;
  if (round === undefined || !Number.isInteger(round) || round < 0) throw new SessionInputError(`${c.path}/trainer_state.json: online.round is missing; it was not written by a run with a person`);
  await trainer.restore({ train: c.state, rollouts: c.step, tokensSeen: c.trainer.numTokens });
  if (refit) await resumeHumanRefit(refit, opts.runDir, c.path, sink);
  sink.warning({ message: `resuming from ${c.path} (step ${c.step}, after round ${round})`, step: c.step });
  return round;
}

interface LoopInputs {
  readonly spec: RunSpec;
  readonly cfg: HumanDpoConfig;
  readonly opts: SessionOptions;
  readonly sink: EventSink;
  readonly rm: RunModel;
  readonly trainer: HumanDpoTrainer;
  readonly prompts: readonly RolloutPrompt[];
  readonly setStep: (s: number) => void;
  /** The reward functions' names (the judge); empty when the run has none. */
  readonly judge: readonly string[];
  /** The reward-model refit and policy steps against it after each update (refit_reward_model); absent when off. */
  readonly refit?: HumanRefit;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);

class HumanLoop {
  private readonly runDir: string;
  private readonly promptById: Map<string, RolloutPrompt>;
  private readonly usedIds = new Set<string>();
  private readonly published = new Map<number, Promise<void>>();
  private lastMetrics: Record<string, number> = {};

  constructor(
    private readonly x: LoopInputs,
    private trained: number,
  ) {
    this.runDir = x.opts.runDir;
    this.promptById = new Map(x.prompts.map((p) => [p.id, p]));
    for (let r = 1; r <= trained; r++) for (const l of readUsed(this.runDir, r) ?? []) this.usedIds.add(l.id);
  }

  async run(): Promise<SessionResult> {
    const { cfg, sink } = this.x;
    for (let round = this.trained + 1; round <= cfg.rounds; round++) {
      if (this.x.opts.stopRequested?.()) return this.stopped();
      await this.ensurePublished(round);
      const next = cfg.prefetch && round < cfg.rounds ? this.ensurePublished(round + 1) : Promise.resolve();
      next.catch(() => undefined); // awaited below; this only keeps a failure while waiting from going unhandled
      const labels = readUsed(this.runDir, round) ?? (await this.collect(round));
      if (labels === 'stopped') {
        await next;
        return this.stopped();
      }
      await next;
      await this.train(round, labels);
    }
    this.writeHf(path.join(this.runDir, FINAL_DIR), await this.x.trainer.currentWeights(), { adapterDir: path.join(this.runDir, ADAPTER_DIR) });
    sink.finished({ reason: 'completed', step: this.x.trainer.stepsDone, metrics: this.lastMetrics, path: FINAL_DIR });
    return { reason: 'completed', step: this.x.trainer.stepsDone, metrics: this.lastMetrics, finalDir: path.join(this.runDir, FINAL_DIR) };
  }

  private stopped(): SessionResult {
    const step = this.x.trainer.stepsDone;
    this.x.sink.finished({ reason: 'stopped', step, metrics: this.lastMetrics, path: '' });
    return { reason: 'stopped', step, metrics: this.lastMetrics };
  }

  /** Publishes `round` from the current policy unless it is on disk (or on its way) already. */
  private ensurePublished(round: number): Promise<void> {
    if (listRounds(this.runDir).includes(round)) return Promise.resolve();
    let p = this.published.get(round);
    if (!p) {
      const policyRound = this.trained;
      const policyStep = this.x.trainer.stepsDone;
      p = this.x.trainer.sample(round).then((sample) => {
        if (sample.signalProblem) this.x.sink.warning({ message: `round ${round}: the reward functions could not score the completions (${sample.signalProblem}); the pairs were picked by the implicit reward alone`, step: policyStep });
        publishRound(this.runDir, this.x.cfg, this.x.spec.seed, { round, policyRound, policyStep, now: Date.now() }, sample);
      });
      this.published.set(round, p);
    }
    return p;
  }

  /** Waits for round `round`'s labels by its feedback mode (module comment); 'stopped' when a stop came first. */
  private async collect(round: number): Promise<UsedLabel[] | 'stopped'> {
    const batch = readBatch(this.runDir, round);
    const pairs = readRoundPairs(this.runDir, round);
    const store = openRoundLabels(this.runDir, round, SESSION_WRITER);
    const timeoutMs = this.x.cfg.roundTimeoutSeconds * 1000;
    // The deadline counts again from a resumed wait, so a session restarted after a timeout gets its full time.
    const deadline = batch.deadline === null ? null : Math.max(batch.deadline, Date.now() + timeoutMs);
    try {
      let judgeOk = this.x.judge.length > 0;
      let wanted = batch.wanted;
      if (batch.mode === 'judge-audit' && !(await this.judgeRest(round, pairs, store))) [judgeOk, wanted] = [false, pairs.length];
      for (;;) {
        store.refresh();
        const person = roundDecisions(store.view(), pairs).person.size;
        if (person >= wanted) {
          if (batch.mode !== 'human-then-judge' || !judgeOk || person >= pairs.length || (await this.judgeRest(round, pairs, store))) return this.close(round, batch, pairs, store, person >= pairs.length ? 'labeled' : batch.mode === 'human' ? 'budget' : 'judged');
          [judgeOk, wanted] = [false, pairs.length];
          continue;
        }
        if (this.x.opts.stopRequested?.()) return 'stopped';
        if (deadline !== null && Date.now() >= deadline) {
          const t = await this.onTimeout(round, batch, pairs, store, person, judgeOk);
          if (t) return t;
        }
        await sleep(this.x.opts.labelPollMs ?? 500);
      }
    } finally {
      store.close();
    }
  }

  /** The deadline passed with `person` of the pairs labeled: `on_timeout` (module comment). */
  private async onTimeout(round: number, batch: RoundBatch, pairs: readonly RoundPair[], store: FeedbackStore, person: number, judgeOk: boolean): Promise<UsedLabel[] | 'stopped'> {
    const { sink } = this.x;
    const what = `round ${round}: the timeout (${this.x.cfg.roundTimeoutSeconds} s) passed with ${person} of ${pairs.length} pairs labeled by the person`;
    if (batch.onTimeout === 'stop') {
      sink.warning({ message: `${what}; the run stops (on_timeout "stop") and resumes at this round with the labels given so far`, step: this.x.trainer.stepsDone });
      return 'stopped';
    }
    if (batch.onTimeout === 'judge' && judgeOk && (await this.judgeRest(round, pairs, store))) {
      sink.warning({ message: `${what}; the AI judge labeled the rest (on_timeout "judge")`, step: this.x.trainer.stepsDone });
      return this.close(round, batch, pairs, store, 'timeout');
    }
    sink.warning({ message: `${what}; training on the labeled pairs${batch.onTimeout === 'judge' ? ' (the AI judge could not label the rest)' : ' (on_timeout "train-on-labeled")'}`, step: this.x.trainer.stepsDone });
    return this.close(round, batch, pairs, store, 'timeout');
  }

  /**
   * The judge labels the pairs that have neither the person's decision nor its own; false (with a warning saying
   * the session waits for the person instead) when it fails.
   */
  private async judgeRest(round: number, pairs: readonly RoundPair[], store: FeedbackStore): Promise<boolean> {
    if (!this.x.judge.length) return false;
    store.refresh();
    const d = roundDecisions(store.view(), pairs);
    const todo = pairs.map((p, i) => ({ p, i })).filter(({ p }) => !d.person.has(p.id) && !d.ai.has(p.id));
    if (!todo.length) return true;
    const train = roundTrainPairs(this.runDir, round, pairs, this.promptById);
    const failed = (why: string): false => {
      this.x.sink.warning({ message: `round ${round}: the AI judge failed (${why}); waiting for the person to label the remaining pairs instead`, step: this.x.trainer.stepsDone });
      return false;
    };
    let verdicts: JudgeVerdict[];
    try {
      verdicts = await this.x.trainer.judge(todo.map(({ i }) => train[i] as HumanDpoPair));
    } catch (e) {
      if (!(e instanceof RewardError)) throw e;
      return failed(e.message);
    }
    const source = `ai:${this.x.judge.join('+').replace(/\s+/g, '_')}` as const;
    todo.forEach(({ p }, k) => {
      const v = verdicts[k];
      if (v === 'skipped' || v === undefined) return;
      store.record({ recordId: p.id, type: 'comparison', source, annotator: 'ai-judge', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: v === 'tie' ? null : v === 'a' ? 'chosen' : 'rejected' } });
    });
    const skipped = verdicts.filter((v) => v === 'skipped').length;
    return skipped ? failed(`it skipped ${skipped} of ${todo.length} pairs (rewards.onError "skip")`) : true;
  }

  /** The labels the update takes (the person's over the judge's, late labels of older rounds), then closes the batch. */
  private close(round: number, batch: RoundBatch, pairs: readonly RoundPair[], store: FeedbackStore, reason: CloseReason): UsedLabel[] {
    store.refresh();
    const d = roundDecisions(store.view(), pairs);
    const labels: UsedLabel[] = [];
    const use = (dec: PairDecision, r: number, weight: number, olderPolicy: boolean): void => {
      if (dec.preferred !== null) labels.push({ id: dec.recordId, round: r, preferred: dec.preferred, source: dec.source, entryId: dec.entryId, weight, olderPolicy });
    };
    let ai = 0;
    for (const p of pairs) {
      const person = d.person.get(p.id);
      const judge = d.ai.get(p.id);
      if (person) use(person, round, 1, false);
      else if (judge) {
        ai++;
        use(judge, round, this.x.cfg.aiLabelWeight, false);
      }
    }
    labels.push(...this.lateLabels(round));
    const human = d.person.size;
    const unlabeled = pairs.length - human - ai;
    const closed: BatchClosed = { at: Date.now(), reason, human, ai, unlabeled, message: `round ${round}: ${human} of ${pairs.length} pairs labeled by the person, ${ai} by the AI judge, ${unlabeled} unlabeled (${reason})` };
    writeUsed(this.runDir, round, labels);
    closeBatch(this.runDir, batch.round, closed);
    return labels;
  }

  /** The person's decisions on pairs of closed older rounds that no update has taken yet. */
  private lateLabels(round: number): UsedLabel[] {
    const out: UsedLabel[] = [];
    for (const r of listRounds(this.runDir)) {
      if (r >= round) break;
      const pairs = readRoundPairs(this.runDir, r);
      const store = openRoundLabels(this.runDir, r, SESSION_WRITER);
      try {
        for (const dec of roundDecisions(store.view(), pairs).person.values()) {
          if (!this.usedIds.has(dec.recordId) && dec.preferred !== null) out.push({ id: dec.recordId, round: r, preferred: dec.preferred, source: dec.source, entryId: dec.entryId, weight: 1, olderPolicy: true });
        }
      } finally {
        store.close();
      }
    }
    return out;
  }

  /** The round's update, its checkpoint and its metrics (module comment). */
  private async train(round: number, labels: readonly UsedLabel[]): Promise<void> {
    const { trainer, sink } = this.x;
    const pairsOf = new Map<number, HumanDpoPair[]>();
    const pairOf = (l: UsedLabel): HumanDpoPair => {
      if (!pairsOf.has(l.round)) pairsOf.set(l.round, roundTrainPairs(this.runDir, l.round, readRoundPairs(this.runDir, l.round), this.promptById));
      const i = Number(/-p(\d+)$/.exec(l.id)?.[1]);
      const p = pairsOf.get(l.round)?.[i];
      if (!p) throw new SessionInputError(`round ${round}: used label ${l.id} names no pair of round ${l.round}`);
      return p;
    };
    const labeled: LabeledPair[] = labels.map((l) => ({ pair: pairOf(l), preferred: l.preferred === 'chosen' ? 'a' : 'b', weight: l.weight }));
    const own = labeled.filter((_, i) => isPersonSource((labels[i] as UsedLabel).source) && (labels[i] as UsedLabel).round === round);
    const toward = (ms: readonly number[]): number[] => own.map((l, i) => ((ms[i] as number) - (l.pair.a.refLogp - l.pair.b.refLogp)) * (l.preferred === 'a' ? 1 : -1));
    const before = toward(await trainer.margins(own.map((l) => l.pair)));
    let update: Record<string, number> | undefined;
    try {
      update = await trainer.update(labeled);
    } catch (e) {
      if (e instanceof NonFiniteStepError) throw new SessionInputError(`training diverged: ${e.message}. Lower optimizer.learningRate.`);
      throw e;
    }
    if (!update) sink.warning({ message: `round ${round}: no labeled pairs to train on; the policy is unchanged`, step: trainer.stepsDone });
    const refitted = await this.refit(round);
    const after = toward(await trainer.margins(own.map((l) => l.pair)));
    const metrics: Record<string, number> = {
      ...(update ?? {}),
      ...refitted,
      'human/round': round,
      'human/labels': readBatch(this.runDir, round).closed?.human ?? NaN,
      'human/labels_trained': own.length,
      'human/ai_labels': labels.filter((l) => l.source.startsWith('ai:')).length,
      'human/late_labels': labels.filter((l) => l.olderPolicy).length,
      'human/heldout_agreement': mean(before.map((m) => (m > 0 ? 1 : m === 0 ? 0.5 : 0))),
      'human/win_rate_vs_previous': mean(after.map((m, i) => (m > (before[i] as number) ? 1 : m === before[i] ? 0.5 : 0))),
      'human/ai_agreement': this.agreement(round),
    };
    await this.checkpoint(round);
    for (const l of labels) this.usedIds.add(l.id);
    this.trained = round;
    this.x.setStep(trainer.stepsDone);
    this.lastMetrics = Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
    sink.metrics({ step: trainer.stepsDone, epoch: round, metrics: this.lastMetrics });
  }

  /** The refit after the round's DPO update (humanRefit.ts): its metrics; the policy takes the refit's weights. */
  private async refit(round: number): Promise<Record<string, number>> {
    const { refit, trainer } = this.x;
    if (!refit) return {};
    const r = await refit.run(round, personRefitPairs(this.runDir, round, this.promptById), await trainer.currentWeights());
    if (r.policyWeights) await trainer.setPolicyWeights(r.policyWeights);
    return r.metrics;
  }

  /** Share of the round's pairs decided by both the person and the judge on which they agree (NaN for none). */
  private agreement(round: number): number {
    const pairs = readRoundPairs(this.runDir, round);
    const store = openRoundLabels(this.runDir, round, SESSION_WRITER);
    try {
      const d = roundDecisions(store.view(), pairs);
      const both = [...d.person.values()].filter((p) => d.ai.has(p.recordId));
      return mean(both.map((p) => (d.ai.get(p.recordId)?.preferred === p.preferred ? 1 : 0)));
    } finally {
      store.close();
    }
  }

  private async checkpoint(round: number): Promise<void> {
    const { spec, opts, trainer, cfg } = this.x;
    const s = await trainer.state();
    const current = new Map([...s.train.params].map(([k, t]) => [k, t.data] as const));
    const refit = await this.x.refit?.state();
    const ts = { step: trainer.stepsDone, epoch: round, examplesSeen: round * cfg.pairsPerRound, numTokens: s.tokensSeen, method: spec.method, hyperparameters: { ...spec.hyperparameters }, online: { round } };
    const rel = saveRunCheckpoint(opts.runDir, s.train, ts, (dir) => {
      this.writeHf(dir, current, {}, round);
      if (refit) writeRefitState(dir, refit);
    }, opts.keepCheckpoints ?? 2);
    this.x.sink.checkpoint({ step: trainer.stepsDone, path: rel });
  }

  /** The model files and trainer_state.json of a checkpoint or the final folder (hfFolders.ts). */
  private writeHf(dir: string, current: ReadonlyMap<string, Float32Array>, kind: { readonly adapterDir?: string }, round = this.trained): void {
    const { spec, cfg, trainer } = this.x;
    writeModelFiles(dir, this.x.rm, current, kind);
    const at = { step: trainer.stepsDone, maxSteps: cfg.rounds * cfg.updatesPerRound, epoch: round, evalSteps: spec.intervals.eval, numTokens: trainer.numTokens, best: null };
    writeTrainerState(dir, this.x.sink.file, trainerStateInfo(spec, at));
  }
}
