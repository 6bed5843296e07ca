/**
 * Scoring a dataset's outputs with a user-written proxy reward (the "proxy reward" feedback type): every
 * candidate output goes through {@link ProxyJudge} (a worker with a per-call timeout, created only when the
 * workspace is trusted) and each score becomes a `proxyReward` journal entry with source `program:<scorer>`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ProxyJudge } from '../judges/proxyJudge';
import type { FeedbackInput } from './store';

/** One output to score. */
export interface ProxyScoringItem {
  readonly recordId: string;
  /** 1-based line of the record, for error messages. */
  readonly line: number;
  readonly target: string;
  readonly prompt: string;
  readonly response: string;
}

/** How a scorer is named in the journal. */
export interface ProxyScorerId {
  /** `payload.scorer`: `<module path relative to the root>#<export>@<first 12 hex of the module's SHA-1>`. */
  readonly scorer: string;
  /** Entry source: `program:<module file name>` (whitespace replaced by `_`). */
  readonly source: `program:${string}`;
}

/**
 * The ids of a scorer module. The content hash makes an edited scorer a new scorer, so its scores are written
 * again instead of being taken as already done.
 */
export function proxyScorerId(modulePath: string, exportName: string, root?: string): ProxyScorerId {
  const sha = createHash('sha1').update(readFileSync(modulePath)).digest('hex').slice(0, 12);
  const rel = root ? path.relative(root, modulePath) : modulePath;
  const shown = rel.startsWith('..') || path.isAbsolute(rel) ? modulePath : rel.split(path.sep).join('/');
  return { scorer: `${shown}#${exportName}@${sha}`, source: `program:${path.basename(modulePath).replace(/\s+/g, '_')}` };
}

export interface ProxyScoringOptions {
  /** Absolute path of the scorer module. */
  readonly modulePath: string;
  /** `vscode.workspace.isTrusted`: when false nothing runs and {@link UntrustedWorkspaceError} is thrown. */
  readonly trusted: boolean;
  readonly exportName?: string;
  readonly timeoutMs?: number;
  /** Workspace root, so the scorer id holds a relative path. */
  readonly root?: string;
  /** Appends one entry (FeedbackStore.record). */
  readonly record: (input: FeedbackInput<'proxyReward'>) => unknown;
  /** Items for which this returns true are not scored (e.g. already scored by the same scorer). */
  readonly skip?: (item: ProxyScoringItem, id: ProxyScorerId) => boolean;
  /** Stop after this many failed calls (default 10): a broken scorer should not fail 100k times. */
  readonly maxFailures?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ProxyScoringFailure {
  readonly recordId: string;
  readonly line: number;
  readonly target: string;
  readonly message: string;
}

export interface ProxyScoringReport {
  readonly scorer: ProxyScorerId;
  readonly scored: number;
  readonly skipped: number;
  readonly failures: readonly ProxyScoringFailure[];
  /** True when the run stopped early: cancelled, or too many failures. */
  readonly stopped: 'cancelled' | 'too-many-failures' | undefined;
}

/**
 * Scores `items` one by one and records each score. Throws {@link UntrustedWorkspaceError} before loading
 * anything when `trusted` is false, and a plain Error for a missing or non-JS module; a failing call is reported
 * in `failures` with its record's line and the run goes on (up to `maxFailures`).
 */
export async function scoreWithProxy(items: readonly ProxyScoringItem[], o: ProxyScoringOptions): Promise<ProxyScoringReport> {
  const exportName = o.exportName ?? 'score';
  // The judge's constructor is the trust gate: it throws before the module is read or run.
  const judge = new ProxyJudge({ modulePath: o.modulePath, trusted: o.trusted, exportName, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
  const id = proxyScorerId(o.modulePath, exportName, o.root);
  const maxFailures = o.maxFailures ?? 10;
  const failures: ProxyScoringFailure[] = [];
  let scored = 0;
  let skipped = 0;
  let stopped: ProxyScoringReport['stopped'];
  try {
    for (let i = 0; i < items.length; i++) {
      if (o.signal?.aborted) {
        stopped = 'cancelled';
        break;
      }
      const it = items[i];
      if (o.skip?.(it, id)) {
        skipped++;
      } else {
        try {
          const score = await judge.score(it.prompt, it.response, o.signal);
          o.record({ recordId: it.recordId, type: 'proxyReward', source: id.source, payload: { target: it.target, score, scorer: id.scorer } });
          scored++;
        } catch (e) {
          if (o.signal?.aborted) {
            stopped = 'cancelled';
            break;
          }
          failures.push({ recordId: it.recordId, line: it.line, target: it.target, message: e instanceof Error ? e.message : String(e) });
          if (failures.length >= maxFailures) {
            stopped = 'too-many-failures';
            break;
          }
        }
      }
      o.onProgress?.(i + 1, items.length);
    }
  } finally {
    await judge.dispose();
  }
  return { scorer: id, scored, skipped, failures, stopped };
}
