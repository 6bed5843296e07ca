import * as vscode from 'vscode';
import * as path from 'node:path';
import { Disposable } from '../shared/lifecycle';
import { countRecords, type RecordCount } from '../../core/datasets/recordCount';
import { isScoresFile } from '../../core/eval/scoring';
import type { FeedbackStores } from '../labeling/feedbackStores';

/** Files the Datasets view lists: JSONL, and JSON arrays of records (LLaMA-Factory's ShareGPT files). */
export const DATASET_GLOB = '**/*.{jsonl,json}';
const EXCLUDE = '**/{node_modules,.git,.alignment,.vscode,dist,out,.tools,demo-output,package.json,package-lock.json,tsconfig.json,*.labels}/**';
const EXCLUDED_SEGMENT = /\/(node_modules|\.git|\.alignment|dist|out|\.tools|demo-output)(\/|$)/;
const DATASET_EXT = /\.jsonl?$/i;
const JSON_NAME_HINT = /(dpo|kto|pref|pair|label|feedback|sharegpt|rlhf|hh|ultra|sft|data)/i;

export class DatasetItem extends vscode.TreeItem {
  constructor(readonly uri: vscode.Uri, readonly count: RecordCount | undefined, error: string | undefined) {
    super(path.basename(uri.fsPath), vscode.TreeItemCollapsibleState.None);
    this.resourceUri = uri;
    this.contextValue = 'alignment.dataset';
    this.iconPath = new vscode.ThemeIcon(error ? 'warning' : 'database');
    const rel = vscode.workspace.asRelativePath(uri, false);
    if (error) {
      this.description = vscode.l10n.t('unreadable');
      this.tooltip = `${rel}\n${error}`;
    } else if (count) {
      this.description = count.records === 1 ? vscode.l10n.t('1 record') : vscode.l10n.t('{0} records', count.records.toLocaleString('en-US'));
      this.tooltip = `${rel}\n${vscode.l10n.t('{0} records · {1} KiB', count.records, (count.bytes / 1024).toFixed(1))}`;
    }
    this.command = { command: 'alignment.previewDataset', title: vscode.l10n.t('Preview Dataset'), arguments: [uri] };
  }
}

/** A line under a dataset: how many records are labeled, by feedback type and by source. */
export class LabelCountItem extends vscode.TreeItem {
  constructor(label: string, description: string, icon: string) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.description = description;
    this.iconPath = new vscode.ThemeIcon(icon);
  }
}

type DatasetNode = DatasetItem | RestrictedNotice | LabelCountItem;

/** Shown first in an untrusted workspace: what is disabled and how to trust the folder. */
export class RestrictedNotice extends vscode.TreeItem {
  constructor() {
    super(vscode.l10n.t('Restricted Mode: labeling only'), vscode.TreeItemCollapsibleState.None);
    this.description = vscode.l10n.t('training and user scorers are off');
    this.tooltip = vscode.l10n.t('This workspace is not trusted. You can browse and label datasets; nothing from the workspace runs (user-written proxy-reward scorers, training runs) until you trust it.');
    this.iconPath = new vscode.ThemeIcon('shield');
    this.command = { command: 'workbench.trust.manage', title: vscode.l10n.t('Manage Workspace Trust') };
    this.contextValue = 'alignment.restricted';
  }
}

/**
 * The Datasets view: every JSONL dataset in the workspace (and JSON files that hold an array of records),
 * with its record count. It refreshes when dataset files change.
 */
export class DatasetsView extends Disposable implements vscode.TreeDataProvider<DatasetNode> {
  static readonly id = 'alignment.datasets';
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;
  private items: Promise<DatasetItem[]> | undefined;

