import * as vscode from 'vscode';
import * as path from 'node:path';
import { Disposable } from '../shared/lifecycle';
import { webviewHtml, webviewOptions } from '../shared/webviewHtml';
import { EvalError, EvalOpenSource, EvalReady, EvalShowReport, type EvaluationReport } from '../../protocol/evaluation';
import { buildEvaluationReport, readScoresFile } from '../../core/eval/report';
import { compareScores } from '../../core/eval/compareScores';
import { readInspectionFile } from '../../core/eval/inspectionFile';
import { postToPanel } from '../shared/webviewPost';

/**
 * Reward-Model Evaluation: held-out accuracy per section, calibration, reward histograms and length correlation of
 * one scores file (see src/core/eval/report.ts for its format), or of an `alignment inspect-rm` file, whose records
 * the panel also shows with their dense rewards (src/core/eval/inspectionFile.ts). One panel per file; showing it again reveals and
 * refreshes it. The report is computed here (cheap arithmetic over scores); scoring itself runs in a session.
 */
export class EvaluationPanel extends Disposable {
  static readonly viewType = 'alignment.evaluation';
  private static readonly panels = new Map<string, EvaluationPanel>();

  /**
   * @param compareWith other scores files of the same held-out pairs (other reward models or judges): the panel adds
   * EPIC, STARC and EPIC-like distance matrices between all of them (pairs aligned by `id`).
   */
  static createOrShow(extensionUri: vscode.Uri, scoresFile: vscode.Uri, log: vscode.LogOutputChannel, compareWith: readonly vscode.Uri[] = [], heldOut?: HeldOut): EvaluationPanel {
    const existing = EvaluationPanel.panels.get(scoresFile.fsPath);
    if (existing) {
      existing.compareWith = compareWith.filter((u) => u.fsPath !== scoresFile.fsPath);
      if (heldOut) existing.heldOut = heldOut;
      existing.panel.reveal();
      void existing.send();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      EvaluationPanel.viewType,
      vscode.l10n.t('Evaluation: {0}', path.basename(scoresFile.fsPath)),
      vscode.ViewColumn.Active,
      webviewOptions(extensionUri),
    );
    const created = new EvaluationPanel(panel, extensionUri, scoresFile, log);
    created.compareWith = compareWith.filter((u) => u.fsPath !== scoresFile.fsPath);
    if (heldOut) created.heldOut = heldOut;
    return created;
  }

  /** The open panel of a scores file, if any (tests and commands). */
  static of(scoresFile: vscode.Uri): EvaluationPanel | undefined {
    return EvaluationPanel.panels.get(scoresFile.fsPath);
  }

  private compareWith: readonly vscode.Uri[] = [];
  /** Whether the pairs are held out: known only when a run's own eval split was scored (Evaluate on a run). */
  private heldOut: HeldOut = UNKNOWN_HELD_OUT;
  /** The last report sent to the webview. */
  lastReport: EvaluationReport | undefined;

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
      const inspected = await readInspectionFile(file);
      const { pairs, skipped } = inspected ?? (await readScoresFile(file));
      if (skipped.length) this.log.warn(`Evaluation: ${skipped.length} rows of ${file} skipped, first: ${skipped[0]}`);
      const title = scoresName(file);
      const allSkipped = [...skipped];
      let distances: Parameters<typeof buildEvaluationReport>[0]['distances'] = [];
      if (this.compareWith.length) {
        const others = await Promise.all(this.compareWith.map(async (u) => ({ name: scoresName(u.fsPath), ...(await readScoresFile(u.fsPath)) })));
        for (const o of others) allSkipped.push(...o.skipped);
        const cmp = compareScores([{ name: title, pairs }, ...others.map((o) => ({ name: o.name, pairs: o.pairs }))]);
        for (const n of cmp.notes) this.log.warn(`Evaluation: ${n}`);
        this.log.info(`Evaluation: distances between ${others.length + 1} reward functions over ${cmp.ids.length} shared pairs`);
        distances = cmp.distances;
      }
      const built = buildEvaluationReport({ title, source: file, pairs, skipped: allSkipped, distances, heldOut: this.heldOut });
      const report = inspected ? { ...built, examples: inspected.examples } : built;
      this.lastReport = report;
      await postToPanel(this.panel, EvalShowReport.create(report));
    } catch (e) {
      const message = `${file}: ${e instanceof Error ? e.message : String(e)}`;
      this.log.error(`Evaluation: ${message}`);
      await postToPanel(this.panel, EvalError.create({ message }));
    }
  }
}

type HeldOut = NonNullable<EvaluationReport['heldOut']>;

const UNKNOWN_HELD_OUT: HeldOut = {
  status: 'unknown',
  text: "Not known whether these pairs were left out of the reward model's training. To score a run's reward model on pairs it never trained on, use Evaluate on the run in the Runs view.",
};

function isHeldOut(x: unknown): x is HeldOut {
  const h = x as Partial<HeldOut> | undefined;
  return typeof h === 'object' && h !== null && (h.status === 'held-out' || h.status === 'not-held-out' || h.status === 'unknown') && typeof h.text === 'string';
}

/** A scores file's display name: its base name without `.jsonl` and a trailing `.scores`. */
function scoresName(file: string): string {
  return path.basename(file).replace(/\.jsonl$/i, '').replace(/\.scores$/i, '');
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
    return (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { [vscode.l10n.t('Scores (JSON Lines)')]: ['jsonl'] }, openLabel: vscode.l10n.t('Show Evaluation') }))?.[0];
  };
  return vscode.Disposable.from(
    // Second argument: other scores files of the same pairs, for the distance matrices.
    // Third argument: whether the pairs are held out ({ status, text }), when the caller knows.
    vscode.commands.registerCommand('alignment.showEvaluation', async (arg?: unknown, compareWith?: unknown, heldOut?: unknown) => {
      const uri = await pick(arg);
      if (!uri) return undefined;
      const others = Array.isArray(compareWith) ? compareWith.filter((u): u is vscode.Uri => u instanceof vscode.Uri) : [];
      const notOnDisk = [uri, ...others].find((u) => u.scheme !== 'file');
      if (notOnDisk) {
        void vscode.window.showErrorMessage(vscode.l10n.t('The evaluation needs scores files on disk; {0} is not one.', notOnDisk.toString()));
        return undefined;
      }
      EvaluationPanel.createOrShow(context.extensionUri, uri, log, others, isHeldOut(heldOut) ? heldOut : undefined);
      return uri;
    }),
    vscode.window.registerWebviewPanelSerializer(EvaluationPanel.viewType, {
      deserializeWebviewPanel: async (panel, state: unknown) => EvaluationPanel.revive(panel, context.extensionUri, state, log),
    }),
  );
}
