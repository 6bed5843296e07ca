import * as vscode from 'vscode';
import { Disposable } from '../shared/lifecycle';
import { isDataset } from './datasetScans';
import { LABELING_KEYS, LABELING_MODE_CONTEXT, keyLabel } from '../../core/feedback/labelingKeys';

/** ` (Alt+1 in labeling mode)`: the key of a labeling command, for a tooltip. */
export function keyHint(command: string): string {
  return ` (${vscode.l10n.t('{0} in labeling mode', keyLabel(command))})`;
}

/**
 * Labeling mode: while it is on, the labeling keys (`labelingKeys.ts`) act on the record under the cursor; while it
 * is off they are not bound and the editor's own shortcuts work. `alignment.toggleLabelingMode` switches it (from
 * the palette, the status bar or the first CodeLens of a dataset); the status bar shows it whenever a dataset is in
 * the active editor, or the mode is on.
 */
export class LabelingMode extends Disposable {
  private on = false;
  private readonly item = this.register(vscode.window.createStatusBarItem('alignment.labelingMode', vscode.StatusBarAlignment.Left, 20));
  private readonly changed = this.register(new vscode.EventEmitter<boolean>());
  readonly onDidChange = this.changed.event;

  constructor() {
    super();
    this.item.name = vscode.l10n.t('Alignment labeling mode');
    this.item.command = 'alignment.toggleLabelingMode';
    this.register(vscode.commands.registerCommand('alignment.toggleLabelingMode', (on?: unknown) => this.set(typeof on === 'boolean' ? on : !this.on)));
    this.register(vscode.window.onDidChangeActiveTextEditor(() => this.render()));
    void vscode.commands.executeCommand('setContext', LABELING_MODE_CONTEXT, false);
    this.render();
  }

  get active(): boolean {
    return this.on;
  }

  /** Turns the mode on or off; returns the new state (the command's result, for tests). */
  async set(on: boolean): Promise<boolean> {
    this.on = on;
    await vscode.commands.executeCommand('setContext', LABELING_MODE_CONTEXT, on);
    this.render();
    this.changed.fire(on);
    return on;
  }

  private render(): void {
    const doc = vscode.window.activeTextEditor?.document;
    if (!this.on && !(doc && isDataset(doc.uri))) {
      this.item.hide();
      return;
    }
    const keys = [keyLabel('alignment.labelA'), keyLabel('alignment.labelB'), keyLabel('alignment.labelTie')].join(' / ');
    this.item.text = this.on ? `$(keyboard) ${vscode.l10n.t('Labeling mode: {0} A / B / tie', keys)}` : `$(keyboard) ${vscode.l10n.t('Labeling keys off')}`;
    this.item.backgroundColor = this.on ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const table = LABELING_KEYS.map((k) => `${keyLabel(k.command)}: ${k.does}`).join('\n');
    this.item.tooltip = this.on
      ? `${vscode.l10n.t('Labeling mode is on: these keys label the record under the cursor. Click to turn it off and type normally.')}\n\n${table}`
      : vscode.l10n.t('Click to turn labeling mode on: {0} and the other labeling keys then label the record under the cursor.', keys);
    this.item.show();
  }
}
