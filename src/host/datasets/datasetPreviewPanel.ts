import * as vscode from 'vscode';
import * as path from 'node:path';
import { Disposable } from '../shared/lifecycle';
import { webviewHtml, webviewOptions } from '../shared/webviewHtml';
import { PreviewError, PreviewOpenAt, PreviewReady, PreviewRequestPage, PreviewShowPage } from '../../protocol/datasetPreview';
import { countRecords } from '../../core/datasets/recordCount';
import { readRecords } from '../../core/datasets/preview';
import { postToPanel } from '../shared/webviewPost';

/**
 * Dataset Preview: a read-only, paged view of a dataset's records, with prompts, chosen and rejected
 * responses laid out for reading. One panel per file; showing a file again reveals its panel.
 */
export class DatasetPreviewPanel extends Disposable {
  static readonly viewType = 'alignment.datasetPreview';
  private static readonly panels = new Map<string, DatasetPreviewPanel>();

  static createOrShow(extensionUri: vscode.Uri, file: vscode.Uri, log: vscode.LogOutputChannel): DatasetPreviewPanel {
    const existing = DatasetPreviewPanel.panels.get(file.fsPath);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      DatasetPreviewPanel.viewType,
      vscode.l10n.t('Preview: {0}', path.basename(file.fsPath)),
      vscode.ViewColumn.Active,
      webviewOptions(extensionUri),
    );
    return new DatasetPreviewPanel(panel, extensionUri, file, log);
  }

  /** Restores a panel after a window reload (its state holds the file). */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, state: unknown, log: vscode.LogOutputChannel): void {
    const file = typeof state === 'object' && state !== null && typeof (state as { file?: unknown }).file === 'string'
      ? (state as { file: string }).file
      : undefined;
    if (!file) {
      panel.dispose();
      return;
    }
    panel.webview.options = webviewOptions(extensionUri);
    new DatasetPreviewPanel(panel, extensionUri, vscode.Uri.file(file), log);
  }

  private total = 0;

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    readonly file: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    DatasetPreviewPanel.panels.set(file.fsPath, this);
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'datasetPreview', panel.title);
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)));
  }

  override dispose(): void {
    DatasetPreviewPanel.panels.delete(this.file.fsPath);
    super.dispose();
    this.panel.dispose();
  }

  private async onMessage(msg: unknown): Promise<void> {
    if (PreviewReady.is(msg)) {
      await this.sendPage(0, 20);
    } else if (PreviewRequestPage.is(msg)) {
      await this.sendPage(msg.params.offset, msg.params.count);
    } else if (PreviewOpenAt.is(msg)) {
      const doc = await vscode.workspace.openTextDocument(this.file);
      const pos = new vscode.Position(Math.min(msg.params.line - 1, doc.lineCount - 1), 0);
      await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos), viewColumn: vscode.ViewColumn.Beside });
    } else {
      this.log.warn(`Dataset Preview: ignored an invalid message from the webview: ${JSON.stringify(msg).slice(0, 200)}`);
    }
  }

  private async sendPage(offset: number, count: number): Promise<void> {
    try {
      if (offset === 0) this.total = (await countRecords(this.file.fsPath)).records;
      const records = await readRecords(this.file.fsPath, offset, count);
      await postToPanel(this.panel, 
        PreviewShowPage.create({ file: this.file.fsPath, fileName: path.basename(this.file.fsPath), total: this.total, offset, records }),
      );
    } catch (e) {
      const message = `${this.file.fsPath}: ${e instanceof Error ? e.message : String(e)}`;
      this.log.error(`Dataset Preview: ${message}`);
      await postToPanel(this.panel, PreviewError.create({ message }));
    }
  }
}
