import * as vscode from 'vscode';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { DatasetsView } from './datasetsView';
import { DatasetPreviewPanel } from './datasetPreviewPanel';

const SAMPLE = 'preferences.sample.jsonl';

/** Commands of the Datasets view: create a sample, preview, open, refresh. */
export function registerDatasetCommands(
  context: vscode.ExtensionContext,
  view: DatasetsView,
  log: vscode.LogOutputChannel,
): vscode.Disposable {
  const pickDataset = async (): Promise<vscode.Uri | undefined> => {
    const items = await view.datasets();
    if (items.length === 0) {
      const [sample, openFile] = [vscode.l10n.t('Create Sample Dataset'), vscode.l10n.t('Open File…')];
      const choice = await vscode.window.showInformationMessage(vscode.l10n.t('No datasets in this workspace yet.'), sample, openFile);
      if (choice === sample) return vscode.commands.executeCommand<vscode.Uri | undefined>('alignment.createSampleDataset');
      if (choice === openFile) return (await vscode.window.showOpenDialog({ filters: { [vscode.l10n.t('Datasets')]: ['jsonl', 'json'] } }))?.[0];
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      items.map((i) => ({ label: String(i.label), description: String(i.description ?? ''), detail: vscode.workspace.asRelativePath(i.uri), uri: i.uri })),
      { placeHolder: vscode.l10n.t('Choose a dataset') },
    );
    return picked?.uri;
  };

  return vscode.Disposable.from(
    vscode.commands.registerCommand('alignment.refreshDatasets', () => view.refresh()),
    vscode.commands.registerCommand('alignment.previewDataset', async (arg?: unknown) => {
      const uri = arg instanceof vscode.Uri ? arg : arg instanceof Object && 'uri' in arg && arg.uri instanceof vscode.Uri ? arg.uri : await pickDataset();
      if (!uri) return undefined;
      DatasetPreviewPanel.createOrShow(context.extensionUri, uri, log);
      return uri;
    }),
    vscode.commands.registerCommand('alignment.createSampleDataset', async (): Promise<vscode.Uri | undefined> => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!folder) {
        const open = await vscode.window.showWarningMessage(vscode.l10n.t('Open a folder first: the sample dataset is written into the workspace.'), vscode.l10n.t('Open Folder…'));
        if (open) await vscode.commands.executeCommand('vscode.openFolder');
        return undefined;
      }
      const target = vscode.Uri.joinPath(folder.uri, 'datasets', SAMPLE);
      try {
        await fsp.access(target.fsPath);
        vscode.window.showInformationMessage(vscode.l10n.t('{0} already exists.', vscode.workspace.asRelativePath(target)));
      } catch {
        await fsp.mkdir(path.dirname(target.fsPath), { recursive: true });
        await fsp.copyFile(vscode.Uri.joinPath(context.extensionUri, 'media', 'samples', SAMPLE).fsPath, target.fsPath);
        log.info(`Created sample dataset ${target.fsPath}`);
      }
      view.refresh();
      await vscode.window.showTextDocument(target, { preview: false });
      return target;
    }),
  );
}
