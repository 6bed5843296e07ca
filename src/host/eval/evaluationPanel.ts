import * as vscode from 'vscode';
import * as path from 'node:path';
import { Disposable } from '../lifecycle';
import { webviewHtml, webviewOptions } from '../panels/webviewHtml';
import { EvalError, EvalOpenSource, EvalReady, EvalShowReport } from '../../protocol/evaluation';
import { buildEvaluationReport, readScoresFile } from '../../core/eval/report';

/**
 * Reward-Model Evaluation: held-out accuracy per section, calibration, reward histograms and length correlation of
 * one scores file (see src/core/eval/report.ts for its format). One panel per file; showing it again reveals and
 * refreshes it. The report is computed here (cheap arithmetic over scores); scoring itself runs in a session.
 */
export class EvaluationPanel extends Disposable {
  static readonly viewType = 'alignment.evaluation';
  private static readonly panels = new Map<string, EvaluationPanel>();

  static createOrShow(extensionUri: vscode.Uri, scoresFile: vscode.Uri, log: vscode.LogOutputChannel): EvaluationPanel {
    const existing = EvaluationPanel.panels.get(scoresFile.fsPath);
    if (existing) {
      existing.panel.reveal();
      void existing.send();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      EvaluationPanel.viewType,
      `Evaluation: ${path.basename(scoresFile.fsPath)}`,
      vscode.ViewColumn.Active,
      webviewOptions(extensionUri),
    );
    return new EvaluationPanel(panel, extensionUri, scoresFile, log);
  }

  /** Restores a panel after a window reload (its webview state holds the scores file). */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, state: unknown, log: vscode.LogOutputChannel): void {
    const source = typeof state === 'object' && state !== null && typeof (state as { source?: unknown }).source === 'string' ? (state as { source: string }).source : undefined;
    if (!source) {
      panel.dispose();
      return;
    }
    panel.webview.options = webviewOptions(extensionUri);
    new EvaluationPanel(panel, extensionUri, vscode.Uri.file(source), log);
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    readonly scoresFile: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    EvaluationPanel.panels.set(scoresFile.fsPath, this);
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'evaluation', panel.title);
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)));
  }

  override dispose(): void {
    EvaluationPanel.panels.delete(this.scoresFile.fsPath);
    super.dispose();
    this.panel.dispose();
  }

  private async onMessage(msg: unknown): Promise<void> {
    if (EvalReady.is(msg)) {
      await this.send();
    } else if (EvalOpenSource.is(msg)) {
      await vscode.window.showTextDocument(this.scoresFile, { viewColumn: vscode.ViewColumn.Beside });
    } else {
      this.log.warn(`Evaluation: ignored an invalid message from the webview: ${JSON.stringify(msg).slice(0, 200)}`);
    }
  }

  private async send(): Promise<void> {
    const file = this.scoresFile.fsPath;
    try {
      const { pairs, skipped } = await readScoresFile(file);
      if (skipped.length) this.log.warn(`Evaluation: ${skipped.length} rows of ${file} skipped, first: ${skipped[0]}`);
      const report = buildEvaluationReport({ title: path.basename(file, path.extname(file)), source: file, pairs, skipped });
      await this.panel.webview.postMessage(EvalShowReport.create(report));
    } catch (e) {
      const message = `${file}: ${e instanceof Error ? e.message : String(e)}`;
      this.log.error(`Evaluation: ${message}`);
      await this.panel.webview.postMessage(EvalError.create({ message }));
    }
  }
}

/**
 * Registers the `alignment.showEvaluation` command (argument: a scores file Uri, e.g. from the explorer; otherwise
 * the active `.jsonl` editor or a file picker) and the panel serializer that restores panels after a reload.
 */
export function registerEvaluationPanel(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): vscode.Disposable {
  const pick = async (arg?: unknown): Promise<vscode.Uri | undefined> => {
    if (arg instanceof vscode.Uri) return arg;
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active && active.scheme === 'file' && active.fsPath.endsWith('.jsonl')) return active;
    return (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Scores (JSON Lines)': ['jsonl'] }, openLabel: 'Show Evaluation' }))?.[0];
  };
  return vscode.Disposable.from(
    vscode.commands.registerCommand('alignment.showEvaluation', async (arg?: unknown) => {
      const uri = await pick(arg);
      if (!uri) return undefined;
      if (uri.scheme !== 'file') {
        void vscode.window.showErrorMessage(`The evaluation needs a scores file on disk; ${uri.toString()} is not one.`);
        return undefined;
      }
      EvaluationPanel.createOrShow(context.extensionUri, uri, log);
      return uri;
    }),
    vscode.window.registerWebviewPanelSerializer(EvaluationPanel.viewType, {
      deserializeWebviewPanel: async (panel, state: unknown) => EvaluationPanel.revive(panel, context.extensionUri, state, log),
    }),
  );
}
