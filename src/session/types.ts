/** What a training session takes (besides its run spec), what it ends with, and the error a user fixes. */
import { UserError } from '../util/errors';
import type { DivergenceReason } from '../protocol/session';
import type { EventSink } from './events';

export interface SessionOptions {
  /** The run folder (spec.json, events.jsonl, checkpoints/, final/). */
  readonly runDir: string;
  /** Built-in model cache. */
  readonly cacheDir: string;
  /** Relative data and model paths resolve against this folder (the workspace). */
  readonly baseDir?: string;
  /** onnxruntime threads (default: all cores). */
  readonly threads?: number;
  /** Extra event listeners (stdout, progress bar). */
  readonly sink?: EventSink;
  /** Resolves when a stop is requested (SIGTERM): the session checkpoints and ends with `stopped`. */
  readonly stopRequested?: () => boolean;
  /** Memory the run may use, bytes (default: the machine's total memory). */
  readonly memoryBytes?: number;
  /** Checkpoints kept (default 2). */
  readonly keepCheckpoints?: number;
  /** Consecutive non-finite steps before the run fails (default 5). */
  readonly maxNonFiniteSteps?: number;
  /**
   * Train from step 0 when the run folder had checkpoints and none of them is readable. Without it such a
   * session refuses to start (the user would otherwise lose the progress those checkpoints stood for unawares).
   */
  readonly restartFromScratch?: boolean;
  /**
   * The workspace is trusted, so its code (a reward module) may run. The CLI sets it (it runs what its user gives
   * it); without it the session reads `WORKSPACE_TRUSTED_ENV` (src/core/runs/specRewardSources.ts), which the editor
   * sets only for a trusted workspace.
   */
  readonly trustedWorkspace?: boolean;
  /** A run with a person: how often (ms) the session reads the labels journal while it waits (default 500). */
  readonly labelPollMs?: number;
}

export interface SessionResult {
  readonly reason: 'completed' | 'stopped' | 'early-stopped' | 'failed';
  readonly step: number;
  readonly metrics: Record<string, number>;
  /** The final model folder (absent when the run failed or was stopped). */
  readonly finalDir?: string;
  readonly error?: string;
  /** The first sign that training diverged (a `diverged` event), when there was one. */
  readonly diverged?: { readonly step: number; readonly reason: DivergenceReason; readonly message: string };
}

/** Exit status of a process that ran a session: 0 done (or stopped), 1 failed, 3 ended but diverged. */
export function sessionExitCode(res: SessionResult): number {
  if (res.reason === 'failed') return 1;
  return res.diverged ? 3 : 0;
}

/** Thrown for problems a user fixes (bad data, too large a model): the message is the whole story. */
export class SessionInputError extends UserError {
  override readonly name = 'SessionInputError';
}
