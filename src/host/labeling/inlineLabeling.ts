import * as vscode from 'vscode';
import * as path from 'node:path';
import { Disposable } from '../shared/lifecycle';
import type { FeedbackStores } from './feedbackStores';
import { DatasetScans, isDataset, recordAtLine, type DatasetScan } from './datasetScans';
import { isDatasetPath } from '../shared/datasetArg';
import { candidateKeys } from '../../core/datasets/trlRow';
import { keyLabel } from '../../core/feedback/labelingKeys';
import { keyHint, type LabelingMode } from './labelingMode';
import type { FeedbackEntry } from '../../core/feedback/types';
import { selectionToFieldSpan } from '../../core/datasets/jsonStringSpans';

/** What a CodeLens or keybinding asks for. */
export type InlineAction = 'A' | 'B' | 'tie' | 'skip' | 'rate' | 'critique' | 'flag' | 'feedback';

interface RecordAt {
  readonly file: string;
  readonly recordId: string;
  readonly line: number;
  /** Candidate keys in file order: ['chosen', 'rejected'] for pairs, ['completion'] for unpaired records. */
  readonly candidates: readonly string[];
}

/** The 1-5 scale's choices; each starts with its digit, which is the value recorded. */
const likert = (): string[] => [vscode.l10n.t('1 · very poor'), vscode.l10n.t('2 · poor'), vscode.l10n.t('3 · acceptable'), vscode.l10n.t('4 · good'), vscode.l10n.t('5 · excellent')];
const MAX_LENS_RECORDS = 400;

/** A short description of a record's current labels, as the lens and the line decoration show it. */
export function labelSummary(entries: readonly FeedbackEntry[], candidates: readonly string[]): string {
  const parts: string[] = [];
  const letter = (key: string) => (candidates[0] === key ? 'A' : candidates[1] === key ? 'B' : key);
  for (const e of entries) {
    const who = e.source === 'human' ? e.annotator : e.source;
    switch (e.type) {
      case 'comparison':
        if (e.payload.mode === 'pair') parts.push(`${e.payload.preferred === null ? 'Tie' : `${letter(e.payload.preferred)} better`} (${who})`);
        else parts.push(`ranked (${who})`);
        break;
      case 'rating':
        parts.push(`${letter(e.payload.target)} rated ${e.payload.value}/${e.payload.scale.max}`);
        break;
      case 'critique':
        parts.push(e.payload.mode === 'binary' ? `${letter(e.payload.target)} ${e.payload.acceptable ? 'acceptable' : 'unacceptable'}` : `${letter(e.payload.target)}: ${e.payload.labels.join(', ') || 'no issues'}`);
        break;
      case 'eStop':
        parts.push(`⚑ flagged${e.payload.reason ? `: ${e.payload.reason}` : ''}`);
        break;
      case 'naturalLanguage':
        parts.push('💬 feedback');
        break;
      case 'importance':
        parts.push(`${e.payload.spans.length} important span(s)`);
        break;
      case 'improvement':
        parts.push(`${letter(e.payload.target)} improved`);
        break;
      case 'interTemporal':
        parts.push(`${e.payload.steps.length} steps labeled`);
        break;
      case 'similarity':
        parts.push(`${e.payload.moreSimilar.toUpperCase()} more similar`);
        break;
      case 'featureTrace':
        parts.push(`trace: ${e.payload.feature}`);
        break;
      case 'proxyReward':
        parts.push(`${letter(e.payload.target)} proxy ${e.payload.score.toFixed(2)}`);
        break;
      case 'implicit':
        parts.push(`${e.payload.signal}`);
        break;
    }
  }
  return parts.join(' · ');
}

/**
 * Output keys of record `index` as its format's labeling view names them (`trlRow.ts`): chosen/rejected for pairs
 * of every preference format, completion for unpaired rows.
 */
function candidatesOf(scan: DatasetScan, index: number): string[] {
  const read = scan.index.readRecord(index);
  return read.ok ? candidateKeys(read.record.row) : [];
}

