import * as vscode from 'vscode';
import * as path from 'node:path';
import { runLabelJob, type AiSource, type LabelJobOptions, type LabelJobResult, type LabelSink, type PairItem } from '../../core/judges/labelJob';
import { appendJudgement, judgementRecord } from '../../core/judges/judgeRecords';
import type { PairJudge } from '../../core/judges/judgeTypes';
import { RewardModelJudge } from '../../core/judges/rewardModelJudge';
import { startRewardModel } from './rewardModelJudgeSetup';
import { errorMessage, type JudgeFeature } from './judgeFeature';

/** One "AI-Label Dataset" job: a judge labels a dataset's pairs into its label store. */
export interface AiLabelRun {
  /** The dataset on disk. */
  readonly file: string;
  readonly judge: PairJudge;
  /** The judge's label source, `ai:<judge>`. */
  readonly source: AiSource;
  readonly pairs: readonly PairItem[];
  /** The dataset's label store. */
  readonly sink: LabelSink;
  /** Network failures in a row before the job stops (default: the job's). */
  readonly maxConsecutiveFailures?: number;
}

/**
 * Runs the job under a cancellable progress notification. Views of the dataset's labels are refreshed while labels
 * come in (at most every 200 ms) and once at the end.
 */
export async function labelWithProgress(f: JudgeFeature, run: AiLabelRun): Promise<LabelJobResult> {
  const notify = debouncedNotify(f, run.file);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('AI-labeling {0} with {1}', path.basename(run.file), run.source), cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort(new Error('cancelled by the user')));
      try {
        const cancelled = run.judge instanceof RewardModelJudge ? await startRewardModel(run.judge, run.sink, run.source, run.pairs, progress, abort.signal) : undefined;
        return cancelled ?? (await runLabelJob(labelJobOptions(f, run, notify.soon, progress, abort.signal)));
      } finally {
        sub.dispose();
      }
    },
  );
  notify.flush();
  return result;
}

function labelJobOptions(f: JudgeFeature, run: AiLabelRun, notifySoon: () => void, progress: vscode.Progress<{ message?: string; increment?: number }>, signal: AbortSignal): LabelJobOptions {
  let shown = 0;
  return {
    judge: run.judge,
    pairs: run.pairs,
    sink: journaledSink(f, run.file, run.sink, notifySoon),
    concurrency: vscode.workspace.getConfiguration('alignment').get<number>('judge.concurrency', 4),
    signal,
    ...(run.maxConsecutiveFailures !== undefined ? { maxConsecutiveFailures: run.maxConsecutiveFailures } : {}),
    onError: (e) => f.log.warn(`AI labeling ${path.basename(run.file)}: judge error on ${e.recordId} (${e.kind}): ${e.message}`),
    onProgress: (p) => {
      const done = p.labeled + p.failed;
      const todo = p.total - p.skipped;
      const pct = todo ? Math.floor((100 * done) / todo) : 100;
      progress.report({ increment: pct - shown, message: `${done}/${todo}${p.skipped ? ` (${p.skipped} done before)` : ''}${p.failed ? `, ${p.failed} errors` : ''}` });
      shown = pct;
    },
  };
}

/** The label store, plus each judgement's details beside the dataset (for the consistency figures). */
function journaledSink(f: JudgeFeature, file: string, sink: LabelSink, notifySoon: () => void): LabelSink {
  return {
    id: sink.id,
    labeledRecordIds: (s) => sink.labeledRecordIds(s),
    append: async (label) => {
      await sink.append(label);
      try {
        appendJudgement(file, judgementRecord(label));
      } catch (e) {
        // The label is in the journal; only the consistency figures lose this pair.
        f.log.warn(`AI labeling: could not keep the judgement details of ${label.recordId}: ${errorMessage(e)}`);
      }
      notifySoon();
    },
  };
}

/** `soon`: tell the dataset's views within 200 ms, once for a burst of labels; `flush`: tell them now. */
function debouncedNotify(f: JudgeFeature, file: string): { soon: () => void; flush: () => void } {
  let timer: NodeJS.Timeout | undefined;
  return {
    soon: () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        f.stores.notify(file);
      }, 200);
    },
    flush: () => {
      if (timer) clearTimeout(timer);
      f.stores.notify(file);
    },
  };
}
