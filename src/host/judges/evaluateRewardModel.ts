import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { bundledCli, type JudgeFeature } from './judgeFeature';

/** Options of "Evaluate Reward Model" that skip the UI: scores files, or a reward model and held-out pairs to score. */
export interface EvaluateRewardModelPreset {
  readonly scores?: readonly string[];
  readonly model?: string;
  readonly data?: string;
  /** Whether `data` is held out from the model's training, for the panel to say (Evaluate on a run knows). */
  readonly heldOut?: { readonly status: 'held-out' | 'not-held-out' | 'unknown'; readonly text: string };
  /** Where to write the scores (default: beside the data, in .alignment/). */
  readonly out?: string;
}

/**
 * "Evaluate Reward Model": opens the evaluation panel on scores files (given, the command's `.jsonl` argument, or
 * picked), or on the scores of held-out pairs that a reward model gives in the CLI. Resolves to the scores file
 * shown first; undefined when the user backed out or scoring failed.
 */
export async function evaluateRewardModel(f: JudgeFeature, arg?: unknown, preset?: EvaluateRewardModelPreset): Promise<vscode.Uri | undefined> {
  let scoreFiles = preset?.scores?.map((s) => vscode.Uri.file(s));
  if (!scoreFiles && arg instanceof vscode.Uri && arg.fsPath.endsWith('.jsonl')) scoreFiles = [arg];
  if (!scoreFiles && !preset?.model) {
    const how = await vscode.window.showQuickPick(
      [
        { label: vscode.l10n.t('Score held-out pairs with a reward model'), detail: vscode.l10n.t('a reward model folder (HF sequence classification or a run\'s final/) and a preference dataset; runs the alignment CLI'), value: 'model' as const },
        { label: vscode.l10n.t('Open scores files'), detail: vscode.l10n.t('JSONL with chosen_reward / rejected_reward per pair; pick several to compare reward models and judges'), value: 'scores' as const },
      ],
      { placeHolder: vscode.l10n.t('Evaluate a reward model') },
    );
    if (!how) return undefined;
    if (how.value === 'scores') {
      scoreFiles = await pickScoresFiles();
      if (!scoreFiles?.length) return undefined;
    }
  }
  if (!scoreFiles) {
    const model = preset?.model ?? (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: vscode.l10n.t('Reward model folder') }))?.[0]?.fsPath;
    if (!model) return undefined;
    const data = preset?.data ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { [vscode.l10n.t('Preference pairs (JSON Lines)')]: ['jsonl'] }, openLabel: vscode.l10n.t('Held-out pairs') }))?.[0]?.fsPath;
    if (!data) return undefined;
    const out = preset?.out ?? path.join(path.dirname(data), '.alignment', `${path.basename(data, '.jsonl')}.${path.basename(model)}.scores.jsonl`);
    const ok = await scoreWithCli(f, model, data, out);
    if (!ok) return undefined;
    scoreFiles = [vscode.Uri.file(out)];
  }
  const [first, ...rest] = scoreFiles;
  await vscode.commands.executeCommand('alignment.showEvaluation', first, rest, preset?.heldOut);
  return first;
}

/** Scores files in the workspace (`*.scores.jsonl`, as the CLI writes them) to pick from; otherwise a file dialog. */
async function pickScoresFiles(): Promise<vscode.Uri[] | undefined> {
  const found = await vscode.workspace.findFiles('**/*.scores.jsonl', '**/{node_modules,.git}/**', 200);
  if (!found.length) return vscode.window.showOpenDialog({ canSelectMany: true, filters: { [vscode.l10n.t('Scores (JSON Lines)')]: ['jsonl'] }, openLabel: vscode.l10n.t('Evaluate') });
  const picked = await vscode.window.showQuickPick(
    found.map((u) => ({ label: path.basename(u.fsPath), description: vscode.workspace.asRelativePath(u), uri: u, picked: true })),
    { canPickMany: true, placeHolder: vscode.l10n.t('Scores files to evaluate: the first is shown, all are compared in the distance matrices') },
  );
  return picked?.map((p) => p.uri);
}

/**
 * Scores held-out pairs with a reward model in a child process (`dist/cli.js eval-rm`): the extension host never
 * loads the engine. Resolves to false after telling the user why when it fails or is cancelled.
 */
async function scoreWithCli(f: JudgeFeature, model: string, data: string, out: string): Promise<boolean> {
  const { log } = f;
  const cli = bundledCli(f.context);
  if (!cli) return false;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Scoring {0} with {1}', path.basename(data), path.basename(model)), cancellable: true }, (_p, token) =>
    new Promise<boolean>((resolve) => {
      const child = spawn(process.execPath, [cli, 'eval-rm', '--model', model, '--data', data, '--out', out, '--json'], {
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => log.info(`eval-rm: ${b.toString().trim()}`));
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        log.info(`eval-rm: ${b.toString().trim()}`);
      });
      const sub = token.onCancellationRequested(() => child.kill('SIGTERM'));
      child.on('error', (e) => {
        sub.dispose();
        void vscode.window.showErrorMessage(vscode.l10n.t('Could not start the alignment CLI: {0}', e.message));
        resolve(false);
      });
      child.on('close', (code) => {
        sub.dispose();
        if (code === 0) return resolve(true);
        if (!token.isCancellationRequested) void vscode.window.showErrorMessage(vscode.l10n.t('Scoring with {0} failed: {1}', path.basename(model), stderr.trim().split('\n').slice(-3).join(' ') || vscode.l10n.t('exit code {0}', String(code))));
        resolve(false);
      });
    }),
  );
}
