/**
 * Resuming a run from its folder. Temporary checkpoint folders a killed session left behind are removed; the
 * newest readable checkpoint (an older one when a newer cannot be read: each unreadable one is moved aside and
 * named in a warning) restores the trainer state, the position in the data order and the early-stopping state.
 * The data order is a function of the examples seen, so a resumed run trains on the same batches as an
 * uninterrupted one. A run folder whose checkpoints are all unreadable starts from step 0 only when asked to
 * (`restartFromScratch`): otherwise the session refuses, so progress is never thrown away unnoticed.
 */
import type { RunSpec } from '../core/runs/spec';
import type { Trainer } from '../engine/step/trainer';
import { cleanTemporaryCheckpoints, listCorruptCheckpoints, loadLatestCheckpoint, type LoadedRunCheckpoint } from './checkpoints';
import type { EventSink } from './events';
import type { RunSchedule } from './plan';
import { SessionInputError } from './types';

/** Where a run stands; the training loop advances it and checkpoints save it. */
export interface Progress {
  /** Optimizer steps done. */
  step: number;
  /** Examples drawn so far (the position in the seeded data order). */
  examplesSeen: number;
  /** Running total of tokens (TRL's `num_tokens`). */
  numTokens: number;
  /** Early stopping: the best value of its metric so far, and evaluations since it last improved. */
  best: number | null;
  badEvals: number;
}

/** Restores the newest usable checkpoint into `trainer`; a run without one starts at step 0 (see module comment). */
export async function resumeRun(
  runDir: string,
  spec: RunSpec,
  trainer: Trainer,
  sched: RunSchedule,
  sink: EventSink,
  opts: { readonly restartFromScratch?: boolean } = {},
): Promise<Progress> {
  const c = resumeCheckpoint(runDir, spec, sink, opts.restartFromScratch === true);
  if (!c) return { step: 0, examplesSeen: 0, numTokens: 0, best: null, badEvals: 0 };
  if (c.step % sched.K !== 0 || c.step > sched.total) throw new SessionInputError(`${c.path} is at step ${c.step}, which does not fit this run (${sched.total} steps, ${sched.K} per call)`);
  await trainer.setState(c.state);
  sink.warning({ message: `resuming from ${c.path} (step ${c.step} of ${sched.total})`, step: c.step });
  return {
    step: c.step,
    examplesSeen: c.trainer.examplesSeen,
    numTokens: c.trainer.numTokens,
    best: c.trainer.earlyStopping?.best ?? null,
    badEvals: c.trainer.earlyStopping?.badEvals ?? 0,
  };
}

/**
 * The checkpoint a run of any method resumes from (module comment): the temporary folders of an interrupted session
 * removed and each unreadable checkpoint named in a warning; undefined for a fresh start ({@link checkFreshStart}).
 * A checkpoint of another method is refused.
 */
export function resumeCheckpoint(runDir: string, spec: RunSpec, sink: EventSink, restartFromScratch: boolean): LoadedRunCheckpoint | undefined {
  const cleaned = cleanTemporaryCheckpoints(runDir);
  if (cleaned) sink.warning({ message: `removed ${cleaned} incomplete checkpoint folder(s) left by an interrupted session` });
  const latest = loadLatestCheckpoint(runDir);
  for (const p of latest.problems) sink.warning({ message: p });
  const c = latest.checkpoint;
  if (!c) {
    checkFreshStart(runDir, sink, restartFromScratch);
    return undefined;
  }
  if (c.trainer.method !== spec.method) throw new SessionInputError(`${c.path} was trained with ${c.trainer.method}, this run is ${spec.method}`);
  return c;
}

/** Step 0 in a folder whose checkpoints were all unreadable: refused unless asked for, and said when it happens. */
export function checkFreshStart(runDir: string, sink: EventSink, restartFromScratch: boolean): void {
  const corrupt = listCorruptCheckpoints(runDir);
  if (corrupt.length === 0) return;
  const which = corrupt.join(', ');
  if (!restartFromScratch) {
    throw new SessionInputError(
      `no readable checkpoint to resume from in ${runDir}: the unreadable ones were moved aside (${which}). To train again from step 0, run again with --restart-from-scratch (the editor asks first).`,
    );
  }
  sink.warning({ message: `restarting from step 0 as asked (--restart-from-scratch): no readable checkpoint; the unreadable ones stay in ${which}` });
}