/**
 * Inline labeling of datasets in the editor: a CodeLens row on each record (A better · B better · Tie ·
 * Skip · Rate · Critique · Flag), keybindings for the same actions on the record under the cursor, a decoration
 * at the end of each labeled record, importance spans from the selection, and natural-language feedback.
 * The dataset file is never modified; decisions go to this window's journal (fsync'd per decision).
 */
export class InlineLabeling extends Disposable implements vscode.CodeLensProvider {
  private readonly lensesChanged = this.register(new vscode.EventEmitter<void>());
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly labeledDecoration = this.register(vscode.window.createTextEditorDecorationType({
    after: { margin: '0 0 0 2em', color: new vscode.ThemeColor('descriptionForeground'), fontStyle: 'italic' },
    overviewRulerColor: new vscode.ThemeColor('charts.green'),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  }));
  private readonly flaggedDecoration = this.register(vscode.window.createTextEditorDecorationType({
    after: { margin: '0 0 0 2em', color: new vscode.ThemeColor('errorForeground'), fontStyle: 'italic' },
    overviewRulerColor: new vscode.ThemeColor('charts.red'),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  }));
  /** When this window last recorded a decision per file: the time spent on the next one is measured from it. */
  private readonly lastDecisionAt = new Map<string, number>();

  constructor(private readonly stores: FeedbackStores, private readonly scans: DatasetScans, private readonly log: vscode.LogOutputChannel, private readonly mode: LabelingMode) {
    super();
    this.register(mode.onDidChange(() => this.lensesChanged.fire()));
    this.register(vscode.languages.registerCodeLensProvider([{ scheme: 'file', pattern: '**/*.jsonl' }, { scheme: 'file', pattern: '**/*.json' }], this));
    this.register(stores.onDidChange(() => this.refresh()));
    this.register(scans.onDidChange(() => this.refresh()));
    this.register(vscode.window.onDidChangeVisibleTextEditors(() => this.decorate()));
    let scrollTimer: NodeJS.Timeout | undefined;
    this.register(vscode.window.onDidChangeTextEditorVisibleRanges(() => {
      clearTimeout(scrollTimer);
      scrollTimer = setTimeout(() => this.lensesChanged.fire(), 150);
    }));
    this.register({ dispose: () => clearTimeout(scrollTimer) });
    const cmd = (id: string, action: InlineAction) => this.register(vscode.commands.registerCommand(id, (arg?: RecordAt) => this.act(action, arg)));
    cmd('alignment.labelA', 'A');
    cmd('alignment.labelB', 'B');
    cmd('alignment.labelTie', 'tie');
    cmd('alignment.labelSkip', 'skip');
    cmd('alignment.rateRecord', 'rate');
    cmd('alignment.critiqueRecord', 'critique');
    cmd('alignment.flagRecord', 'flag');
    cmd('alignment.giveFeedback', 'feedback');
    this.register(vscode.commands.registerCommand('alignment.markImportance', () => this.markImportance()));
    this.register(vscode.commands.registerCommand('alignment.undoLabel', (arg?: { file: string }) => this.undo(arg?.file)));
    this.decorate();
  }

