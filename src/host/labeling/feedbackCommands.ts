import * as vscode from 'vscode';
import * as path from 'node:path';
import { Disposable } from '../shared/lifecycle';
import type { FeedbackStores } from './feedbackStores';
import { pickDataset } from '../shared/datasetArg';
import { keyHint } from './labelingMode';
import { isDataset, recordAtLine, type DatasetScan, type DatasetScans } from './datasetScans';
import { ImprovementDocs, type ImprovementSession } from './improvementDocs';
import { candidateText, textSha1 } from '../../core/feedback/fieldPath';
import { detectTriplet, promptText, recordCandidates, tripletProblem, type CandidateRef } from '../../core/feedback/recordShapes';
import { STEP_RULES, parseStepRule, splitSteps, type StepRule } from '../../core/feedback/steps';
import { scoreWithProxy, type ProxyScoringItem, type ProxyScoringReport } from '../../core/feedback/proxyScoring';
import type { FeedbackEntry, ImplicitPayload, JournalEntryOf } from '../../core/feedback/types';

/** A record as CodeLens arguments name it (inline labeling's lens argument has these fields too). */
export interface RecordArg {
  readonly file: string;
  readonly recordId: string;
  readonly line: number;
}

interface ResolvedRecord extends RecordArg {
  readonly value: Record<string, unknown>;
}

/** Values a caller (a lens, a test) can pass instead of answering the prompts. */
export interface ImprovePreset { readonly target?: string; readonly edited?: string }
/** `rule` defaults to `auto` when `labels` are given (otherwise the person picks it). */
export interface StepsPreset { readonly target?: string; readonly rule?: StepRule; readonly labels?: readonly (-1 | 0 | 1)[] }
export interface SimilarityPreset { readonly moreSimilar?: 'a' | 'b' }
export interface FeatureTracePreset { readonly feature?: string; readonly direction?: 'increasing' | 'decreasing'; readonly items?: readonly string[] }
/** Best first; an inner array is a group of tied candidates. */
export interface RankPreset { readonly ranking?: readonly (string | readonly string[])[] }
export interface CopyPreset { readonly target?: string }
export interface ProxyPreset { readonly modulePath?: string; readonly exportName?: string; readonly timeoutMs?: number }

const MAX_LENS_RECORDS = 400;
const stepLabels = (): { label: string; description: string; value: -1 | 0 | 1 }[] => [
  { label: `$(thumbsup) ${vscode.l10n.t('good')}`, description: '+1', value: 1 },
  { label: `$(dash) ${vscode.l10n.t('neutral')}`, description: '0', value: 0 },
  { label: `$(thumbsdown) ${vscode.l10n.t('bad')}`, description: '-1', value: -1 },
];

/** A user-facing problem (bad input or a refused action): shown as a message, not logged as a failure. */
class FeedbackInputError extends Error {}

