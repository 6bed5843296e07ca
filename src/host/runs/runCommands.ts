import * as vscode from 'vscode';
import { exportRunForTrl } from '../../core/export/exportRun';
import * as path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { runEvalRows } from '../../core/runs/evalSplit';
import { Disposable } from '../shared/lifecycle';
import { RunManager, type ManagedRun } from './runManager';
import { RunsView, RunItem, phaseLabel } from './runsView';
import { RunStatusBar } from './runStatusBar';
import { WaitingPairs } from './waitingPairs';
import { canResume, describeDataLoss, formatMetric, keyMetrics } from '../../core/runs/runState';
import { DashboardPanel } from './dashboardPanel';
import { LaunchPanel, loadSpecFile } from './launchPanel';
import { sessionEnvironment } from './sessionEnv';
import type { DatasetsView } from '../datasets/datasetsView';

/** Resolves a command argument (a Runs view item, a run id, or nothing: ask) to a run id. */
async function pickRun(runs: RunManager, arg: unknown, placeHolder: string, filter: (r: ManagedRun) => boolean = () => true): Promise<string | undefined> {
  if (arg instanceof RunItem) return arg.run.id;
  if (typeof arg === 'string') return arg;
  const candidates = (await runs.list()).filter(filter);
  if (!candidates.length) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No run fits: start one with "Alignment: Start Training Run".'));
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((r) => ({ label: r.spec?.name || r.id, description: `${phaseLabel(r.state.phase)}${r.spec ? ` · ${r.spec.method}` : ''}`, id: r.id })),
    { placeHolder },
  );
  return picked?.id;
}

