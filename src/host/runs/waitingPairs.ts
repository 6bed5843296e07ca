import * as vscode from 'vscode';
import { Disposable } from '../shared/lifecycle';
import type { ManagedRun, RunManager } from './runManager';
import { waitingBatches, type WaitingBatch } from '../../core/runs/rounds';

/** How often the waiting batches of live runs are re-read: labels arrive from any window, batches from the session. */
const POLL_MS = 1500;

/** "3 pairs waiting" / "1 pair waiting". */
export function waitingText(n: number): string {
  return n === 1 ? vscode.l10n.t('1 pair waiting') : vscode.l10n.t('{0} pairs waiting', n);
}

/**
 * The pairs runs "with a person" wait on (docs/human-loop.md): each run's waiting batches, re-read from its
 * `rounds/` folder while the run lives, so the status bar and the Runs view show "N pairs waiting" and a new
 * batch brings a notification that opens the comparison panel. Everything read here is on disk, so a reloaded
 * window shows the same batches; a batch this window already announced is not announced again.
 */
export class WaitingPairs extends Disposable {
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  readonly onDidChange = this.changed.event;
  private readonly byRun = new Map<string, readonly WaitingBatch[]>();
  /** `runId/round` of batches already announced in this window. */
  private readonly announced = new Set<string>();
  /** Problems already logged, so a bad file is reported once, not every poll. */
  private readonly reported = new Set<string>();
  private readonly item = this.register(vscode.window.createStatusBarItem('alignment.pairsWaiting', vscode.StatusBarAlignment.Left, 11));
  private readonly timer: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly runs: RunManager,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.item.name = vscode.l10n.t('Alignment pairs waiting for labels');
    this.item.command = 'alignment.labelWaitingPairs';
    this.register(runs.onDidChange(() => void this.poll()));
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.register({ dispose: () => clearInterval(this.timer) });
    void this.poll();
  }

  /** The run's waiting batches, oldest first (empty when it waits on nothing). */
  waiting(runId: string): readonly WaitingBatch[] {
    return this.byRun.get(runId) ?? [];
  }

  /** Pairs still without the person's label, over every run. */
  total(): number {
    let n = 0;
    for (const batches of this.byRun.values()) for (const b of batches) n += b.waiting;
    return n;
  }

  /** Opens the comparison panel on the run's oldest waiting batch (any run's when `runId` is undefined). */
  async openOldest(runId?: string): Promise<boolean> {
    const entries = runId ? [[runId, this.waiting(runId)] as const] : [...this.byRun.entries()];
    const batch = entries.flatMap(([, bs]) => bs.filter((b) => b.waiting > 0)).sort((a, b) => a.round - b.round)[0];
    if (!batch) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No pairs are waiting for your labels.'));
      return false;
    }
    await vscode.commands.executeCommand('alignment.labelPairs', vscode.Uri.file(batch.pairsFile));
    return true;
  }

  private async poll(): Promise<void> {
    if (this.busy || this.isDisposed) return;
    this.busy = true;
    try {
      const runs = await this.runs.list();
      let dirty = false;
      for (const run of runs) dirty = this.read(run) || dirty;
      for (const id of [...this.byRun.keys()]) {
        if (!runs.some((r) => r.id === id)) dirty = this.byRun.delete(id) || dirty;
      }
      if (dirty) {
        this.updateItem();
        this.changed.fire();
      }
    } finally {
      this.busy = false;
    }
  }

  /** Re-reads one run's batches; true when what it waits on changed. */
  private read(run: ManagedRun): boolean {
    let batches: WaitingBatch[] = [];
    try {
      batches = waitingBatches(run.dir);
    } catch (e) {
      const msg = `${run.id}: ${e instanceof Error ? e.message : String(e)}`;
      if (!this.reported.has(msg)) this.log.warn(`pairs waiting: ${msg}`);
      this.reported.add(msg);
    }
    const before = this.byRun.get(run.id) ?? [];
    const key = (bs: readonly WaitingBatch[]): string => bs.map((b) => `${b.round}:${b.waiting}/${b.pairs}`).join(',');
    if (key(before) === key(batches)) return false;
    this.byRun.set(run.id, batches);
    for (const b of batches) this.announce(run, b);
    return true;
  }

  private announce(run: ManagedRun, b: WaitingBatch): void {
    const id = `${run.id}/${b.round}`;
    if (this.announced.has(id) || b.waiting === 0) return;
    this.announced.add(id);
    const name = run.spec?.name || run.id;
    const due = b.deadline === null ? '' : ` ${vscode.l10n.t('The run stops waiting at {0}.', new Date(b.deadline).toLocaleTimeString())}`;
    void vscode.window.showInformationMessage(`${vscode.l10n.t('Run {0}, round {1}: {2} for your labels.', name, b.round, waitingText(b.waiting))}${due}`, vscode.l10n.t('Label Now')).then((a) => {
      if (a) void this.openOldest(run.id);
    });
  }

  private updateItem(): void {
    const n = this.total();
    if (n === 0) return void this.item.hide();
    const runs = [...this.byRun.entries()].filter(([, bs]) => bs.some((b) => b.waiting > 0));
    this.item.text = `$(comment-discussion) ${waitingText(n)}`;
    const lines = runs.map(([id, bs]) => `${id}: ${bs.map((b) => vscode.l10n.t('round {0}, {1}/{2} labeled', b.round, b.labeled, b.pairs)).join('; ')}`);
    this.item.tooltip = `${lines.join('\n')}\n${vscode.l10n.t('Click to label them.')}`;
    this.item.show();
  }
}