  constructor(private readonly log: vscode.LogOutputChannel, private readonly labels: FeedbackStores) {
    super();
    this.register(labels.onDidChange(() => this.changed.fire()));
    const watcher = this.register(vscode.workspace.createFileSystemWatcher(DATASET_GLOB));
    let timer: NodeJS.Timeout | undefined;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.refresh(), 300);
    };
    // Scores files (`*.scores.jsonl`, reward-model evaluation output) are not datasets: their changes rescan nothing.
    // Nor are files in excluded folders (a training run appends to .alignment/runs/*/events.jsonl every step and
    // writes .json checkpoints: rescanning every dataset of the workspace for each would load the extension host).
    const soonUnlessScores = (uri: vscode.Uri) => (isScoresFile(uri.path) || EXCLUDED_SEGMENT.test(uri.path) ? undefined : soon());
    this.register(watcher.onDidCreate(soonUnlessScores));
    this.register(watcher.onDidChange(soonUnlessScores));
    this.register(watcher.onDidDelete(soonUnlessScores));
    // A folder created or copied into the workspace can hold datasets whose own create events the OS watcher
    // misses (on Linux, inotify watches a new folder only after it exists, so files written at once are not
    // reported). So a new folder, outside the excluded ones, triggers a rescan too.
    const folders = this.register(vscode.workspace.createFileSystemWatcher('**/*', false, true, true));
    this.register(folders.onDidCreate((uri) => {
      if (EXCLUDED_SEGMENT.test(uri.path) || DATASET_EXT.test(uri.path)) return;
      void vscode.workspace.fs.stat(uri).then((s) => { if (s.type & vscode.FileType.Directory) soon(); }, () => undefined);
    }));
    this.register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()));
    this.register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.refresh()));
    this.register({ dispose: () => clearTimeout(timer) });
  }

  refresh(): void {
    this.items = undefined;
    this.changed.fire();
  }

  /** The datasets currently listed (scanning the workspace if needed). */
  datasets(): Promise<DatasetItem[]> {
    this.items ??= this.scan();
    return this.items;
  }

  getTreeItem(e: DatasetNode): vscode.TreeItem {
    if (e instanceof DatasetItem && e.uri.fsPath.toLowerCase().endsWith('.jsonl')) {
      // Datasets with labels expand to their counts.
      const store = this.labels.peek(e.uri.fsPath);
      e.collapsibleState = store && store.view().counts().current > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None;
    }
    return e;
  }

  async getChildren(e?: DatasetNode): Promise<DatasetNode[]> {
    if (e instanceof DatasetItem) return this.labelCounts(e);
    if (e) return [];
    const items = await this.datasets();
    return !vscode.workspace.isTrusted && items.length ? [new RestrictedNotice(), ...items] : items;
  }

  private labelCounts(e: DatasetItem): LabelCountItem[] {
    const store = this.labels.peek(e.uri.fsPath);
    if (!store) return [];
    const c = store.view().counts();
    const types = Object.entries(c.byType).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(' · ');
    const total = e.count?.records;
    return [
      new LabelCountItem(total !== undefined ? vscode.l10n.t('Labeled {0} of {1}', c.records, total) : vscode.l10n.t('Labeled {0}', c.records), types, 'tag'),
      new LabelCountItem(
        vscode.l10n.t('Human {0} · AI {1}', c.bySource.human, c.bySource.ai) + (c.bySource.program ? ` · ${vscode.l10n.t('program {0}', c.bySource.program)}` : ''),
        c.retracted ? vscode.l10n.t('{0} undone', c.retracted) : '',
        'person',
      ),
    ];
  }

  private async scan(): Promise<DatasetItem[]> {
    if (!vscode.workspace.workspaceFolders?.length) {
      await vscode.commands.executeCommand('setContext', 'alignment.datasetsEmpty', true);
      return [];
    }
    const uris = await vscode.workspace.findFiles(DATASET_GLOB, EXCLUDE, 2000);
    const items: DatasetItem[] = [];
    for (const uri of uris) {
      if (isScoresFile(uri.fsPath)) continue; // reward-model scores, not records to label
      const isJson = uri.fsPath.toLowerCase().endsWith('.json');
      if (isJson && !JSON_NAME_HINT.test(path.basename(uri.fsPath))) continue;
      try {
        items.push(new DatasetItem(uri, await countRecords(uri.fsPath), undefined));
      } catch (e) {
        if (isJson) continue; // a JSON file that is not a record array is simply not a dataset
        const message = e instanceof Error ? e.message : String(e);
        this.log.warn(`Datasets: ${uri.fsPath}: ${message}`);
        items.push(new DatasetItem(uri, undefined, message));
      }
    }
    items.sort((a, b) => a.uri.fsPath.localeCompare(b.uri.fsPath));
    await vscode.commands.executeCommand('setContext', 'alignment.datasetsEmpty', items.length === 0);
    this.log.info(`Datasets: found ${items.length} dataset file(s)`);
    return items;
  }
}