function requireTrust(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(vscode.l10n.t('Training runs are disabled in an untrusted workspace. Trust the workspace to start or resume runs.'), vscode.l10n.t('Manage Workspace Trust')).then((a) => {
    if (a) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  return false;
}

/**
 * The Runs feature: the run manager, the Runs view, the status-bar item, end-of-run notifications, and the run
 * commands (refresh, stop, resume, open spec).
 */
export class RunsFeature extends Disposable {
  readonly manager: RunManager;
  readonly view: RunsView;
  /** Pairs that runs "with a person" wait on (status bar, Runs view, notifications). */
  readonly waitingPairs: WaitingPairs;
  private readonly ext: vscode.Uri;
  private readonly workspaceDir: string | undefined;

  constructor(
    context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly datasets?: DatasetsView,
  ) {
    super();
    this.ext = context.extensionUri;
    LaunchPanel.storageDir = context.globalStorageUri.fsPath;
    this.workspaceDir = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    this.manager = this.register(new RunManager({
      workspaceDir: this.workspaceDir,
      sessionScript: vscode.Uri.joinPath(context.extensionUri, 'dist', 'session.js').fsPath,
      nodePath: process.execPath,
      log,
      sessionEnv: () => sessionEnvironment(context.secrets),
    }));
    this.waitingPairs = this.register(new WaitingPairs(this.manager, log));
    this.view = this.register(new RunsView(this.manager, this.waitingPairs));
    this.register(vscode.window.createTreeView(RunsView.id, { treeDataProvider: this.view }));
    this.register(new RunStatusBar(this.manager));
    if (!this.workspaceDir) void vscode.commands.executeCommand('setContext', 'alignment.runsEmpty', false);
    this.register(this.manager.onDidEnd((r) => void this.notify(r)));
    this.watchDivergence();
    this.registerRunCommands();
    this.registerLaunchCommands();
    this.registerDashboardCommands();
    void this.manager.refresh();
  }

  /** An error handler that logs and shows `what` failed. */
  private fail(what: string): (e: unknown) => void {
    return (e) => {
      const msg = e instanceof Error ? e.message : String(e);
      this.log.error(`${what}: ${msg}`);
      void vscode.window.showErrorMessage(`${what}: ${msg}`);
    };
  }

  private command(id: string, run: (...args: unknown[]) => unknown): void {
    this.register(vscode.commands.registerCommand(id, run));
  }

  /** Commands on existing runs: refresh, stop, resume, open spec, reveal folder. */
  private registerRunCommands(): void {
    const runs = this.manager;
    this.command('alignment.refreshRuns', () => this.view.refresh());
    this.command('alignment.stopRun', async (arg?: unknown) => {
      const id = await pickRun(runs, arg, vscode.l10n.t('Stop which run?'), (r) => r.state.phase === 'running');
      if (id) await runs.stop(id).catch(this.fail(vscode.l10n.t('Stop run')));
    });
    this.command('alignment.resumeRun', async (arg?: unknown) => {
      if (!requireTrust()) return;
      const id = await pickRun(runs, arg, vscode.l10n.t('Resume which run?'), (r) => !!r.spec && canResume(r.state));
      if (id) await runs.resume(id).catch(this.fail(vscode.l10n.t('Resume run')));
    });
    this.command('alignment.deleteRun', async (arg?: unknown) => {
      const id = await pickRun(runs, arg, vscode.l10n.t('Delete which run?'), (r) => r.state.phase !== 'running');
      const run = id ? runs.get(id) : undefined;
      if (!id || !run) return;
      const del = vscode.l10n.t('Delete');
      const ok = await vscode.window.showWarningMessage(vscode.l10n.t('Delete run {0}? Its folder ({1}) with its checkpoints and final model is removed.', run.spec?.name || id, vscode.workspace.asRelativePath(run.dir, false)), { modal: true }, del);
      if (ok === del) await runs.delete(id).catch(this.fail(vscode.l10n.t('Delete run')));
    });
    this.command('alignment.clearFailedRuns', () => this.clearFailed());
    this.command('alignment.evaluateRun', async (arg?: unknown) => {
      const id = await pickRun(runs, arg, vscode.l10n.t('Evaluate which reward-model run?'), (r) => r.state.phase === 'finished' && (r.spec?.method === 'reward' || r.spec?.method === 'reward-regression'));
      const run = id ? runs.get(id) : undefined;
      if (run) await this.evaluate(run).catch(this.fail(vscode.l10n.t('Evaluate run')));
    });
    this.command('alignment.openRunSpec', async (arg?: unknown) => {
      const id = await pickRun(runs, arg, vscode.l10n.t('Open the spec of which run?'));
      const run = id ? runs.get(id) : undefined;
      if (run) await vscode.window.showTextDocument(vscode.Uri.file(path.join(run.dir, 'spec.json')));
    });
    this.command('alignment.labelWaitingPairs', async (arg?: unknown) => {
      const id = arg instanceof RunItem ? arg.run.id : typeof arg === 'string' ? arg : undefined;
      return this.waitingPairs.openOldest(id);
    });
    this.command('alignment.exportRunForTrl', (arg?: unknown) => this.exportForTrl(arg));
    this.command('alignment.revealRunFolder', async (arg?: unknown) => {
      const id = await pickRun(runs, arg, vscode.l10n.t('Reveal which run folder?'));
      const run = id ? runs.get(id) : undefined;
      if (run) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(run.dir));
    });
  }

  /** Writes a run's TRL export folder (src/core/export) where the user picks, then opens its README. */
  private async exportForTrl(arg: unknown): Promise<void> {
    const id = await pickRun(this.manager, arg, vscode.l10n.t('Export which run for TRL?'), (r) => !!r.spec);
    const run = id ? this.manager.get(id) : undefined;
    if (!run || !this.workspaceDir) return;
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: vscode.l10n.t('Export here'), title: vscode.l10n.t('A folder for the TRL export of {0}', run.spec?.name || run.id), defaultUri: vscode.Uri.file(this.workspaceDir) });
    const parent = picked?.[0]?.fsPath;
    if (!parent) return;
    const out = path.join(parent, `trl-${run.id}`);
    try {
      await exportRunForTrl(run.dir, out, { baseDir: this.workspaceDir });
    } catch (e) {
      return this.fail(vscode.l10n.t('Export run for TRL'))(e);
    }
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(out, 'README.md')));
  }

  /**
   * Evaluate on a reward-model run: its final model scored on the run's own eval split (the pairs it never trained
   * on, split again from its data file exactly as the session split it), and the panel says they are held out. A
   * run without an eval split trained on every pair: the user picks other data, or its training data, which the
   * panel then calls not held out.
   */
  private async evaluate(run: ManagedRun): Promise<void> {
    const spec = run.spec;
    if (!spec || !this.workspaceDir) return;
    const name = spec.name || run.id;
    const model = path.join(run.dir, 'final');
    const out = path.join(run.dir, 'eval-split.scores.jsonl');
    if (spec.data.evalSplit > 0) {
      const { rows, train } = await runEvalRows(spec, this.workspaceDir);
      if (!rows.length) return void vscode.window.showWarningMessage(vscode.l10n.t('Run {0}: its eval split has no preference pairs to score.', name));
      const data = path.join(run.dir, 'eval-split.pairs.jsonl');
      await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
      const heldOut = { status: 'held-out' as const, text: vscode.l10n.t('Held out: run {0}\'s own eval split, {1} pairs it never trained on (it trained on the other {2}), split again from {3} with the run\'s seed and evalSplit {4}.', name, rows.length, train, spec.data.path, spec.data.evalSplit) };
      await vscode.commands.executeCommand('alignment.evaluateRewardModel', undefined, { model, data, heldOut, out });
      return;
    }
    const other = vscode.l10n.t('Pick Other Pairs…');
    const own = vscode.l10n.t('Its Training Data (not held out)');
    const a = await vscode.window.showWarningMessage(vscode.l10n.t('Run {0} has no eval split (data.evalSplit 0): every pair of {1} trained it, so none is held out.', name, spec.data.path), other, own);
    if (a === other) await vscode.commands.executeCommand('alignment.evaluateRewardModel', undefined, { model });
    if (a === own) {
      const heldOut = { status: 'not-held-out' as const, text: vscode.l10n.t('Not held out: run {0} trained on every one of these pairs ({1}, no eval split). Accuracy here measures fit, not generalization.', name, spec.data.path) };
      await vscode.commands.executeCommand('alignment.evaluateRewardModel', undefined, { model, data: path.resolve(this.workspaceDir, spec.data.path), heldOut, out });
    }
  }

  /** Deletes every failed run's folder, after one confirmation that names how many. */
  private async clearFailed(): Promise<void> {
    const failed = (await this.manager.list()).filter((r) => r.state.phase === 'failed');
    if (!failed.length) return void vscode.window.showInformationMessage(vscode.l10n.t('No failed runs to clear.'));
    const names = `${failed.slice(0, 5).map((r) => r.spec?.name || r.id).join(', ')}${failed.length > 5 ? ', …' : ''}`;
    const del = vscode.l10n.t('Delete');
    const question = failed.length === 1 ? vscode.l10n.t('Delete 1 failed run ({0}) with its folder?', names) : vscode.l10n.t('Delete {0} failed runs ({1}) with their folders?', failed.length, names);
    if ((await vscode.window.showWarningMessage(question, { modal: true }, del)) !== del) return;
    for (const r of failed) await this.manager.delete(r.id).catch(this.fail(vscode.l10n.t('Delete run {0}', r.id)));
  }

  /**
   * Offers to stop a training run the first time it looks diverged (once per run and window): the weights may
   * be ruined, and every further step costs time.
   */
  private watchDivergence(): void {
    const offered = new Set<string>();
    this.register(this.manager.onDidChange((id) => {
      const r = id ? this.manager.get(id) : undefined;
      const d = r?.state.diverged;
      if (!r || !d || r.state.phase !== 'running' || offered.has(r.id)) return;
      offered.add(r.id);
      const stop = vscode.l10n.t('Stop Run');
      const open = vscode.l10n.t('Open Dashboard');
      void vscode.window.showWarningMessage(vscode.l10n.t('Run {0} diverged? at step {1}: {2}', r.spec?.name || r.id, d.step, d.message), stop, open).then(async (a) => {
        if (a === stop) await this.manager.stop(r.id).catch(this.fail(vscode.l10n.t('Stop run')));
        if (a === open) await vscode.commands.executeCommand('alignment.openDashboard', r.id);
      });
    }));
  }

  /** Commands that start runs: the launch form, a spec file, a clone of a run. */
  private registerLaunchCommands(): void {
    const { manager: runs, ext, datasets, log } = this;
    // `{ method }` (the walkthrough's buttons) opens the form with that method selected.
    this.command('alignment.startRun', (arg?: unknown) => {
      if (!requireTrust()) return;
      if (!this.workspaceDir) return void vscode.window.showWarningMessage(vscode.l10n.t('Open a folder first: training runs are kept in the workspace (.alignment/runs).'));
      const method = typeof arg === 'object' && arg !== null && typeof (arg as { method?: unknown }).method === 'string' ? (arg as { method: string }).method : undefined;
      LaunchPanel.createOrShow(ext, runs, datasets, log, method ? { method } : undefined);
    });
    this.command('alignment.startRunFromSpec', (arg?: unknown) => this.startFromSpec(arg));
    this.command('alignment.cloneRun', async (arg?: unknown) => {
      const id = await pickRun(runs, arg, vscode.l10n.t('Clone which run?'), (r) => !!r.spec);
      const run = id ? runs.get(id) : undefined;
      if (!run?.spec) return;
      const spec: Record<string, unknown> = JSON.parse(JSON.stringify(run.spec)) as Record<string, unknown>;
      delete spec.outputDir;
      spec.name = vscode.l10n.t('{0} (copy)', run.spec.name || run.id);
      LaunchPanel.createOrShow(ext, runs, datasets, log, spec, `run ${run.id}`);
    });
  }

  /** Starts a run from a spec file; a spec with problems opens in the launch form, where each field can be fixed. */
  private async startFromSpec(arg: unknown): Promise<void> {
    const { manager: runs, ext, datasets, log, workspaceDir } = this;
    if (!requireTrust()) return;
    if (!workspaceDir) return void vscode.window.showWarningMessage(vscode.l10n.t('Open a folder first: training runs are kept in the workspace (.alignment/runs).'));
    const uri = arg instanceof vscode.Uri ? arg : (await vscode.window.showOpenDialog({ canSelectFiles: true, filters: { [vscode.l10n.t('Run spec')]: ['json'] }, openLabel: vscode.l10n.t('Start this spec'), defaultUri: vscode.Uri.file(workspaceDir) }))?.[0];
    if (!uri) return;
    const loaded = await loadSpecFile(uri.fsPath);
    if ('error' in loaded) return void vscode.window.showErrorMessage(loaded.error);
    const r = await runs.start(loaded.spec).catch((e: unknown) => {
      this.fail(vscode.l10n.t('Start run'))(e);
      return undefined;
    });
    if (!r) return;
    if (!r.ok) {
      LaunchPanel.createOrShow(ext, runs, datasets, log, loaded.spec, vscode.workspace.asRelativePath(uri, false));
      void vscode.window.showErrorMessage(`${vscode.workspace.asRelativePath(uri, false)}: ${r.problems.map((p) => `${p.path || 'spec'}: ${p.reason}`).join('; ')}`);
      return;
    }
    DashboardPanel.createOrShow(ext, runs, log, [r.id]);
  }

  /** The dashboard: one run, several runs overlaid, a Transformers/TRL output folder; and its restore after a reload. */
  private registerDashboardCommands(): void {
    const { manager: runs, ext, log, workspaceDir } = this;
    this.command('alignment.openDashboard', async (arg?: unknown) => {
      const id = await pickRun(runs, arg, vscode.l10n.t('Show which run?'));
      if (id) DashboardPanel.createOrShow(ext, runs, log, [id]);
    });
    this.command('alignment.compareRuns', async () => {
      const all = await runs.list();
      const picked = await vscode.window.showQuickPick(all.map((r) => ({ label: r.spec?.name || r.id, description: `${phaseLabel(r.state.phase)}${r.spec ? ` · ${r.spec.method}` : ''}`, id: r.id })), { canPickMany: true, placeHolder: vscode.l10n.t('Runs to overlay in the dashboard') });
      if (picked?.length) DashboardPanel.createOrShow(ext, runs, log, picked.map((p) => p.id));
    });
    this.command('alignment.openTrainerState', async (arg?: unknown) => {
      const uri = arg instanceof vscode.Uri ? arg : (await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, openLabel: vscode.l10n.t('Plot this run'), title: vscode.l10n.t('A Transformers/TRL output folder, checkpoint folder or trainer_state.json'), defaultUri: workspaceDir ? vscode.Uri.file(workspaceDir) : undefined }))?.[0];
      if (uri) await DashboardPanel.openTrainerState(ext, runs, log, uri.fsPath).catch(this.fail(vscode.l10n.t('Open trainer state')));
    });
    this.register(vscode.window.registerWebviewPanelSerializer(DashboardPanel.viewType, {
      deserializeWebviewPanel: async (panel, state: unknown) => DashboardPanel.revive(panel, ext, state, runs, log),
    }));
  }

  private async notify(r: ManagedRun): Promise<void> {
    const name = r.spec?.name || r.id;
    const metrics = keyMetrics(r.state, 3).map(([k, x]) => `${k} ${formatMetric(x)}`).join(', ');
    if (r.state.phase === 'failed') {
      const [open, showLog] = [vscode.l10n.t('Open Dashboard'), vscode.l10n.t('Show Log')];
      const a = await vscode.window.showErrorMessage(vscode.l10n.t('Run {0} failed: {1}', name, r.state.detail ?? vscode.l10n.t('unknown error')), open, showLog);
      if (a === open) await vscode.commands.executeCommand('alignment.openDashboard', r.id);
      if (a === showLog) await vscode.commands.executeCommand('alignment.showLog');
    } else if (r.state.phase === 'finished' || r.state.phase === 'stopped') {
      // A run that diverged ends as a warning: its final model may be ruined.
      const diverged = r.state.diverged ? vscode.l10n.t(' (diverged? at step {0}: {1})', r.state.diverged.step, r.state.diverged.message) : '';
      const lost = describeDataLoss(r.state.dataLoss);
      const data = lost.length ? vscode.l10n.t('. Data left out: {0}', lost.join('; ')) : '';
      const ended = r.state.phase === 'stopped' ? vscode.l10n.t('Run {0} stopped at step {1}', name, r.state.step) : vscode.l10n.t('Run {0} finished at step {1}', name, r.state.step);
      const text = `${ended}${metrics ? `: ${metrics}` : ''}${diverged}${data}`;
      const open = vscode.l10n.t('Open Dashboard');
      const a = r.state.diverged ? await vscode.window.showWarningMessage(text, open) : await vscode.window.showInformationMessage(text, open);
      if (a) await vscode.commands.executeCommand('alignment.openDashboard', r.id);
    }
  }
}
