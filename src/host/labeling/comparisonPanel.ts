import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DatasetIndex, JsonlScanResult } from '../../core/datasets/jsonlScan';
import { buildDatasetIndex, datasetChecks, scanIndex } from '../../core/datasets/datasetScan';
import { isDatasetPath, rememberDataset } from '../shared/datasetArg';
import { ComparisonQueue, pairOf, type QueuedPair } from '../../core/feedback/comparisonQueue';
import { FeedbackStore, type FeedbackInput } from '../../core/feedback/store';
import { WRITER_ID_PATTERN, type FeedbackType } from '../../core/feedback/types';
import { runPaths } from '../../core/runs/layout';
import { pairsFileRound } from '../../core/runs/rounds';
import {
  ComparisonCritique,
  ComparisonDecide,
  ComparisonDone,
  ComparisonFlag,
  ComparisonLoading,
  ComparisonOpenRecord,
  ComparisonRate,
  ComparisonReady,
  ComparisonShowPair,
  ComparisonStatus,
  ComparisonUndo,
  type LabelingSettings,
  type Side,
} from '../../protocol/comparison';
import { ComparisonInspectReward, ComparisonRewardHeatError } from '../../protocol/rewardInspection';
import { rewardHeatMessage, type RewardHeatSource } from '../eval/rewardInspector';
import { Disposable } from '../shared/lifecycle';
import { webviewHtml, webviewOptions } from '../shared/webviewHtml';
import { postToPanel } from '../shared/webviewPost';

/**
 * Where the panel gets a dataset's feedback store. Pass the window's shared registry (e.g. `FeedbackStores`) so the
 * panel, inline labeling and the views share one store and one journal per dataset; the provider owns the stores
 * (the panel never closes them).
 */
export interface StoreProvider {
  get(datasetPath: string): FeedbackStore;
  /** Called after the panel recorded something for `datasetPath`, so other views can update. */
  notify?(datasetPath: string): void;
  /** Fires with a dataset path when its labels changed elsewhere (another window, inline labeling, a judge). */
  readonly onDidChange?: vscode.Event<string>;
}

export interface ComparisonPanelOptions {
  readonly log: vscode.LogOutputChannel;
  /** Default: the panel opens its own store per dataset ({@link openWindowStore}) and closes it with the panel. */
  readonly stores?: StoreProvider;
  /** The reward heat overlay's dense rewards (off without one). */
  readonly inspector?: RewardHeatSource;
}

/** Critique labels when `alignment.critiqueLabels` is empty or unusable. */
export const DEFAULT_CRITIQUE_LABELS = ['helpful', 'correct', 'safe', 'harmful', 'factual-error', 'unsafe', 'incorrect', 'unhelpful', 'off-topic', 'too-long'];

/** Likert scale of ratings given in the panel (the same 1-5 scale as inline labeling, so ratings are comparable). */
export const RATING_SCALE = { min: 1, max: 5 } as const;

const FRIENDLY: Record<string, string> = {
  comparison: 'comparison',
  rating: 'rating',
  critique: 'critique',
  naturalLanguage: 'comment',
  eStop: 'flag',
  retract: 'undo',
};

/** A decision's kind (a FRIENDLY value, or 'ratings' / 'label') as the status line names it. */
function decisionName(what: string): string {
  const names: Record<string, string> = {
    comparison: vscode.l10n.t('comparison'),
    rating: vscode.l10n.t('rating'),
    ratings: vscode.l10n.t('ratings'),
    critique: vscode.l10n.t('critique'),
    comment: vscode.l10n.t('comment'),
    flag: vscode.l10n.t('flag'),
    undo: vscode.l10n.t('undo'),
  };
  return names[what] ?? vscode.l10n.t('label');
}

/** The annotator name: the `alignment.annotatorId` setting, else the OS user name. */
export function annotatorName(): string {
  const configured = vscode.workspace.getConfiguration('alignment').get<string>('annotatorId')?.trim();
  if (configured) return configured;
  try {
    return os.userInfo().username || 'annotator';
  } catch {
    return 'annotator';
  }
}

// One per extension host (= per window). vscode.env.sessionId is not unique everywhere (code-server reports a
// constant), so a random part makes sure two windows never append to the same journal file.
const WINDOW_NONCE = randomBytes(4).toString('hex');

