import * as vscode from 'vscode';
import { Disposable } from '../shared/lifecycle';
import type { ManagedRun, RunManager } from './runManager';
import { canResume, etaSeconds, formatDuration, formatMetric, keyMetrics, type RunPhase } from '../../core/runs/runState';
import { waitingText, type WaitingPairs } from './waitingPairs';

const PHASE_ICON: Record<RunPhase, vscode.ThemeIcon> = {
  pending: new vscode.ThemeIcon('clock'),
  running: new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('charts.blue')),
  finished: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  stopped: new vscode.ThemeIcon('debug-pause', new vscode.ThemeColor('charts.yellow')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
};

/** A run phase as the user reads it (the phase names are also context values and stay English there). */
export function phaseLabel(phase: RunPhase): string {
  const labels: Record<RunPhase, string> = {
    pending: vscode.l10n.t('pending'),
    running: vscode.l10n.t('running'),
    finished: vscode.l10n.t('finished'),
    stopped: vscode.l10n.t('stopped'),
    failed: vscode.l10n.t('failed'),
  };
  return labels[phase];
}

/** A run's progress in a few characters: `40/100 (40%)`. */
export function progressText(run: ManagedRun): string {
  const s = run.state;
  if (s.totalSteps <= 0) return s.step ? vscode.l10n.t('step {0}', s.step) : '';
  return `${s.step}/${s.totalSteps} (${Math.floor((100 * s.step) / s.totalSteps)}%)`;
}

/**
 * The context value's suffixes (package.json menus match them): `.resumable` where resuming can work, `.rm` for a
 * finished reward-model run (Evaluate).
 */
export function runContextFlags(run: ManagedRun): string {
  const rm = run.state.phase === 'finished' && (run.spec?.method === 'reward' || run.spec?.method === 'reward-regression');
  return `${run.spec && canResume(run.state) ? '.resumable' : ''}${rm ? '.rm' : ''}`;
}

