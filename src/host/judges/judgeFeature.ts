import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FeedbackStores } from '../labeling/feedbackStores';
import type { DatasetScans } from '../labeling/datasetScans';
import type { MemoryJudgeCache } from '../../core/judges/judgeCache';
import type { CachedAnswer } from '../../core/judges/openaiJudge';

/** What the judge commands share for the life of the extension. */
export interface JudgeFeature {
  readonly context: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
  readonly stores: FeedbackStores;
  readonly scans: DatasetScans;
  /**
   * The OpenAI-compatible judge's answers by model. They survive between runs in this window, so a resumed job does
   * not pay twice for pairs answered before.
   */
  readonly caches: Map<string, MemoryJudgeCache<CachedAnswer>>;
}

/** The prompt when a judge command has to ask which dataset. */
export const pickJudgeDataset = (): string => vscode.l10n.t('Choose a dataset to label with an AI judge');

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The bundled alignment CLI (`dist/cli.js`), which scores with the engine in its own process so the extension host
 * never loads it. Undefined after telling the user when the extension was not built.
 */
export function bundledCli(context: vscode.ExtensionContext): string | undefined {
  const cli = path.join(context.extensionUri.fsPath, 'dist', 'cli.js');
  if (fs.existsSync(cli)) return cli;
  void vscode.window.showErrorMessage(vscode.l10n.t('The alignment CLI is missing ({0}); build the extension first.', cli));
  return undefined;
}