/** This window's writer id (its journal's file name): host name + a random id of this extension host. */
export function windowWriterId(): string {
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 60);
  const id = host ? `${host}-${WINDOW_NONCE}` : `window-${WINDOW_NONCE}`;
  return WRITER_ID_PATTERN.test(id) ? id : `window-${WINDOW_NONCE}`;
}

/** Opens a dataset's store with this window's writer id and annotator. */
export function openWindowStore(datasetPath: string): FeedbackStore {
  return FeedbackStore.open({ datasetPath, writerId: windowWriterId(), annotator: annotatorName() });
}

function labelingSettings(): LabelingSettings {
  const configured = vscode.workspace.getConfiguration('alignment').get<unknown[]>('critiqueLabels') ?? [];
  const labels = [...new Set(configured.filter((l): l is string => typeof l === 'string' && l.trim().length > 0 && l.length <= 500).map((l) => l.trim()))].slice(0, 50);
  return { ratingMin: RATING_SCALE.min, ratingMax: RATING_SCALE.max, critiqueLabels: labels.length ? labels : DEFAULT_CRITIQUE_LABELS };
}

/**
 * The panel's title: "Round 3 · <run name>" for the pairs of a run's round (docs/human-loop.md; the run's name is its
 * spec's `name`, else its folder's), else "Label: <file name>".
 */
export function comparisonTitle(file: string): string {
  const r = pairsFileRound(file);
  if (!r) return vscode.l10n.t('Label: {0}', path.basename(file));
  let name = '';
  try {
    const spec = JSON.parse(fs.readFileSync(runPaths(r.runDir).spec, 'utf8')) as { name?: unknown };
    if (typeof spec.name === 'string') name = spec.name.trim();
  } catch {
    // A run folder without a readable spec.json is named by its folder.
  }
  return vscode.l10n.t('Round {0} · {1}', r.round, name || path.basename(r.runDir));
}

/** Decisions per minute over the last few decisions. */
class RateMeter {
  private readonly times: number[] = [];
  push(t = Date.now()): void {
    this.times.push(t);
    if (this.times.length > 20) this.times.shift();
  }
  pop(): void {
    this.times.pop();
  }
  perMinute(): number {
    if (this.times.length < 2) return 0;
    const span = this.times[this.times.length - 1] - this.times[0];
    return span > 0 ? ((this.times.length - 1) * 60_000) / span : 0;
  }
}

interface Loaded {
  readonly index: DatasetIndex;
  readonly scan: JsonlScanResult;
  readonly queue: ComparisonQueue;
}

/**
 * The comparison panel of one dataset file: shows one pair at a time (outputs in random left/right order) and
 * records comparisons, ratings, critiques, comments and flags into the dataset's feedback journal.
 */
export class ComparisonPanel extends Disposable {
  static readonly viewType = 'alignment.comparison';
  private static readonly panels = new Map<string, ComparisonPanel>();

  static createOrShow(extensionUri: vscode.Uri, file: vscode.Uri, options: ComparisonPanelOptions): ComparisonPanel {
    const existing = ComparisonPanel.panels.get(file.fsPath);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(ComparisonPanel.viewType, comparisonTitle(file.fsPath), vscode.ViewColumn.Active, webviewOptions(extensionUri));
    return new ComparisonPanel(panel, extensionUri, file, options);
  }

