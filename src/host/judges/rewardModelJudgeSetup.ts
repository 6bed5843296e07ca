import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AiSource, LabelJobResult, LabelSink, PairItem } from '../../core/judges/labelJob';
import { RewardModelJudge, rewardModelDisplayName, rewardModelJudgeName, rewardModelRuns } from '../../core/judges/rewardModelJudge';
import { bundledCli, errorMessage, type JudgeFeature } from './judgeFeature';

/** What the reward-model judge takes from an "AI-Label Dataset" preset. */
export interface RewardModelPreset {
  /** For `reward-model`: a reward model folder (HF sequence classification) or a run folder with `final/`. */
  readonly rewardModel?: string;
  /** For `reward-model`: the name in its labels' source, `ai:rm:<name>` (default: the folder's or run's name). */
  readonly rewardModelName?: string;
}

/**
 * The reward model to judge `file`'s pairs with: the preset's, a finished reward-model run of the workspace (its
 * `final/` folder), or a folder the user picks. It scores in the bundled CLI's process. Undefined when the user
 * backed out or the folder is not a model.
 */
export async function rewardModelJudgeFor(f: JudgeFeature, file: string, preset: RewardModelPreset | undefined): Promise<RewardModelJudge | undefined> {
  const { log } = f;
  const chosen = preset?.rewardModel ? { dir: preset.rewardModel, name: preset.rewardModelName } : await pickRewardModel(f, file, preset?.rewardModelName);
  if (!chosen) return undefined;
  const { dir, name } = chosen;
  const modelDir = fs.existsSync(path.join(dir, 'config.json')) || !fs.existsSync(path.join(dir, 'final', 'config.json')) ? dir : path.join(dir, 'final');
  if (!fs.existsSync(path.join(modelDir, 'config.json'))) {
    const m = `${modelDir} is not a reward model folder: it has no config.json (expected a Hugging Face sequence-classification folder or a run folder with final/).`;
    log.error(`AI labeling: ${m}`);
    void vscode.window.showErrorMessage(m);
    return undefined;
  }
  const cli = bundledCli(f.context);
  if (!cli) return undefined;
  return new RewardModelJudge({
    name: rewardModelJudgeName(name ?? rewardModelDisplayName(modelDir)),
    modelDir,
    dataset: file,
    command: process.execPath,
    commandArgs: [cli],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    // Scoring takes every core it can; a lower priority keeps the editor responsive (as for training runs).
    niceness: 10,
    onStderr: (t) => log.debug(`rm-score: ${t.trim()}`),
    onWarning: (w) => log.warn(w),
  });
}

/**
 * Asks for the reward model: a finished reward-model run of `file`'s workspace folder, or a folder from a dialog.
 * A given `name` wins over the run's. Undefined when the user backed out.
 */
async function pickRewardModel(f: JudgeFeature, file: string, name: string | undefined): Promise<{ dir: string; name: string | undefined } | undefined> {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file)) ?? vscode.workspace.workspaceFolders?.[0];
  const rewardRuns = folder ? await rewardModelRuns(folder.uri.fsPath).catch((e: unknown) => (f.log.warn(`Runs: ${errorMessage(e)}`), [])) : [];
  const browse = { label: `$(folder-opened) ${vscode.l10n.t('Choose a model folder…')}`, detail: vscode.l10n.t('a Hugging Face sequence-classification model (config.json, *.safetensors, tokenizer.json) or a run folder'), dir: '', name: '' };
  const pick = await vscode.window.showQuickPick(
    [
      ...rewardRuns.map((r) => ({ label: r.name, description: `${r.method} · ${r.status}`, detail: vscode.workspace.asRelativePath(r.dir), dir: r.dir, name: r.name })),
      browse,
    ],
    { placeHolder: rewardRuns.length ? vscode.l10n.t('Reward model to label with: a reward-model run of this workspace, or a folder') : vscode.l10n.t('No finished reward-model run in this workspace: choose a model folder') },
  );
  if (!pick) return undefined;
  if (pick !== browse) return { dir: pick.dir, name: name ?? pick.name };
  const dir = (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: vscode.l10n.t('Label with This Reward Model') }))?.[0]?.fsPath;
  return dir ? { dir, name } : undefined;
}

/**
 * Starts the reward model on the pairs `source` has not labeled yet, in one process for the whole job. Resolves to
 * the job's result when the user cancelled while the model was loading (nothing labeled), else to undefined.
 */
export async function startRewardModel(
  judge: RewardModelJudge,
  sink: LabelSink,
  source: AiSource,
  pairs: readonly PairItem[],
  progress: vscode.Progress<{ message?: string }>,
  signal: AbortSignal,
): Promise<LabelJobResult | undefined> {
  const done = await sink.labeledRecordIds(source);
  const todo = [...new Set(pairs.map((p) => p.recordId))].filter((id) => !done.has(id));
  if (!todo.length) return undefined;
  progress.report({ message: `loading ${path.basename(path.dirname(judge.modelDir))}/${path.basename(judge.modelDir)}…` });
  try {
    await judge.start(todo, signal);
    return undefined;
  } catch (e) {
    if (!signal.aborted) throw e;
    const unique = new Set(pairs.map((p) => p.recordId)).size;
    return { total: unique, skipped: unique - todo.length, labeled: 0, failed: 0, remaining: todo.length, status: 'cancelled', errors: [], labels: [] };
  }
}