function preview(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * The feedback types of ALIGNMENT_REFERENCE.md section 3 that inline labeling and the comparison panel do not
 * give: improvement (edit a response in a diff editor, save to record), inter-temporal step labels, similarity
 * triplets, feature traces, k-way ranking, proxy rewards from a user-written scorer (trusted workspaces only),
 * and opt-in implicit signals (copy, accept, edit). Every command takes the record as its first argument (or uses
 * the record under the cursor) and an optional preset with the answers, so tests and other features can drive it
 * without UI. The dataset file is never modified.
 */
class MoreFeedback extends Disposable implements vscode.CodeLensProvider {
  private readonly lensesChanged = this.register(new vscode.EventEmitter<void>());
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly docs: ImprovementDocs;
  /** The last text recorded per improvement session, so saving twice does not record twice. */
  private readonly committed = new WeakMap<ImprovementSession, { text: string; entry: JournalEntryOf<'improvement'> | undefined }>();
  private lastFeature = '';

  constructor(private readonly stores: FeedbackStores, private readonly scans: DatasetScans, private readonly log: vscode.LogOutputChannel) {
    super();
    this.docs = this.register(new ImprovementDocs((s, text) => {
      this.commitImprovement(s, text);
    }));
    this.register(vscode.languages.registerCodeLensProvider({ scheme: 'file', pattern: '**/*.jsonl' }, this));
    this.register(stores.onDidChange(() => this.lensesChanged.fire()));
    this.register(scans.onDidChange(() => this.lensesChanged.fire()));
    let scrollTimer: NodeJS.Timeout | undefined;
    this.register(vscode.window.onDidChangeTextEditorVisibleRanges(() => {
      clearTimeout(scrollTimer);
      scrollTimer = setTimeout(() => this.lensesChanged.fire(), 150);
    }));
    this.register({ dispose: () => clearTimeout(scrollTimer) });
    this.register(vscode.workspace.onDidCloseTextDocument((d) => this.docs.forget(d.uri)));

    const cmd = <A extends unknown[]>(id: string, what: string, f: (...args: A) => Promise<unknown>) =>
      this.register(vscode.commands.registerCommand(id, async (...args: A) => {
        try {
          return await f(...args);
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          if (!(e instanceof FeedbackInputError)) this.log.error(`${what}: ${message}`);
          void vscode.window.showErrorMessage(`${what}: ${message}`);
          return undefined;
        }
      }));
    cmd('alignment.improveResponse', vscode.l10n.t('Improve Response'), (arg?: RecordArg, preset?: ImprovePreset) => this.improve(arg, preset));
    cmd('alignment.saveImprovement', vscode.l10n.t('Save Improvement'), (uri?: vscode.Uri) => this.saveImprovement(uri));
    cmd('alignment.labelSteps', vscode.l10n.t('Label Steps'), (arg?: RecordArg, preset?: StepsPreset) => this.labelSteps(arg, preset));
    cmd('alignment.labelSimilarity', vscode.l10n.t('Similarity'), (arg?: RecordArg, preset?: SimilarityPreset) => this.labelSimilarity(arg, preset));
    cmd('alignment.orderFeatureTrace', vscode.l10n.t('Feature Trace'), (arg?: RecordArg, preset?: FeatureTracePreset) => this.featureTrace(arg, preset));
    cmd('alignment.rankResponses', vscode.l10n.t('Rank Responses'), (arg?: RecordArg, preset?: RankPreset) => this.rank(arg, preset));
    cmd('alignment.copyResponse', vscode.l10n.t('Copy Response'), (arg?: RecordArg, preset?: CopyPreset) => this.copy(arg, preset));
    cmd('alignment.scoreProxyReward', vscode.l10n.t('Proxy Reward'), (arg?: unknown, preset?: ProxyPreset) => this.scoreProxy(arg, preset));
  }

  // ---- CodeLens: similarity on triplets; ranking and friends on records with more than two candidates ----

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    if (!isDataset(doc.uri) || doc.isDirty) return [];
    let scan: DatasetScan;
    try {
      scan = await this.scans.get(doc.uri.fsPath);
    } catch {
      return [];
    }
    const view = this.stores.peek(doc.uri.fsPath)?.view();
    const visible = vscode.window.visibleTextEditors.filter((e) => e.document === doc).flatMap((e) => e.visibleRanges);
    const near = (line0: number) => visible.length === 0 ? line0 < MAX_LENS_RECORDS : visible.some((r) => line0 >= r.start.line - 50 && line0 <= r.end.line + 50);
    const lenses: vscode.CodeLens[] = [];
    for (const rec of scan.records) {
      if (!near(rec.line - 1) || rec.line > doc.lineCount) continue;
      const read = scan.index.readRecord(rec.index);
      if (!read.ok) continue;
      const record = read.record.row;
      const at: RecordArg = { file: doc.uri.fsPath, recordId: rec.id, line: rec.line };
      const range = new vscode.Range(rec.line - 1, 0, rec.line - 1, 0);
      const triplet = detectTriplet(record);
      if (triplet) {
        const done = view?.currentOfType(rec.id, 'similarity').find((e) => e.source === 'human');
        if (done) lenses.push(new vscode.CodeLens(range, { title: `✓ ${vscode.l10n.t('{0} more similar ({1})', done.payload.moreSimilar.toUpperCase(), done.annotator)}`, command: 'alignment.undoLabel', arguments: [{ file: at.file }], tooltip: vscode.l10n.t('Undo this window\'s last decision') }));
        lenses.push(
          new vscode.CodeLens(range, { title: vscode.l10n.t('A more similar'), command: 'alignment.labelSimilarity', arguments: [at, { moreSimilar: 'a' }], tooltip: vscode.l10n.t('{0} is closer to {1}', triplet.a, triplet.anchor) }),
          new vscode.CodeLens(range, { title: vscode.l10n.t('B more similar'), command: 'alignment.labelSimilarity', arguments: [at, { moreSimilar: 'b' }], tooltip: vscode.l10n.t('{0} is closer to {1}', triplet.b, triplet.anchor) }),
        );
        continue;
      }
      const candidates = recordCandidates(record);
      if (candidates.length <= 2) continue; // pairs and single outputs: inline labeling's lenses
      const ranked = view?.currentOfType(rec.id, 'comparison').find((e) => e.payload.mode === 'ranking');
      if (ranked && ranked.payload.mode === 'ranking') {
        lenses.push(new vscode.CodeLens(range, { title: `✓ ${vscode.l10n.t('ranked {0}', ranked.payload.ranking.map((g) => g.join(' = ')).join(' > '))}`, command: 'alignment.undoLabel', arguments: [{ file: at.file }], tooltip: vscode.l10n.t('Undo this window\'s last decision') }));
      }
      lenses.push(
        new vscode.CodeLens(range, { title: vscode.l10n.t('Rank {0} Responses', candidates.length), command: 'alignment.rankResponses', arguments: [at], tooltip: `${vscode.l10n.t('Order the responses best first')}${keyHint('alignment.rankResponses')}` }),
        new vscode.CodeLens(range, { title: vscode.l10n.t('Feature Trace'), command: 'alignment.orderFeatureTrace', arguments: [at], tooltip: vscode.l10n.t('Order responses by a feature (e.g. increasingly formal)') }),
        new vscode.CodeLens(range, { title: vscode.l10n.t('Improve'), command: 'alignment.improveResponse', arguments: [at], tooltip: `${vscode.l10n.t('Edit a response into a better one')}${keyHint('alignment.improveResponse')}` }),
        new vscode.CodeLens(range, { title: vscode.l10n.t('Label Steps'), command: 'alignment.labelSteps', arguments: [at], tooltip: `${vscode.l10n.t('Good / neutral / bad per step')}${keyHint('alignment.labelSteps')}` }),
        new vscode.CodeLens(range, { title: vscode.l10n.t('Copy'), command: 'alignment.copyResponse', arguments: [at], tooltip: vscode.l10n.t('Copy a response to the clipboard') }),
      );
    }
    return lenses;
  }

  // ---- records ----

  /** The record named by `arg`, or the one under the cursor; throws a FeedbackInputError saying what is wrong. */
  private async resolve(arg?: RecordArg): Promise<ResolvedRecord | undefined> {
    let file: string;
    let find: (scan: DatasetScan) => DatasetScan['records'][number] | undefined;
    let where: string;
    if (arg && typeof arg.file === 'string' && typeof arg.recordId === 'string') {
      file = arg.file;
      find = (s) => s.records.find((r) => r.id === arg.recordId);
      where = `record ${JSON.stringify(arg.recordId)} of ${path.basename(file)}`;
    } else {
      const editor = vscode.window.activeTextEditor;
      if (!editor || !isDataset(editor.document.uri)) throw new FeedbackInputError('put the cursor on a record of a .jsonl dataset first');
      if (editor.document.isDirty) await editor.document.save();
      file = editor.document.uri.fsPath;
      const line = editor.selection.active.line + 1;
      find = (s) => recordAtLine(s, line);
      where = `${path.basename(file)}:${line}`;
    }
    const scan = await this.scans.get(file);
    const rec = find(scan);
    if (!rec) throw new FeedbackInputError(`${where} is not a JSON record (see the Problems panel), or the file changed`);
    const read = scan.index.readRecord(rec.index);
    if (!read.ok) throw new FeedbackInputError(`${path.basename(file)}:${rec.line}: ${read.diagnostic.message}`);
    return { file, recordId: rec.id, line: rec.line, value: read.record.row };
  }

  private candidates(r: ResolvedRecord, min: number, what: string): CandidateRef[] {
    const c = recordCandidates(r.value);
    if (c.length < min) {
      throw new FeedbackInputError(
        `${path.basename(r.file)}:${r.line} has ${c.length} response(s); ${what} needs ${min} or more (fields chosen, rejected, completion, response, or arrays completions / responses / outputs / candidates)`,
      );
    }
    return c;
  }

  private async pickCandidate(r: ResolvedRecord, candidates: readonly CandidateRef[], preset: string | undefined, placeHolder: string): Promise<CandidateRef | undefined> {
    if (preset !== undefined) {
      const c = candidates.find((x) => x.key === preset);
      if (!c) throw new FeedbackInputError(`${path.basename(r.file)}:${r.line} has no response ${JSON.stringify(preset)} (it has ${candidates.map((x) => x.key).join(', ')})`);
      return c;
    }
    if (candidates.length === 1) return candidates[0];
    const pick = await vscode.window.showQuickPick(candidates.map((c) => ({ label: c.key, detail: preview(c.text), c })), { placeHolder, matchOnDetail: true });
    return pick?.c;
  }

  private record<K extends FeedbackEntry['type']>(r: RecordArg, type: K, payload: JournalEntryOf<K>['payload'], started: number): JournalEntryOf<K> {
    const entry = this.stores.get(r.file).record({ recordId: r.recordId, type, payload, seconds: Math.min(3600, Math.round((Date.now() - started) / 100) / 10) });
    this.stores.notify(r.file);
    return entry;
  }

  /** Records an implicit signal when the person opted in (alignment.implicitSignals.enabled). */
  private implicit(r: RecordArg, target: string, signal: ImplicitPayload['signal']): JournalEntryOf<'implicit'> | undefined {
    if (!vscode.workspace.getConfiguration('alignment').get<boolean>('implicitSignals.enabled', false)) return undefined;
    const entry = this.stores.get(r.file).record({ recordId: r.recordId, type: 'implicit', payload: { target, signal } });
    this.stores.notify(r.file);
    return entry;
  }

  // ---- improvement ----

  private async improve(arg?: RecordArg, preset?: ImprovePreset): Promise<JournalEntryOf<'improvement'> | vscode.Uri | undefined> {
    const r = await this.resolve(arg);
    if (!r) return undefined;
    const c = await this.pickCandidate(r, this.candidates(r, 1, 'an improvement'), preset?.target, vscode.l10n.t('Which response do you want to improve?'));
    if (!c) return undefined;
    const session: ImprovementSession = { file: r.file, recordId: r.recordId, line: r.line, target: c.key, original: c.text };
    if (preset?.edited !== undefined) return this.commitImprovement(session, preset.edited);
    const { edit, original } = this.docs.create(session, `${path.basename(r.file, '.jsonl')}.line${r.line}.${c.key}`);
    await vscode.commands.executeCommand('vscode.diff', original, edit, `${c.key} · ${path.basename(r.file)}:${r.line} (original ↔ improved)`, { viewColumn: vscode.ViewColumn.Beside, preview: false });
    vscode.window.setStatusBarMessage(vscode.l10n.t('Edit the right side, then save (Ctrl+S or the ✓ button) to record the improvement'), 8000);
    return edit;
  }

  /**
   * Records the saved text of an improvement document: an `improvement` entry (plus implicit `edit`) when it
   * differs from the original, an implicit `accept` when the person saved it unchanged. Saving the same text again
   * records nothing new.
   */
  private commitImprovement(s: ImprovementSession, text: string): JournalEntryOf<'improvement'> | undefined {
    const last = this.committed.get(s);
    if (last && last.text === text) return last.entry;
    let entry: JournalEntryOf<'improvement'> | undefined;
    if (text === s.original) {
      this.implicit(s, s.target, 'accept');
      vscode.window.setStatusBarMessage(vscode.l10n.t('{0} saved unchanged: no improvement recorded', s.target), 5000);
    } else {
      entry = this.record(s, 'improvement', { target: s.target, originalSha1: textSha1(s.original), edited: text }, Date.now());
      this.implicit(s, s.target, 'edit');
      vscode.window.setStatusBarMessage(vscode.l10n.t('Recorded the improvement of {0} ({1})', s.target, `${path.basename(s.file)}:${s.line}`), 5000);
    }
    this.committed.set(s, { text, entry });
    return entry;
  }

  private async saveImprovement(uri?: vscode.Uri): Promise<JournalEntryOf<'improvement'> | undefined> {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    const session = target && this.docs.sessionOf(target);
    if (!target || !session) throw new FeedbackInputError('open a response with Label: Improve Response first, then save it here');
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString()) ?? (await vscode.workspace.openTextDocument(target));
    const entry = this.commitImprovement(session, doc.getText());
    // Same text: the file system's commit records nothing new; saving clears the dirty mark.
    if (doc.isDirty && !(await doc.save())) this.log.warn(`Save Improvement: recorded, but ${target.toString()} could not be saved (it stays marked as modified)`);
    return entry;
  }

  // ---- inter-temporal step labels ----

  private async labelSteps(arg?: RecordArg, preset?: StepsPreset): Promise<JournalEntryOf<'interTemporal'> | undefined> {
    const started = Date.now();
    const r = await this.resolve(arg);
    if (!r) return undefined;
    const c = await this.pickCandidate(r, this.candidates(r, 1, 'step labels'), preset?.target, vscode.l10n.t('Which response do you want to label step by step?'));
    if (!c) return undefined;
    let rule = preset?.rule;
    if (rule !== undefined && parseStepRule(rule) === undefined) throw new FeedbackInputError(`unknown step rule ${JSON.stringify(rule)} (one of ${STEP_RULES.join(', ')})`);
    // With preset labels nothing is asked: the rule defaults to auto.
    if (rule === undefined && preset?.labels !== undefined) rule = 'auto';
    if (rule === undefined) {
      const descriptions: Record<StepRule, string> = {
        auto: vscode.l10n.t('numbered steps, else paragraphs, else lines, else sentences'),
        numbered: vscode.l10n.t('lines starting 1. / 1) / (1) / Step 1:'),
        paragraphs: vscode.l10n.t('blocks separated by blank lines'),
        lines: vscode.l10n.t('every non-blank line'),
        sentences: vscode.l10n.t('ends at . ! ? followed by a space'),
      };
      const pick = await vscode.window.showQuickPick(
        STEP_RULES.map((x) => {
          const split = splitSteps(c.text, x);
          return { label: x === 'auto' ? `auto → ${split.rule}` : x, description: vscode.l10n.t('{0} step(s)', split.steps.length), detail: descriptions[x], rule: x };
        }),
        { placeHolder: vscode.l10n.t('Split {0} into steps by', c.key) },
      );
      if (!pick) return undefined;
      rule = pick.rule;
    }
    const split = splitSteps(c.text, rule);
    if (split.steps.length === 0) throw new FeedbackInputError(`${c.key} of ${path.basename(r.file)}:${r.line} is empty`);
    let labels = preset?.labels;
    if (labels !== undefined) {
      if (labels.length !== split.steps.length) {
        throw new FeedbackInputError(`${c.key} of ${path.basename(r.file)}:${r.line} has ${split.steps.length} step(s) by the ${split.rule} rule, but ${labels.length} label(s) were given`);
      }
    } else {
      labels = await this.askStepLabels(r, c, split.steps);
      if (!labels) return undefined;
    }
    const given = labels;
    return this.record(r, 'interTemporal', { target: c.key, steps: split.steps.map((s, i) => ({ start: s.start, end: s.end, label: given[i] })) }, started);
  }

  /** One quick pick per step, with the step selected in a read-only view of the response. */
  private async askStepLabels(r: ResolvedRecord, c: CandidateRef, steps: readonly { start: number; end: number; text: string }[]): Promise<(-1 | 0 | 1)[] | undefined> {
    const { original } = this.docs.create({ file: r.file, recordId: r.recordId, line: r.line, target: c.key, original: c.text }, `${path.basename(r.file, '.jsonl')}.line${r.line}.${c.key}.steps`);
    const doc = await vscode.workspace.openTextDocument(original);
    const editor = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
    const labels: (-1 | 0 | 1)[] = [];
    for (let i = 0; i < steps.length;) {
      const s = steps[i];
      editor.selection = new vscode.Selection(doc.positionAt(s.start), doc.positionAt(s.end));
      editor.revealRange(editor.selection, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      const items: (vscode.QuickPickItem & { value: -1 | 0 | 1 | 'back' })[] = [...stepLabels()];
      if (i > 0) items.push({ label: `$(arrow-left) ${vscode.l10n.t('previous step')}`, value: 'back' });
      const pick = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Step {0} of {1} · {2}', i + 1, steps.length, c.key), placeHolder: preview(s.text, 200), ignoreFocusOut: true });
      if (!pick) return undefined;
      if (pick.value === 'back') {
        labels.pop();
        i--;
      } else {
        labels[i] = pick.value;
        i++;
      }
    }
    return labels;
  }

  // ---- similarity triplets ----

  private async labelSimilarity(arg?: RecordArg, preset?: SimilarityPreset): Promise<JournalEntryOf<'similarity'> | undefined> {
    const started = Date.now();
    const r = await this.resolve(arg);
    if (!r) return undefined;
    const t = detectTriplet(r.value);
    if (!t) throw new FeedbackInputError(`${path.basename(r.file)}:${r.line} is not a similarity triplet: ${tripletProblem(r.value) ?? 'it needs an anchor (or query) field and a/b (or option_a/option_b, candidate_a/candidate_b) fields'}`);
    let choice = preset?.moreSimilar;
    if (choice !== undefined && choice !== 'a' && choice !== 'b') throw new FeedbackInputError(`moreSimilar must be "a" or "b", not ${JSON.stringify(choice)}`);
    if (choice === undefined) {
      const text = (k: string) => preview(candidateText(r.value[k]) ?? '', 200);
      const pick = await vscode.window.showQuickPick(
        [
          { label: `A: ${t.a}`, detail: text(t.a), v: 'a' as const },
          { label: `B: ${t.b}`, detail: text(t.b), v: 'b' as const },
        ],
        { placeHolder: vscode.l10n.t('Which is more similar to the {0}: {1}', t.anchor, text(t.anchor)) },
      );
      if (!pick) return undefined;
      choice = pick.v;
    }
    return this.record(r, 'similarity', { anchor: t.anchor, a: t.a, b: t.b, moreSimilar: choice }, started);
  }

  // ---- feature traces ----

  private async featureTrace(arg?: RecordArg, preset?: FeatureTracePreset): Promise<JournalEntryOf<'featureTrace'> | undefined> {
    const started = Date.now();
    const r = await this.resolve(arg);
    if (!r) return undefined;
    const candidates = this.candidates(r, 2, 'a feature trace');
    const feature = preset?.feature ?? (await vscode.window.showInputBox({ prompt: vscode.l10n.t('Which feature changes along the trace?'), placeHolder: vscode.l10n.t('e.g. formality, length, politeness, detail'), value: this.lastFeature }));
    if (!feature) return undefined;
    this.lastFeature = feature;
    const direction = preset?.direction ?? (await vscode.window.showQuickPick(
      [
        { label: vscode.l10n.t('increasing {0}', feature), detail: vscode.l10n.t('each response has more {0} than the one before', feature), v: 'increasing' as const },
        { label: vscode.l10n.t('decreasing {0}', feature), detail: vscode.l10n.t('each response has less {0} than the one before', feature), v: 'decreasing' as const },
      ],
      { placeHolder: vscode.l10n.t('Direction of the trace') },
    ))?.v;
    if (!direction) return undefined;
    let items = preset?.items;
    if (items === undefined) {
      const chosen: string[] = [];
      for (;;) {
        const left = candidates.filter((c) => !chosen.includes(c.key));
        if (left.length === 0) break;
        const picks: (vscode.QuickPickItem & { key?: string })[] = left.map((c) => ({ label: c.key, detail: preview(c.text), key: c.key }));
        if (chosen.length >= 2) picks.unshift({ label: `$(check) ${vscode.l10n.t('Done')}`, description: vscode.l10n.t('leave {0} out of the trace', left.length) });
        const pick = await vscode.window.showQuickPick(picks, {
          title: vscode.l10n.t('Feature trace: {0} · {1}', direction === 'increasing' ? vscode.l10n.t('increasing {0}', feature) : vscode.l10n.t('decreasing {0}', feature), chosen.length ? chosen.join(' → ') : vscode.l10n.t('pick the first')),
          placeHolder: traceStepPrompt(direction, feature, chosen.length === 0),
          matchOnDetail: true,
          ignoreFocusOut: true,
        });
        if (!pick) return undefined;
        if (!pick.key) break;
        chosen.push(pick.key);
      }
      items = chosen;
    }
    const known = new Set(candidates.map((c) => c.key));
    const unknown = items.filter((k) => !known.has(k));
    if (unknown.length) throw new FeedbackInputError(`${path.basename(r.file)}:${r.line} has no response ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
    return this.record(r, 'featureTrace', { feature, direction, items: [...items] }, started);
  }

  // ---- k-way ranking ----

  private async rank(arg?: RecordArg, preset?: RankPreset): Promise<JournalEntryOf<'comparison'> | undefined> {
    const started = Date.now();
    const r = await this.resolve(arg);
    if (!r) return undefined;
    const candidates = this.candidates(r, 2, 'a ranking');
    const order = candidates.map((c) => c.key);
    let ranking: string[][];
    if (preset?.ranking !== undefined) {
      ranking = preset.ranking.map((g) => (typeof g === 'string' ? [g] : [...g]));
      const flat = ranking.flat();
      const missing = order.filter((k) => !flat.includes(k));
      const extra = flat.filter((k) => !order.includes(k));
      if (missing.length || extra.length || new Set(flat).size !== flat.length) {
        throw new FeedbackInputError(`a ranking of ${path.basename(r.file)}:${r.line} must place each of ${order.join(', ')} exactly once${extra.length ? ` (unknown: ${extra.join(', ')})` : ''}${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`);
      }
    } else {
      ranking = [];
      let left = [...candidates];
      while (left.length > 1) {
        const picks = await vscode.window.showQuickPick(left.map((c) => ({ label: c.key, detail: preview(c.text), key: c.key })), {
          title: vscode.l10n.t('Rank {0} responses · place {1}', candidates.length, ranking.flat().length + 1) + (ranking.length ? ` · ${vscode.l10n.t('so far {0}', ranking.map((g) => g.join(' = ')).join(' > '))}` : ''),
          placeHolder: vscode.l10n.t('Pick the best remaining response (pick several to tie them)'),
          canPickMany: true,
          matchOnDetail: true,
          ignoreFocusOut: true,
        });
        if (!picks) return undefined;
        if (picks.length === 0) continue;
        ranking.push(picks.map((p) => p.key));
        left = left.filter((c) => !picks.some((p) => p.key === c.key));
      }
      if (left.length === 1) ranking.push([left[0].key]);
    }
    return this.record(r, 'comparison', { mode: 'ranking', order, ranking }, started);
  }

  // ---- implicit: copy ----

  private async copy(arg?: RecordArg, preset?: CopyPreset): Promise<{ text: string; entry: JournalEntryOf<'implicit'> | undefined } | undefined> {
    const r = await this.resolve(arg);
    if (!r) return undefined;
    const c = await this.pickCandidate(r, this.candidates(r, 1, 'copying'), preset?.target, vscode.l10n.t('Which response do you want to copy?'));
    if (!c) return undefined;
    await vscode.env.clipboard.writeText(c.text);
    const entry = this.implicit(r, c.key, 'copy');
    vscode.window.setStatusBarMessage(vscode.l10n.t('Copied {0} to the clipboard', c.key), 3000);
    return { text: c.text, entry };
  }

  // ---- proxy reward ----

  private async scoreProxy(arg?: unknown, preset?: ProxyPreset): Promise<ProxyScoringReport | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(
        vscode.l10n.t('Scoring with a proxy reward is disabled in this workspace: the scorer module is code from the workspace, and VS Code runs workspace code only in a trusted workspace. Trust the workspace (Workspaces: Manage Workspace Trust) to use it.'),
        vscode.l10n.t('Manage Workspace Trust'),
      ).then((go) => (go ? vscode.commands.executeCommand('workbench.trust.manage') : undefined));
      return undefined;
    }
    const file = await datasetFile(arg);
    if (!file) return undefined;
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file)) ?? vscode.workspace.workspaceFolders?.[0];
    const configured = preset?.modulePath ?? vscode.workspace.getConfiguration('alignment').get<string>('proxyReward.scorerModule', '');
    if (!configured) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Set alignment.proxyReward.scorerModule to a JavaScript file exporting score(prompt, response) → number.'), vscode.l10n.t('Open Settings'))
        .then((go) => (go ? vscode.commands.executeCommand('workbench.action.openSettings', 'alignment.proxyReward.scorerModule') : undefined));
      return undefined;
    }
    const modulePath = path.isAbsolute(configured) ? configured : path.resolve(folder?.uri.fsPath ?? path.dirname(file), configured);
    const scan = await this.scans.get(file);
    const items: ProxyScoringItem[] = [];
    for (const rec of scan.records) {
      const read = scan.index.readRecord(rec.index);
      if (!read.ok) continue; // reported in the Problems panel by the scan
      const prompt = promptText(read.record.row);
      for (const c of recordCandidates(read.record.row)) items.push({ recordId: rec.id, line: rec.line, target: c.key, prompt, response: c.text });
    }
    if (items.length === 0) throw new FeedbackInputError(`${path.basename(file)} has no responses to score`);
    const store = this.stores.get(file);
    store.refresh();
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Scoring {0} with {1}', path.basename(file), path.basename(modulePath)), cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort(new Error('cancelled')));
        let shown = 0;
        try {
          return await scoreWithProxy(items, {
            modulePath,
            trusted: vscode.workspace.isTrusted,
            ...(preset?.exportName ? { exportName: preset.exportName } : {}),
            ...(preset?.timeoutMs ? { timeoutMs: preset.timeoutMs } : {}),
            ...(folder ? { root: folder.uri.fsPath } : {}),
            record: (input) => store.record(input),
            skip: (it, id) => store.view().currentOfType(it.recordId, 'proxyReward').some((e) => e.payload.scorer === id.scorer && e.payload.target === it.target),
            signal: abort.signal,
            onProgress: (done, total) => {
              const pct = Math.floor((100 * done) / total);
              if (pct > shown) {
                progress.report({ increment: pct - shown, message: `${done} / ${total}` });
                shown = pct;
              }
            },
          });
        } finally {
          sub.dispose();
        }
      },
    );
    this.stores.notify(file);
    for (const f of report.failures) this.log.warn(`Proxy reward ${report.scorer.scorer}: ${path.basename(file)}:${f.line} ${f.target}: ${f.message}`);
    const summary =
      vscode.l10n.t('Proxy reward {0}: scored {1}, already scored {2}', path.basename(modulePath), report.scored, report.skipped) +
      (report.failures.length ? vscode.l10n.t(', failed {0}', report.failures.length) : '') +
      (report.stopped === 'cancelled' ? vscode.l10n.t(' (cancelled)') : report.stopped === 'too-many-failures' ? vscode.l10n.t(' (stopped after too many failures)') : '') +
      vscode.l10n.t('.');
    this.log.info(`${summary} (${file})`);
    if (report.failures.length) {
      void vscode.window.showWarningMessage(`${summary} ${vscode.l10n.t('First failure, {0}: {1}', `${path.basename(file)}:${report.failures[0].line}`, report.failures[0].message)}`, vscode.l10n.t('Show Log')).then((go) => (go ? this.log.show() : undefined));
    } else {
      void vscode.window.showInformationMessage(summary);
    }
    return report;
  }
}

/** The feature trace's prompt for its next pick: the end it starts from, then the way it goes. */
function traceStepPrompt(direction: 'increasing' | 'decreasing', feature: string, first: boolean): string {
  if (first) return direction === 'increasing' ? vscode.l10n.t('The response with the least {0}', feature) : vscode.l10n.t('The response with the most {0}', feature);
  return direction === 'increasing' ? vscode.l10n.t('The next response (more {0})', feature) : vscode.l10n.t('The next response (less {0})', feature);
}

/** A dataset given as a Uri, a tree item with `uri`, a path, or the active .jsonl editor. */
async function datasetFile(arg: unknown): Promise<string | undefined> {
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof arg === 'string') return arg;
  if (arg instanceof Object && 'uri' in arg && arg.uri instanceof vscode.Uri) return arg.uri.fsPath;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && isDataset(active)) return active.fsPath;
  return (await pickDataset(vscode.l10n.t('Choose a dataset to score')))?.fsPath;
}

/**
 * Registers the commands and CodeLens for improvement, step labels, similarity triplets, feature traces, k-way
 * ranking, proxy rewards and implicit signals (see {@link MoreFeedback}).
 */
export function registerMoreFeedback(_context: vscode.ExtensionContext, stores: FeedbackStores, scans: DatasetScans, log: vscode.LogOutputChannel): vscode.Disposable {
  return new MoreFeedback(stores, scans, log);
}
