import * as vscode from 'vscode';
import { Disposable } from '../shared/lifecycle';
import { webviewHtml, webviewOptions } from '../shared/webviewHtml';
import type { ManagedRun, RunManager } from './runManager';
import { EventTail } from '../../core/runs/eventTail';
import { runPaths } from '../../core/runs/layout';
import { canResume, describeDataLoss, etaSeconds } from '../../core/runs/runState';
import { seriesFromEvents } from '../../core/runs/metricSeries';
import { readTrainerState, trainerStateLabel, type TrainerStateRun } from '../../core/runs/trainerState';
import {
  DashboardAction,
  DashboardError,
  DashboardReady,
  DashboardRuns,
  DashboardSamples,
  DashboardSelect,
  DashboardSeries,
  type DashboardRunInfo,
} from '../../protocol/dashboard';
import { postToPanel } from '../shared/webviewPost';

const EXTERNAL = 'external:';
/** How often a shown external run's trainer_state.json is read again. */
const FOLLOW_MS = 3000;
/** How much of an events.jsonl one dashboard message carries at most. */
const POST_SLICE_BYTES = 2 * 1024 * 1024;

/** Flattens a spec to `a.b` -> scalar, for the hyperparameter diff. */
export function flattenSettings(x: unknown, prefix = '', out: Record<string, string | number | boolean> = {}): Record<string, string | number | boolean> {
  if (typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x))) out[prefix] = x;
  else if (Array.isArray(x)) out[prefix] = x.map((e) => String(e)).join(', ');
  else if (typeof x === 'object' && x !== null) for (const [k, e] of Object.entries(x)) flattenSettings(e, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

export function runInfo(r: ManagedRun): DashboardRunInfo {
  const s = r.state;
  const settings = r.spec ? flattenSettings({ ...r.spec, outputDir: undefined, version: undefined }) : {};
  const eta = etaSeconds(s);
  const errorText = [s.phase === 'failed' ? s.lastError?.detail : undefined, r.stderrTail].filter(Boolean).join('\n\n');
  return {
    id: r.id,
    label: r.spec?.name || r.id,
    method: r.spec?.method ?? s.started?.method ?? 'run',
    phase: s.phase,
    ...(s.detail ? { detail: s.detail } : {}),
    step: s.step,
    totalSteps: s.totalSteps,
    ...(eta !== undefined ? { etaSeconds: eta } : {}),
    settings,
    ...(errorText ? { errorText } : {}),
    ...(s.dataLoss ? { dataLoss: describeDataLoss(s.dataLoss) } : {}),
    ...(s.warningLines.length ? { warnings: [...s.warningLines] } : {}),
    ...(s.diverged ? { diverged: { step: s.diverged.step, message: s.diverged.message } } : {}),
    canStop: s.phase === 'running',
    canResume: canResume(s) && !!r.spec,
    canClone: !!r.spec,
  };
}

/**
 * The run dashboard: live plots of every metric of one or more runs (overlaid), sample generations per
 * checkpoint, and a hyperparameter diff. One panel; opening a run's dashboard shows that run in it. Each shown
 * run's events.jsonl is followed from the start, and only new points are posted as the run logs them.
 */
export class DashboardPanel extends Disposable {
  static readonly viewType = 'alignment.dashboard';
  private static current: DashboardPanel | undefined;
  /** External runs (trainer_state.json) opened in this window, by id. */
  /** External runs by id, with the path they were opened from (a folder is read again while it is followed). */
  private static readonly externals = new Map<string, TrainerStateRun & { label: string; source: string }>();

  /** Shows the dashboard with `runIds` (replacing what it showed, or added to it). */
  static createOrShow(extensionUri: vscode.Uri, runs: RunManager, log: vscode.LogOutputChannel, runIds: string[], add = false): DashboardPanel {
    const cur = DashboardPanel.current;
    if (cur) {
      cur.panel.reveal();
      cur.select(add ? [...new Set([...cur.selected, ...runIds])] : runIds);
      return cur;
    }
    const panel = vscode.window.createWebviewPanel(DashboardPanel.viewType, vscode.l10n.t('Run Dashboard'), vscode.ViewColumn.Active, webviewOptions(extensionUri));
    return new DashboardPanel(panel, extensionUri, runs, log, runIds);
  }

  /** Restores the panel after a window reload (its state holds the shown run ids). */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, state: unknown, runs: RunManager, log: vscode.LogOutputChannel): void {
    const ids = typeof state === 'object' && state !== null && Array.isArray((state as { selected?: unknown }).selected)
      ? ((state as { selected: unknown[] }).selected.filter((x) => typeof x === 'string' && !x.startsWith(EXTERNAL)) as string[])
      : [];
    panel.webview.options = webviewOptions(extensionUri);
    new DashboardPanel(panel, extensionUri, runs, log, ids);
  }

  /** Reads a trainer_state.json (or a folder holding one) and shows it in the dashboard beside what is shown. */
  static async openTrainerState(extensionUri: vscode.Uri, runs: RunManager, log: vscode.LogOutputChannel, path: string): Promise<string> {
    const st = await readTrainerState(path);
    for (const w of st.warnings) log.warn(`Trainer state ${st.file}: ${w}`);
    const id = `${EXTERNAL}${st.file}`;
    DashboardPanel.externals.set(id, { ...st, label: trainerStateLabel(st.file), source: path });
    log.info(`Trainer state ${st.file}: ${Object.keys(st.series).length} metrics up to step ${st.globalStep}`);
    DashboardPanel.createOrShow(extensionUri, runs, log, [id], true);
    return id;
  }

  private selected: string[];
  private readonly tails = new Map<string, EventTail>();
  private ready = false;
  private readonly dirty = new Set<string>();
  private listDirty = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> = Promise.resolve();

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly runs: RunManager,
    private readonly log: vscode.LogOutputChannel,
    runIds: string[],
  ) {
    super();
    DashboardPanel.current = this;
    this.selected = runIds;
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'dashboard', 'Run Dashboard');
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)));
    this.register(runs.onDidChange((id) => {
      this.listDirty = true;
      if (id && this.selected.includes(id)) this.dirty.add(id);
      this.schedule();
    }));
    this.register({ dispose: () => clearTimeout(this.flushTimer) });
    const follow = setInterval(() => void this.followExternals(), FOLLOW_MS);
    this.register({ dispose: () => clearInterval(follow) });
  }

  /**
   * Reads each shown external run again (a TRL run writing its output folder: a newer checkpoint, or the exported
   * script's trainer_state.json at each log) and redraws the ones whose state changed. A read that fails while
   * the trainer rewrites the file keeps what is shown.
   */
  private async followExternals(): Promise<void> {
    if (!this.ready || this.isDisposed) return;
    for (const id of this.selected) {
      const old = DashboardPanel.externals.get(id);
      if (!old) continue;
      const st = await readTrainerState(old.source).catch(() => undefined);
      if (!st || (st.file === old.file && st.globalStep === old.globalStep && JSON.stringify(st.series) === JSON.stringify(old.series))) continue;
      DashboardPanel.externals.set(id, { ...st, label: old.label, source: old.source });
      this.listDirty = true;
      this.pumping = this.pumping.then(() => this.pump(id, true));
      this.schedule();
    }
  }

  /** The run ids shown now (the first is the primary run). */
  get shown(): readonly string[] {
    return this.selected;
  }

  static get instance(): DashboardPanel | undefined {
    return DashboardPanel.current;
  }

  override dispose(): void {
    if (DashboardPanel.current === this) DashboardPanel.current = undefined;
    super.dispose();
    this.panel.dispose();
  }

  private schedule(): void {
    // At most ~4 updates a second: plots stay live without flooding the webview.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.pumping = this.pumping.then(() => this.flush());
    }, 250);
  }

  private async flush(): Promise<void> {
    if (!this.ready || this.isDisposed) return;
    if (this.listDirty) {
      this.listDirty = false;
      await this.postRuns();
    }
    const ids = [...this.dirty];
    this.dirty.clear();
    for (const id of ids) await this.pump(id, false);
  }

  private select(ids: string[]): void {
    this.selected = ids;
    for (const id of [...this.tails.keys()]) if (!ids.includes(id)) this.tails.delete(id);
    if (!this.ready) return;
    this.pumping = this.pumping.then(async () => {
      await this.postRuns();
      for (const id of ids) if (!this.tails.has(id)) await this.pump(id, true);
    });
  }

  private async postRuns(): Promise<void> {
    const infos: DashboardRunInfo[] = (await this.runs.list()).map(runInfo);
    for (const [id, st] of DashboardPanel.externals) {
      infos.push({
        id,
        label: `${st.label} (trainer_state.json)`,
        method: 'external',
        phase: 'external',
        step: st.globalStep,
        totalSteps: st.maxSteps,
        settings: st.settings,
        canStop: false,
        canResume: false,
        canClone: false,
      });
    }
    const known = new Set(infos.map((i) => i.id));
    await postToPanel(this.panel, DashboardRuns.create({ runs: infos, selected: this.selected.filter((id) => known.has(id)) }));
  }

  /** Posts a run's new points (all of them when `fresh`). */
  private async pump(id: string, fresh: boolean): Promise<void> {
    if (!this.selected.includes(id)) return;
    const ext = DashboardPanel.externals.get(id);
    if (ext) {
      if (fresh) {
        this.tails.set(id, new EventTail(''));
        await postToPanel(this.panel, DashboardSeries.create({ runId: id, reset: true, series: ext.series }));
        await postToPanel(this.panel, DashboardSamples.create({ runId: id, reset: true, sets: [] }));
      }
      return;
    }
    const run = this.runs.get(id);
    if (!run) {
      await postToPanel(this.panel, DashboardError.create({ message: vscode.l10n.t('No run "{0}" in this workspace.', id) }));
      return;
    }
    let tail = this.tails.get(id);
    let reset = fresh || !tail;
    if (!tail || fresh) {
      tail = new EventTail(runPaths(run.dir).events);
      this.tails.set(id, tail);
    }
    try {
      // A long run is posted a few MiB of events at a time: each message stays small enough to clone quickly, and
      // the webview draws the first part while the rest is read.
      for (let more = true; more; ) {
        const read = await tail.read(POST_SLICE_BYTES);
        more = read.more;
        reset ||= read.reset;
        if (!read.events.length && !reset) continue;
        const { series, samples } = seriesFromEvents(read.events);
        await postToPanel(this.panel, DashboardSeries.create({ runId: id, reset, series }));
        if (samples.length || reset) await postToPanel(this.panel, DashboardSamples.create({ runId: id, reset, sets: samples }));
        reset = false;
        if (this.isDisposed || this.tails.get(id) !== tail) return;
      }
    } catch (e) {
      const message = `${run.dir}: ${e instanceof Error ? e.message : String(e)}`;
      this.log.error(`Dashboard: ${message}`);
      await postToPanel(this.panel, DashboardError.create({ message }));
    }
  }

  private async onMessage(msg: unknown): Promise<void> {
    if (DashboardReady.is(msg)) {
      this.ready = true;
      this.tails.clear();
      this.select(this.selected);
    } else if (DashboardSelect.is(msg)) {
      this.select(msg.params.runIds);
    } else if (DashboardAction.is(msg)) {
      const { action, runId } = msg.params;
      const command = action === 'stop' ? 'alignment.stopRun' : action === 'resume' ? 'alignment.resumeRun' : 'alignment.cloneRun';
      await vscode.commands.executeCommand(command, runId);
    } else {
      this.log.warn(`Dashboard: ignored an invalid message from the webview: ${JSON.stringify(msg).slice(0, 200)}`);
    }
  }
}
