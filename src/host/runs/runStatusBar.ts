import * as vscode from 'vscode';
import { Disposable } from '../shared/lifecycle';
import type { RunManager } from './runManager';
import { etaSeconds, formatDuration } from '../../core/runs/runState';
import { progressText } from './runsView';

/** A status-bar item while runs train: the newest running run's progress and ETA; click opens its dashboard. */
export class RunStatusBar extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('alignment.runStatus', vscode.StatusBarAlignment.Left, 10));

  constructor(private readonly runs: RunManager) {
    super();
    this.item.name = 'Alignment training run';
    this.register(runs.onDidChange(() => this.update()));
    this.update();
  }

  private update(): void {
    const running = this.runs.snapshot().filter((r) => r.state.phase === 'running');
    const r = running[0];
    if (!r) {
      this.item.hide();
      return;
    }
    const eta = etaSeconds(r.state);
    const more = running.length > 1 ? ` +${running.length - 1}` : '';
    this.item.text = `$(sync~spin) ${r.spec?.method ?? 'run'} ${progressText(r) || 'starting'}${eta !== undefined ? ` · ETA ${formatDuration(eta)}` : ''}${more}`;
    this.item.tooltip = `${r.id}: ${r.state.phase}${running.length > 1 ? `\n${running.length} runs are training` : ''}\nClick to open its dashboard.`;
    this.item.command = { command: 'alignment.openDashboard', title: 'Open Run Dashboard', arguments: [r.id] };
    this.item.show();
  }
}