  /** Restores a panel after a window reload (its webview state holds the file). */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, state: unknown, options: ComparisonPanelOptions): void {
    const file = typeof state === 'object' && state !== null && typeof (state as { file?: unknown }).file === 'string' ? (state as { file: string }).file : undefined;
    if (!file || ComparisonPanel.panels.has(file)) {
      panel.dispose();
      return;
    }
    panel.webview.options = webviewOptions(extensionUri);
    panel.title = comparisonTitle(file);
    new ComparisonPanel(panel, extensionUri, vscode.Uri.file(file), options);
  }

  private readonly store: FeedbackStore;
  private readonly provider: StoreProvider | undefined;
  private readonly log: vscode.LogOutputChannel;
  private readonly inspector: RewardHeatSource | undefined;
  private readonly settings = labelingSettings();
  private readonly meter = new RateMeter();
  private loaded: Promise<Loaded> | undefined;
  private indexBuilt: Promise<DatasetIndex> | undefined;
  private ready = false;
  private current: QueuedPair | undefined;
  private notifying = false;
  /** Entry ids written by each user action of this panel (a rating of A and B is one action), newest last. */
  private readonly actions: { readonly ids: string[]; readonly what: string; readonly pair: QueuedPair }[] = [];

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    readonly file: vscode.Uri,
    options: ComparisonPanelOptions,
  ) {
    super();
    this.log = options.log;
    this.provider = options.stores;
    this.inspector = options.inspector;
    if (options.stores) {
      this.store = options.stores.get(file.fsPath);
      const changed = options.stores.onDidChange?.((dataset) => {
        if (path.resolve(dataset) === path.resolve(file.fsPath)) void this.onLabelsChangedElsewhere();
      });
      if (changed) this.register(changed);
    } else {
      this.store = openWindowStore(file.fsPath);
      this.register({ dispose: () => this.store.close() });
    }
    if (this.store.repair) this.log.warn(`Labels: repaired the end of ${this.store.journalPath} (${this.store.repair.kind}, ${this.store.repair.bytes} bytes)`);
    for (const p of this.store.problems) this.log.warn(`Labels: ${p.file}:${p.line}: ${p.message}`);
    ComparisonPanel.panels.set(file.fsPath, this);
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'comparison', panel.title);
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)));
    this.loaded = this.load();
  }

  override dispose(): void {
    if (ComparisonPanel.panels.get(this.file.fsPath) === this) ComparisonPanel.panels.delete(this.file.fsPath);
    super.dispose();
    this.panel.dispose();
  }

  private get fileName(): string {
    return path.basename(this.file.fsPath);
  }

  /** Indexes the file (newline scan only), then parses it all; the first pair can be shown in between. */
  private load(): Promise<Loaded> {
    const t0 = Date.now();
    const built = buildDatasetIndex(this.file.fsPath);
    this.indexBuilt = built;
    const loaded = built.then(async (index) => {
      const scan = await scanIndex(index);
      const queue = new ComparisonQueue(index, scan, () => this.store.view(), this.store.annotator);
      const errors = scan.diagnostics.filter((d) => d.severity === 'error').length;
      this.log.info(`Labels: indexed ${this.file.fsPath}: ${scan.records.length} records, ${scan.diagnostics.length} diagnostics, ${Date.now() - t0} ms`);
      for (const d of scan.diagnostics.slice(0, 50)) this.log.warn(`${d.file}:${d.line}${d.column ? `:${d.column}` : ''}: ${d.message}`);
      if (errors > 0) await this.status('error', errors > 1 ? vscode.l10n.t('{0} lines of {1} cannot be labeled as pairs (see the Alignment Studio log); they are skipped.', errors, this.fileName) : vscode.l10n.t('1 line of {0} cannot be labeled as a pair (see the Alignment Studio log); it is skipped.', this.fileName));
      return { index, scan, queue };
    });
    // Failures are reported where the promise is awaited; this only keeps them from counting as unhandled.
    built.catch(() => undefined);
    loaded.catch(() => undefined);
    return loaded;
  }

  /**
   * While the full parse runs, shows record 0 if it is a pair this annotator has not compared (its id is final:
   * a first occurrence keeps its id), so a large file's first pair is on screen after one newline scan.
   */
  private async showFirstEarly(): Promise<void> {
    const index = await this.indexBuilt;
    if (!index || this.current || index.count === 0) return;
    const first = index.readRecord(0, datasetChecks(index).checks);
    if (!first.ok || first.record.problems.length > 0 || this.hasMyComparison(first.record.id)) return;
    const p = pairOf(first.record.row);
    if (!p) return;
    const order: [string, string] = Math.random() < 0.5 ? ['chosen', 'rejected'] : ['rejected', 'chosen'];
    await this.show({ index: 0, line: first.record.line, recordId: first.record.id, prompt: p.prompt, order, texts: p.texts }, { done: 0, total: index.count });
  }

  private hasMyComparison(recordId: string): boolean {
    return this.store
      .view()
      .currentOfType(recordId, 'comparison')
      .some((e) => e.annotator === this.store.annotator && e.source === 'human');
  }

  private async onMessage(msg: unknown): Promise<void> {
    try {
      if (ComparisonReady.is(msg)) {
        this.ready = true;
        if (this.current) await this.show(this.current);
        else {
          await postToPanel(this.panel, ComparisonLoading.create({ file: this.file.fsPath, fileName: this.fileName, message: vscode.l10n.t('Indexing {0}…', this.fileName) }));
          await this.showFirstEarly().catch(() => undefined); // a read error surfaces from showNext below
          await this.showNext();
        }
      } else if (ComparisonDecide.is(msg)) {
        await this.onDecide(msg.params.recordId, msg.params.choice, msg.params.seconds);
      } else if (ComparisonUndo.is(msg)) {
        await this.onUndo();
      } else if (ComparisonRate.is(msg)) {
        const cur = this.expect(msg.params.recordId);
        if (!cur) return;
        const ids = msg.params.ratings.map((r) =>
          this.record(cur, 'rating', { target: this.key(cur, r.side), value: r.value, scale: { min: RATING_SCALE.min, max: RATING_SCALE.max } }, msg.params.seconds),
        );
        this.remember(ids.length > 1 ? 'ratings' : 'rating', cur, ids);
        await this.status('info', vscode.l10n.t('Rated {0}.', msg.params.ratings.map((r) => `${r.side} ${r.value}/${this.settings.ratingMax}`).join(', ')));
      } else if (ComparisonCritique.is(msg)) {
        const cur = this.expect(msg.params.recordId);
        if (!cur) return;
        const p = msg.params;
        const target = this.key(cur, p.side);
        const saved: string[] = [];
        const ids: string[] = [];
        if (p.acceptable !== undefined) {
          ids.push(this.record(cur, 'critique', { target, mode: 'binary', acceptable: p.acceptable }, p.seconds));
          saved.push(p.acceptable ? vscode.l10n.t('acceptable') : vscode.l10n.t('not acceptable'));
        }
        if (p.labels.length > 0) {
          ids.push(this.record(cur, 'critique', { target, mode: 'multi', labels: p.labels, labelSet: this.settings.critiqueLabels }, p.seconds));
          saved.push(p.labels.join(', '));
        }
        if (p.comment) {
          ids.push(this.record(cur, 'naturalLanguage', { target, text: p.comment }, p.seconds));
          saved.push(vscode.l10n.t('comment'));
        }
        this.remember('critique', cur, ids);
        await this.status('info', vscode.l10n.t('Critique of {0} saved: {1}.', p.side, saved.join('; ')));
      } else if (ComparisonFlag.is(msg)) {
        const cur = this.expect(msg.params.recordId);
        if (!cur) return;
        const p = msg.params;
        this.remember('flag', cur, [this.record(cur, 'eStop', { ...(p.side ? { target: this.key(cur, p.side) } : {}), ...(p.reason ? { reason: p.reason } : {}) }, p.seconds)]);
        await this.status('info', p.side ? vscode.l10n.t('Flagged output {0}.', p.side) : vscode.l10n.t('Flagged the whole record.'));
      } else if (ComparisonInspectReward.is(msg)) {
        const cur = this.current;
        const reply = cur?.recordId === msg.params.recordId && this.inspector
          ? await rewardHeatMessage(this.inspector, this.file.fsPath, cur)
          : ComparisonRewardHeatError.create({ recordId: msg.params.recordId, message: this.inspector ? vscode.l10n.t('That pair is no longer shown.') : vscode.l10n.t('Reward inspection is not available in this window.') });
        await postToPanel(this.panel, reply);
      } else if (ComparisonOpenRecord.is(msg)) {
        const doc = await vscode.workspace.openTextDocument(this.file);
        const pos = new vscode.Position(Math.min(msg.params.line - 1, doc.lineCount - 1), 0);
        await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos), viewColumn: vscode.ViewColumn.Beside, preview: true });
      } else {
        this.log.warn(`Comparison panel: ignored an invalid message from the webview: ${JSON.stringify(msg).slice(0, 200)}`);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.log.error(`Comparison panel (${this.file.fsPath}): ${message}`);
      await this.status('error', message);
    }
  }

  /** The current pair when `recordId` is the one shown; otherwise an error status (a stale message). */
  private expect(recordId: string): QueuedPair | undefined {
    if (this.current?.recordId === recordId) return this.current;
    void this.status('error', vscode.l10n.t('That pair is no longer shown; nothing was recorded.'));
    return undefined;
  }

  private key(cur: QueuedPair, side: Side): string {
    return side === 'A' ? cur.order[0] : cur.order[1];
  }

  private record<K extends FeedbackType>(cur: QueuedPair, type: K, payload: FeedbackInput<K>['payload'], seconds: number): string {
    const id = this.store.record({ recordId: cur.recordId, type, payload, seconds: Math.round(seconds * 1000) / 1000 }).id;
    this.notify();
    return id;
  }

  /** Tells the provider (and through it other views) that this panel wrote; ignores the echo. */
  private notify(): void {
    this.notifying = true;
    try {
      this.provider?.notify?.(this.file.fsPath);
    } finally {
      this.notifying = false;
    }
  }

  /** Another writer (inline labeling, another window) labeled: move on if the shown pair is now done. */
  private async onLabelsChangedElsewhere(): Promise<void> {
    if (this.notifying || !this.current || !this.ready) return;
    if (this.hasMyComparison(this.current.recordId)) {
      this.current = undefined;
      await this.showNext();
      await this.status('info', vscode.l10n.t('That pair was labeled elsewhere; here is the next one.'));
    }
  }

  private remember(what: string, pair: QueuedPair, ids: string[]): void {
    if (ids.length === 0) return;
    this.actions.push({ ids, what, pair });
    if (this.actions.length > 500) this.actions.shift();
  }

  private async onDecide(recordId: string, choice: 'A' | 'B' | 'tie' | 'skip', seconds: number): Promise<void> {
    const cur = this.expect(recordId);
    if (!cur) return;
    if (choice === 'skip') {
      (await this.loaded)?.queue.skip(cur.recordId);
    } else {
      const preferred = choice === 'tie' ? null : this.key(cur, choice);
      this.remember('comparison', cur, [this.record(cur, 'comparison', { mode: 'pair', order: [cur.order[0], cur.order[1]], preferred }, seconds)]);
      this.meter.push();
    }
    this.current = undefined;
    await this.showNext();
  }

  /**
   * Undoes this panel's last action (all entries it wrote, e.g. both ratings), or, when this panel has none left
   * (after a reload), this window's last journal entry. A comparison brings its pair back on screen.
   */
  private async onUndo(): Promise<void> {
    const action = this.actions.pop();
    let what: string;
    let recordId: string;
    let pair: QueuedPair | undefined;
    if (action) {
      for (const id of action.ids) this.store.retract(id);
      this.notify();
      what = action.what;
      recordId = action.pair.recordId;
      pair = action.what === 'comparison' ? action.pair : undefined;
      if (pair) (await this.loaded)?.queue.continueAfter(pair.recordId);
    } else {
      const r = this.store.undo();
      if (r) this.notify();
      if (!r) {
        await this.status('error', vscode.l10n.t('Nothing to undo from this window.'));
        return;
      }
      const undone = this.store.entries().find((e) => e.id === r.payload.entryId);
      what = undone ? (FRIENDLY[undone.type] ?? undone.type) : 'label';
      recordId = r.recordId;
      if (undone?.type === 'comparison') pair = (await this.loaded)?.queue.pair(undone.recordId);
    }
    if (pair) {
      this.meter.pop();
      await this.show(pair);
      await this.status('info', vscode.l10n.t('Undid the {0} of this pair; decide again.', decisionName(what)));
      return;
    }
    if (this.current) await this.show(this.current);
    else await this.showNext();
    await this.status('info', vscode.l10n.t('Undid the {0} on {1}.', decisionName(what), recordId));
  }

  private async showNext(): Promise<void> {
    let loaded: Loaded;
    try {
      loaded = await (this.loaded ?? (this.loaded = this.load()));
    } catch (e) {
      const message = `${this.file.fsPath}: ${e instanceof Error ? e.message : String(e)}`;
      this.log.error(`Comparison panel: ${message}`);
      this.loaded = undefined;
      await this.status('error', message);
      return;
    }
    if (loaded.index.isStale()) {
      this.log.info(`Labels: ${this.file.fsPath} changed on disk; re-indexing`);
      this.loaded = this.load();
      loaded = await this.loaded;
    }
    if (this.current) return; // already showing one (e.g. the first pair, shown while indexing)
    this.store.refresh(); // labels from other windows count too
    const next = loaded.queue.next();
    if (!next) {
      const progress = loaded.queue.progress();
      await postToPanel(this.panel, 
        ComparisonDone.create({
          file: this.file.fsPath,
          fileName: this.fileName,
          progress,
          message: progress.total === 0 ? vscode.l10n.t('{0} has no records with prompt, chosen and rejected to compare.', this.fileName) : vscode.l10n.t('All {0} pairs are labeled. Export them with "Alignment: Export Labels".', progress.total),
        }),
      );
      return;
    }
    await this.show(next, loaded.queue.progress());
  }

  private async show(p: QueuedPair, progress?: { done: number; total: number }): Promise<void> {
    this.current = p;
    if (!this.ready) return;
    const prog = progress ?? (await this.loaded)?.queue.progress() ?? { done: 0, total: 0 };
    const scores = this.scoresFor(p);
    await postToPanel(this.panel, 
      ComparisonShowPair.create({
        recordId: p.recordId,
        file: this.file.fsPath,
        fileName: this.fileName,
        line: p.line,
        prompt: p.prompt.map((t) => ({ role: t.role, content: t.content })),
        left: { text: p.texts[p.order[0]], ...(scores ? { score: scores.scores[p.order[0]] } : {}) },
        right: { text: p.texts[p.order[1]], ...(scores ? { score: scores.scores[p.order[1]] } : {}) },
        progress: prog,
        decisionsPerMinute: Math.round(this.meter.perMinute() * 10) / 10,
        ...(scores ? { scorer: scores.scorer } : {}),
        settings: this.settings,
      }),
    );
  }

  /** Reward scores from proxy-reward entries (e.g. a reward model's scores) that cover both outputs. */
  private scoresFor(p: QueuedPair): { scorer: string; scores: Record<string, number> } | undefined {
    const by = new Map<string, Record<string, number>>();
    for (const e of this.store.view().currentOfType(p.recordId, 'proxyReward')) {
      const s = by.get(e.payload.scorer) ?? {};
      s[e.payload.target] = e.payload.score;
      by.set(e.payload.scorer, s);
    }
    for (const [scorer, scores] of by) if (p.order.every((k) => scores[k] !== undefined)) return { scorer, scores };
    return undefined;
  }

  private async status(kind: 'info' | 'error', message: string): Promise<void> {
    if (this.ready) await postToPanel(this.panel, ComparisonStatus.create({ kind, message }));
  }
}