  private refresh(): void {
    this.lensesChanged.fire();
    this.decorate();
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    if (!isDataset(doc.uri)) return [];
    if (doc.isDirty) return [new vscode.CodeLens(new vscode.Range(0, 0, 0, 0), { title: vscode.l10n.t('Save the file to label its records'), command: 'workbench.action.files.save' })];
    let scan: DatasetScan;
    try {
      scan = await this.scans.get(doc.uri.fsPath);
    } catch {
      return [];
    }
    const store = this.stores.peek(doc.uri.fsPath);
    const view = store?.view();
    // Lenses for the records on screen (plus a margin): a 100k-record file must not get 800k lenses.
    const visible = vscode.window.visibleTextEditors.filter((e) => e.document === doc).flatMap((e) => e.visibleRanges);
    const near = (line0: number) => visible.length === 0 ? line0 < MAX_LENS_RECORDS : visible.some((r) => line0 >= r.start.line - 50 && line0 <= r.end.line + 50);
    const lenses: vscode.CodeLens[] = [];
    const first = scan.records.find((r) => r.valid);
    if (first) lenses.push(this.modeLens(new vscode.Range(first.line - 1, 0, first.line - 1, 0)));
    for (const rec of scan.records) {
      if (!rec.valid || !near(rec.line - 1)) continue;
      const candidates = candidatesOf(scan, rec.index);
      const at: RecordAt = { file: doc.uri.fsPath, recordId: rec.id, line: rec.line, candidates };
      const range = new vscode.Range(rec.line - 1, 0, rec.line - 1, 0);
      const summary = view ? labelSummary(view.current(rec.id), candidates) : '';
      if (summary) lenses.push(new vscode.CodeLens(range, { title: `✓ ${summary}`, command: 'alignment.undoLabel', tooltip: vscode.l10n.t('Undo this window\'s last decision'), arguments: [{ file: doc.uri.fsPath }] }));
      if (candidates.length === 2) {
        lenses.push(
          new vscode.CodeLens(range, { title: vscode.l10n.t('A better'), command: 'alignment.labelA', arguments: [at], tooltip: `A = ${candidates[0]}${keyHint('alignment.labelA')}` }),
          new vscode.CodeLens(range, { title: vscode.l10n.t('B better'), command: 'alignment.labelB', arguments: [at], tooltip: `B = ${candidates[1]}${keyHint('alignment.labelB')}` }),
          new vscode.CodeLens(range, { title: vscode.l10n.t('Tie'), command: 'alignment.labelTie', arguments: [at], tooltip: `${vscode.l10n.t('Neither is better')}${keyHint('alignment.labelTie')}` }),
          new vscode.CodeLens(range, { title: vscode.l10n.t('Skip'), command: 'alignment.labelSkip', arguments: [at], tooltip: `${vscode.l10n.t('Go to the next unlabeled record')}${keyHint('alignment.labelSkip')}` }),
        );
      }
      lenses.push(
        new vscode.CodeLens(range, { title: vscode.l10n.t('Rate'), command: 'alignment.rateRecord', arguments: [at], tooltip: `${vscode.l10n.t('Likert rating')}${keyHint('alignment.rateRecord')}` }),
        new vscode.CodeLens(range, { title: vscode.l10n.t('Critique'), command: 'alignment.critiqueRecord', arguments: [at], tooltip: `${vscode.l10n.t('Labels from the critique label set')}${keyHint('alignment.critiqueRecord')}` }),
        new vscode.CodeLens(range, { title: vscode.l10n.t('Flag'), command: 'alignment.flagRecord', arguments: [at], tooltip: `${vscode.l10n.t('E-stop: flag as unacceptable')}${keyHint('alignment.flagRecord')}` }),
      );
    }
    return lenses;
  }

  /** The lens above the first record that turns labeling mode (the labeling keys) on or off. */
  private modeLens(range: vscode.Range): vscode.CodeLens {
    const keys = `${keyLabel('alignment.labelA')} / ${keyLabel('alignment.labelB')} / ${keyLabel('alignment.labelTie')}`;
    return this.mode.active
      ? new vscode.CodeLens(range, { title: `$(keyboard) ${vscode.l10n.t('Labeling keys on: turn off')}`, command: 'alignment.toggleLabelingMode', arguments: [false], tooltip: vscode.l10n.t('Unbinds the labeling keys so the editor\'s own shortcuts work again') })
      : new vscode.CodeLens(range, { title: `$(keyboard) ${vscode.l10n.t('Labeling keys ({0})', keys)}`, command: 'alignment.toggleLabelingMode', arguments: [true], tooltip: vscode.l10n.t('Turns labeling mode on: {0} then label the record under the cursor', keys) });
  }