export class RunItem extends vscode.TreeItem {
  constructor(readonly run: ManagedRun, waitingPairs = 0) {
    super(run.spec?.name || run.id, vscode.TreeItemCollapsibleState.Collapsed);
    const s = run.state;
    this.id = `run:${run.id}`;
    // A run that diverged is not shown as passing or plainly running: "diverged?" with the step, from the event on.
    const diverged = s.diverged && (s.phase === 'finished' || s.phase === 'running' || s.phase === 'stopped') ? vscode.l10n.t('diverged? (step {0})', s.diverged.step) : undefined;
    this.iconPath = diverged ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('charts.yellow')) : PHASE_ICON[s.phase];
    this.contextValue = `alignment.run.${s.phase}${runContextFlags(run)}`;
    const parts = [s.phase === 'running' ? progressText(run) : phaseLabel(s.phase), diverged, ...keyMetrics(s, 2).map(([k, x]) => `${k.replace(/^rewards\//, '')} ${formatMetric(x)}`)];
    const eta = etaSeconds(s);
    if (eta !== undefined) parts.push(vscode.l10n.t('ETA {0}', formatDuration(eta)));
    if (waitingPairs > 0) parts.unshift(waitingText(waitingPairs));
    this.description = parts.filter(Boolean).join(' · ');
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**${escapeMd(run.spec?.name || run.id)}** — ${phaseLabel(s.phase)}${s.detail ? `: ${escapeMd(s.detail)}` : ''}\n\n`);
    if (run.spec) md.appendMarkdown(`${run.spec.method} · ${run.spec.model.kind === 'builtin' ? vscode.l10n.t('built-in model') : escapeMd(run.spec.model.path)} · ${run.spec.device}${s.started ? ` (${s.started.device})` : ''}\n\n`);
    md.appendMarkdown(`${escapeMd(progressText(run))}\n\n`);
    if (s.diverged) md.appendMarkdown(`${vscode.l10n.t('**Diverged?** at step {0}: {1}', s.diverged.step, escapeMd(s.diverged.message))}\n\n`);
    for (const [k, x] of keyMetrics(s, 6)) md.appendMarkdown(`- ${escapeMd(k)}: ${formatMetric(x)}\n`);
    if (run.stderrTail) md.appendCodeblock(run.stderrTail.split('\n').slice(-12).join('\n'), 'text');
    this.tooltip = md;
    this.command = { command: 'alignment.openDashboard', title: vscode.l10n.t('Open Run Dashboard'), arguments: [run.id] };
  }
}

class RunDetailItem extends vscode.TreeItem {
  constructor(label: string, description: string, icon: string, tooltip?: string, command?: vscode.Command) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.description = description;
    this.iconPath = new vscode.ThemeIcon(icon);
    if (tooltip) this.tooltip = tooltip;
    if (command) this.command = command;
    this.contextValue = 'alignment.runDetail';
  }
}

type RunNode = RunItem | RunDetailItem;

/**
 * The Runs view: every run in the workspace's `.alignment/runs`, newest first, with a status icon, its
 * progress and key metrics; expanding a run lists its latest metrics, its last checkpoint and why it stopped.
 */
export class RunsView extends Disposable implements vscode.TreeDataProvider<RunNode> {
  static readonly id = 'alignment.runs';
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly runs: RunManager,
    private readonly waitingPairs?: WaitingPairs,
  ) {
    super();
    // Coalesce bursts of run updates into one repaint per 250 ms.
    const repaint = (): void => {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.changed.fire();
      }, 250);
    };
    this.register(runs.onDidChange(repaint));
    if (waitingPairs) this.register(waitingPairs.onDidChange(repaint));
    this.register({ dispose: () => clearTimeout(this.timer) });
  }

  refresh(): Promise<void> {
    return this.runs.refresh();
  }

  getTreeItem(e: RunNode): vscode.TreeItem {
    return e;
  }

  async getChildren(e?: RunNode): Promise<RunNode[]> {
    if (!e) return (await this.runs.list()).map((r) => new RunItem(r, this.waitingCount(r.id)));
    if (!(e instanceof RunItem)) return [];
    const run = this.runs.get(e.run.id) ?? e.run;
    const s = run.state;
    const out: RunNode[] = [];
    for (const b of this.waitingPairs?.waiting(run.id) ?? []) {
      if (b.waiting > 0) out.push(new RunDetailItem(vscode.l10n.t('round {0}', b.round), vscode.l10n.t('{0} · {1}/{2} labeled', waitingText(b.waiting), b.labeled, b.pairs), 'comment-discussion', vscode.l10n.t('Click to label them in the comparison panel.'), { command: 'alignment.labelWaitingPairs', title: vscode.l10n.t('Label Waiting Pairs'), arguments: [run.id] }));
    }
    if (s.detail) out.push(new RunDetailItem(s.phase === 'failed' ? vscode.l10n.t('error') : vscode.l10n.t('status'), s.detail, s.phase === 'failed' ? 'error' : 'info', [s.detail, s.lastError?.detail, run.stderrTail].filter(Boolean).join('\n\n')));
    if (run.specProblems.length) out.push(new RunDetailItem(vscode.l10n.t('spec'), run.specProblems.map((p) => `${p.path || 'spec.json'}: ${p.reason}`).join('; '), 'warning'));
    if (run.spec) out.push(new RunDetailItem(vscode.l10n.t('method'), `${run.spec.method} · ${run.spec.model.kind === 'builtin' ? vscode.l10n.t('built-in model') : run.spec.model.path} · ${s.started?.device ?? run.spec.device}`, 'beaker'));
    for (const [k, x] of Object.entries(s.metrics)) out.push(new RunDetailItem(k, formatMetric(x), 'graph-line'));
    for (const [k, x] of Object.entries(s.evalMetrics)) out.push(new RunDetailItem(k, formatMetric(x), 'graph-line'));
    if (s.latestCheckpoint) out.push(new RunDetailItem(vscode.l10n.t('checkpoint'), vscode.l10n.t('step {0}: {1}', s.latestCheckpoint.step, s.latestCheckpoint.path), 'save'));
    return out;
  }

  private waitingCount(runId: string): number {
    return (this.waitingPairs?.waiting(runId) ?? []).reduce((n, b) => n + b.waiting, 0);
  }
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
