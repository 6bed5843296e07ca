import * as vscode from 'vscode';
import { Disposable } from '../shared/lifecycle';
import type { RunManager } from './runManager';
import { etaSeconds, formatDuration } from '../../core/runs/runState';
import { phaseLabel, progressText } from './runsView';

/** A status-bar item while runs train: the newest running run's progress and ETA; click opens its dashboard. */
export class RunStatusBar extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('alignment.runStatus', vscode.StatusBarAlignment.Left, 10));

  constructor(private readonly runs: RunManager) {
    super();
    this.item.name = vscode.l10n.t('Alignment training run');
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
    this.item.text = `$(sync~spin) ${r.spec?.method ?? vscode.l10n.t('run')} ${progressText(r) || vscode.l10n.t('starting')}${eta !== undefined ? ` · ${vscode.l10n.t('ETA {0}', formatDuration(eta))}` : ''}${more}`;
    const others = running.length > 1 ? `\n${vscode.l10n.t('{0} runs are training', running.length)}` : '';
    this.item.tooltip = `${r.id}: ${phaseLabel(r.state.phase)}${others}\n${vscode.l10n.t('Click to open its dashboard.')}`;
    this.item.command = { command: 'alignment.openDashboard', title: vscode.l10n.t('Open Run Dashboard'), arguments: [r.id] };
    this.item.show();
  }
}
