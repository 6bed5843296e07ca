import * as vscode from 'vscode';
import * as path from 'node:path';
import type { FeedbackStores } from './feedbackStores';
import type { DatasetScans } from './datasetScans';
import { exportPreference, exportUnpaired, readerFromIndex } from '../../core/feedback/export';
import { labelStatsMarkdown } from '../../core/stats/labelReport';
import { judgeAgreementMarkdown } from '../../core/judges/judgeRecords';
import { datasetArg } from '../shared/datasetArg';
import { holdReportDocs, showReport } from '../shared/reportDocs';

const pickDatasetPrompt = (): string => vscode.l10n.t('Choose a dataset');

/** Export of labels to TRL's training formats, and the label statistics report. */
export function registerLabelCommands(stores: FeedbackStores, scans: DatasetScans, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.Disposable.from(
    holdReportDocs(),
    vscode.commands.registerCommand('alignment.exportLabels', async (arg?: unknown, preset?: { format: 'preference' | 'unpaired'; ties?: 'drop' | 'both' | 'asIs'; flagged?: 'drop' | 'rejected'; out?: string }) => {
      const uri = await datasetArg(arg, pickDatasetPrompt());
      if (!uri) return undefined;
      const format = preset?.format ?? (await vscode.window.showQuickPick(
        [
          { label: vscode.l10n.t('Preference pairs'), description: vscode.l10n.t('prompt / chosen / rejected (DPO, reward models)'), value: 'preference' as const },
          { label: vscode.l10n.t('Unpaired'), description: vscode.l10n.t('prompt / completion / label (KTO), from ratings, critiques and flags'), value: 'unpaired' as const },
        ],
        { placeHolder: vscode.l10n.t('Export labels as') },
      ))?.value;
      if (!format) return undefined;
      const ties = preset?.ties ?? (format === 'preference'
        ? (await vscode.window.showQuickPick(
            [
              { label: vscode.l10n.t('Drop ties'), value: 'drop' as const },
              { label: vscode.l10n.t('Write ties both ways'), value: 'both' as const },
              { label: vscode.l10n.t('Keep the dataset\'s own order for ties'), value: 'asIs' as const },
            ],
            { placeHolder: vscode.l10n.t('Tied comparisons') },
          ))?.value
        : 'drop');
      if (!ties) return undefined;
      const flagged = preset?.flagged ?? (await vscode.window.showQuickPick(
        [
          { label: vscode.l10n.t('Leave flagged records out'), value: 'drop' as const },
          { label: vscode.l10n.t('Keep flagged outputs as rejected / undesirable'), value: 'rejected' as const },
        ],
        { placeHolder: vscode.l10n.t('Flagged (e-stop) records') },
      ))?.value;
      if (!flagged) return undefined;
      const scan = await scans.get(uri.fsPath);
      const store = stores.get(uri.fsPath);
      store.refresh();
      const base = uri.fsPath.replace(/\.jsonl?$/i, '');
      const out = preset?.out ?? `${base}.${format === 'preference' ? 'dpo' : 'kto'}.jsonl`;
      try {
        const report = format === 'preference'
          ? exportPreference(out, readerFromIndex(scan.index), store.view(), { ties, flagged })
          : exportUnpaired(out, readerFromIndex(scan.index), store.view(), { flagged });
        const skipped = Object.entries(report.skipped).map(([why, n]) => `${n} ${why}`).join(', ');
        log.info(`Exported ${report.written} rows to ${report.path}${skipped ? ` (skipped: ${skipped})` : ''}`);
        // Not awaited: the command returns the report while the message waits for the user.
        const rel = vscode.workspace.asRelativePath(report.path);
        const done = skipped ? vscode.l10n.t('Exported {0} rows to {1} (skipped: {2}).', report.written, rel, skipped) : vscode.l10n.t('Exported {0} rows to {1}.', report.written, rel);
        void vscode.window.showInformationMessage(done, vscode.l10n.t('Open'))
          .then((open) => (open ? vscode.window.showTextDocument(vscode.Uri.file(report.path)) : undefined));
        return report;
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        log.error(`Export of ${uri.fsPath} failed: ${message}`);
        vscode.window.showErrorMessage(vscode.l10n.t('Export failed: {0}', message));
        return undefined;
      }
    }),
    vscode.commands.registerCommand('alignment.showLabelStats', async (arg?: unknown) => {
      const uri = await datasetArg(arg, pickDatasetPrompt());
      if (!uri) return undefined;
      const scan = await scans.get(uri.fsPath);
      const store = stores.get(uri.fsPath);
      store.refresh();
      const content = labelStatsMarkdown(path.basename(uri.fsPath), scan.records.length, store.view()) + '\n' + judgeAgreementMarkdown(store.view(), uri.fsPath);
      await showReport(`Label statistics: ${path.basename(uri.fsPath)}`, content);
      return content;
    }),
  );
}