/**
 * Registers the comparison panel: the `alignment.labelPairs` command (argument: a dataset Uri, or the active
 * editor's file, or a picked file) and the serializer that restores open panels after a reload.
 */
export function registerComparisonPanel(context: vscode.ExtensionContext, options: ComparisonPanelOptions): vscode.Disposable {
  const pick = async (arg: unknown): Promise<vscode.Uri | undefined> => {
    if (arg instanceof vscode.Uri) return arg;
    if (typeof arg === 'object' && arg !== null && 'uri' in arg && (arg as { uri: unknown }).uri instanceof vscode.Uri) return (arg as { uri: vscode.Uri }).uri;
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active && active.scheme === 'file' && isDatasetPath(active.fsPath)) return active;
    return (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { [vscode.l10n.t('Datasets')]: ['jsonl', 'json'] }, openLabel: vscode.l10n.t('Label Pairs') }))?.[0];
  };
  return vscode.Disposable.from(
    vscode.commands.registerCommand('alignment.labelPairs', async (arg?: unknown) => {
      const uri = await pick(arg);
      if (!uri) return undefined;
      if (uri.scheme !== 'file') {
        void vscode.window.showErrorMessage(vscode.l10n.t('Labeling needs a file on disk; {0} is not one.', uri.toString()));
        return undefined;
      }
      rememberDataset(uri.fsPath);
      ComparisonPanel.createOrShow(context.extensionUri, uri, options);
      return uri;
    }),
    vscode.window.registerWebviewPanelSerializer(ComparisonPanel.viewType, {
      deserializeWebviewPanel: async (panel, state: unknown) => ComparisonPanel.revive(panel, context.extensionUri, state, options),
    }),
  );
}