  /** The record under the cursor of the active editor. */
  private async recordAtCursor(): Promise<RecordAt | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || !isDataset(editor.document.uri)) {
      vscode.window.showWarningMessage(vscode.l10n.t('Put the cursor on a record of a dataset (.jsonl, or a .json array of rows) to label it.'));
      return undefined;
    }
    if (editor.document.isDirty) await editor.document.save();
    const scan = await this.scans.get(editor.document.uri.fsPath);
    const line = editor.selection.active.line + 1;
    const rec = recordAtLine(scan, line);
    if (!rec || !rec.valid) {
      vscode.window.showWarningMessage(vscode.l10n.t('Line {0} is not a valid record: see the Problems panel.', line));
      return undefined;
    }
    return { file: editor.document.uri.fsPath, recordId: rec.id, line: rec.line, candidates: candidatesOf(scan, rec.index) };
  }

  private secondsSince(file: string): number {
    const last = this.lastDecisionAt.get(file);
    return last === undefined ? 0 : Math.min(600, Math.round((Date.now() - last) / 100) / 10);
  }

  private async pickTarget(at: RecordAt, placeHolder: string): Promise<string | undefined> {
    if (at.candidates.length <= 1) return at.candidates[0] ?? 'record';
    const pick = await vscode.window.showQuickPick(
      at.candidates.map((c, i) => ({ label: `${'AB'[i] ?? c}: ${c}`, key: c })),
      { placeHolder },
    );
    return pick?.key;
  }

  private async act(action: InlineAction, arg?: RecordAt): Promise<void> {
    const at = arg ?? (await this.recordAtCursor());
    if (!at) return;
    const store = this.stores.get(at.file);
    const seconds = this.secondsSince(at.file);
    const order: [string, string] = [at.candidates[0] ?? 'chosen', at.candidates[1] ?? 'rejected'];
    try {
      switch (action) {
        case 'A':
        case 'B':
        case 'tie':
          if (at.candidates.length !== 2) throw new Error(vscode.l10n.t('this record is not a pair (it needs chosen and rejected)'));
          store.record({ recordId: at.recordId, type: 'comparison', seconds, payload: { mode: 'pair', order, preferred: action === 'tie' ? null : order[action === 'A' ? 0 : 1] } });
          break;
        case 'skip':
          await this.gotoNextUnlabeled(at);
          return;
        case 'rate': {
          const target = await this.pickTarget(at, vscode.l10n.t('Which response do you rate?'));
          if (!target) return;
          const pick = await vscode.window.showQuickPick(likert(), { placeHolder: vscode.l10n.t('Rate {0} (1 = very poor, 5 = excellent)', target) });
          if (!pick) return;
          store.record({ recordId: at.recordId, type: 'rating', seconds, payload: { target, value: Number(pick[0]), scale: { min: 1, max: 5 } } });
          break;
        }
        case 'critique': {
          const target = await this.pickTarget(at, vscode.l10n.t('Which response do you critique?'));
          if (!target) return;
          const labelSet = vscode.workspace.getConfiguration('alignment').get<string[]>('critiqueLabels', []);
          const picks = await vscode.window.showQuickPick(labelSet.map((l) => ({ label: l })), { canPickMany: true, placeHolder: vscode.l10n.t('What applies to {0}? (none selected = no issues)', target) });
          if (!picks) return;
          store.record({ recordId: at.recordId, type: 'critique', seconds, payload: { target, mode: 'multi', labels: picks.map((p) => p.label), labelSet } });
          break;
        }
        case 'flag': {
          const reason = await vscode.window.showInputBox({ prompt: vscode.l10n.t('Flag this record as unacceptable (e-stop). Reason (optional):'), placeHolder: vscode.l10n.t('e.g. unsafe advice') });
          if (reason === undefined) return;
          store.record({ recordId: at.recordId, type: 'eStop', seconds, payload: reason ? { reason } : {} });
          break;
        }
        case 'feedback': {
          const text = await vscode.window.showInputBox({ prompt: vscode.l10n.t('What is wrong, or what should change?'), placeHolder: vscode.l10n.t('Natural-language feedback on this record') });
          if (!text) return;
          store.record({ recordId: at.recordId, type: 'naturalLanguage', seconds, payload: { text } });
          break;
        }
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.log.error(`Label ${action} on ${at.file}:${at.line}: ${message}`);
      vscode.window.showErrorMessage(vscode.l10n.t('Could not record the label for {0}: {1}', `${path.basename(at.file)}:${at.line}`, message));
      return;
    }
    this.lastDecisionAt.set(at.file, Date.now());
    this.stores.notify(at.file);
    if (action === 'A' || action === 'B' || action === 'tie') await this.gotoNextUnlabeled(at);
  }

  /** Moves the cursor to the next record with no comparison from this annotator. */
  private async gotoNextUnlabeled(at: RecordAt): Promise<void> {
    const scan = await this.scans.get(at.file);
    const view = this.stores.get(at.file).view();
    const next = scan.records.find((r) => r.line > at.line && r.valid && !view.has(r.id, 'comparison'));
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.fsPath === at.file);
    if (!next) {
      vscode.window.showInformationMessage(vscode.l10n.t('No unlabeled records after line {0}.', at.line));
      return;
    }
    if (editor) {
      const pos = new vscode.Position(next.line - 1, 0);
      editor.selection = new vscode.Selection(pos, pos);
      editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    }
  }

  private async markImportance(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const at = await this.recordAtCursor();
    if (!editor || !at) return;
    const sel = editor.selection;
    if (sel.isEmpty || sel.start.line !== sel.end.line) {
      vscode.window.showWarningMessage(vscode.l10n.t('Select the important text inside one field of a record first.'));
      return;
    }
    const span = selectionToFieldSpan(editor.document.lineAt(sel.start.line).text, sel.start.character, sel.end.character);
    if (!span) {
      vscode.window.showWarningMessage(vscode.l10n.t('The selection must lie inside one text field (prompt, chosen, rejected...).'));
      return;
    }
    const label = await vscode.window.showInputBox({ prompt: vscode.l10n.t('Why does "{0}" matter? (optional)', span.text.slice(0, 40)) });
    if (label === undefined) return;
    this.stores.get(at.file).record({
      recordId: at.recordId, type: 'importance', seconds: this.secondsSince(at.file),
      payload: { spans: [{ field: span.field, start: span.start, end: span.end, ...(label ? { label } : {}) }] },
    });
    this.stores.notify(at.file);
    vscode.window.setStatusBarMessage(vscode.l10n.t('Marked {0} as important', `${span.field}[${span.start}:${span.end}]`), 3000);
  }

  private async undo(file?: string): Promise<void> {
    const target = file ?? vscode.window.activeTextEditor?.document.uri.fsPath;
    if (!target || !isDatasetPath(target)) {
      vscode.window.showWarningMessage(vscode.l10n.t('Open the dataset whose last label you want to undo.'));
      return;
    }
    const undone = this.stores.get(target).undo();
    if (!undone) {
      vscode.window.showInformationMessage(vscode.l10n.t('Nothing to undo in this window for this dataset.'));
      return;
    }
    this.stores.notify(target);
    vscode.window.setStatusBarMessage(vscode.l10n.t('Undid the last decision'), 3000);
  }

  private decorate(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      if (!isDataset(editor.document.uri)) continue;
      const store = this.stores.peek(editor.document.uri.fsPath);
      if (!store) continue;
      void this.scans.get(editor.document.uri.fsPath).then((scan) => {
        const view = store.view();
        const labeled: vscode.DecorationOptions[] = [];
        const flagged: vscode.DecorationOptions[] = [];
        for (const rec of scan.records) {
          const entries = view.current(rec.id);
          if (entries.length === 0 || rec.line > editor.document.lineCount) continue;
          const line = editor.document.lineAt(rec.line - 1);
          const text = labelSummary(entries, candidatesOf(scan, rec.index));
          const opt = { range: new vscode.Range(line.range.end, line.range.end), renderOptions: { after: { contentText: `  ${text}` } } };
          (entries.some((e) => e.type === 'eStop') ? flagged : labeled).push(opt);
        }
        editor.setDecorations(this.labeledDecoration, labeled);
        editor.setDecorations(this.flaggedDecoration, flagged);
      }, () => undefined);
    }
  }
}
