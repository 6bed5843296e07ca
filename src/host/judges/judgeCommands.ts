import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { FeedbackStores } from '../labeling/feedbackStores';
import type { DatasetScans } from '../labeling/datasetScans';
import { registerEvaluationPanel } from '../eval/evaluationPanel';
import { feedbackStoreSink } from '../../core/judges/feedbackSink';
import { aiSource, LabelJobBusyError, runLabelJob, type LabelJobResult } from '../../core/judges/labelJob';
import { checkEndpoint, InvalidEndpointError, MissingApiKeyError, redactSecret } from '../../core/judges/endpoint';
import { OpenAiJudge, type CachedAnswer } from '../../core/judges/openaiJudge';
import { isScoresFile } from '../../core/eval/scoring';
import { ProxyJudge, UntrustedWorkspaceError } from '../../core/judges/proxyJudge';
import { MemoryJudgeCache } from '../../core/judges/judgeCache';
import { TemplateError } from '../../core/judges/rubric';
import type { PairJudge } from '../../core/judges/judgeTypes';
import { appendJudgement, judgeAgreementMarkdown, judgeAgreementSummaries, judgementRecord, type JudgeAgreementSummary } from '../../core/judges/judgeRecords';
import { datasetPairItems } from '../../core/judges/datasetPairs';
import { JudgeError } from '../../core/judges/judgeTypes';
import { RewardModelJudge, rewardModelDisplayName, rewardModelJudgeName, rewardModelRuns } from '../../core/judges/rewardModelJudge';

/** SecretStorage key of the judge endpoint's API key (never in settings, never logged). */
export const JUDGE_API_KEY_SECRET = 'alignment.judge.apiKey';

/** Options that skip the UI (tests, other commands). */
export interface AiLabelPreset {
  /**
   * `openai` (default): the OpenAI-compatible judge from settings; `proxy`: the user's scorer module;
   * `reward-model`: the reward model in `rewardModel`.
   */
  readonly judge?: JudgeKind;
  /** For `reward-model`: a reward model folder (HF sequence classification) or a run folder with `final/`. */
  readonly rewardModel?: string;
  /** For `reward-model`: the name in its labels' source, `ai:rm:<name>` (default: the folder's or run's name). */
  readonly rewardModelName?: string;
  /** Label at most this many pairs (in dataset order). */
  readonly limit?: number;
  readonly maxRetries?: number;
  readonly timeoutMs?: number;
  /** Network failures in a row before the job stops (default 3). */
  readonly maxConsecutiveFailures?: number;
  /** Do not ask before sending to an endpoint that is neither loopback nor https. */
  readonly acceptInsecure?: boolean;
}

/** The judges "AI-Label Dataset" offers. */
export type JudgeKind = 'openai' | 'proxy' | 'reward-model';

/** What `alignment.aiLabelDataset` returns. */
export interface AiLabelSummary {
  readonly dataset: string;
  readonly source: string;
  readonly status: LabelJobResult['status'];
  readonly stopReason?: string;
  readonly total: number;
  readonly labeled: number;
  readonly skipped: number;
  readonly failed: number;
  /** Judge errors by kind (e.g. `unparseable`, `network`); never written as labels. */
  readonly errorsByKind: Readonly<Record<string, number>>;
}

export interface JudgeFeatureOptions {
  readonly log: vscode.LogOutputChannel;
  readonly stores: FeedbackStores;
  readonly scans: DatasetScans;
}

async function datasetArg(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string') return vscode.Uri.file(arg);
  if (arg instanceof Object && 'uri' in arg && arg.uri instanceof vscode.Uri) return arg.uri;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && active.fsPath.endsWith('.jsonl') && !isScoresFile(active.fsPath)) return active;
  const files = (await vscode.workspace.findFiles('**/*.jsonl', '**/{node_modules,.alignment,.git}/**', 500)).filter((u) => !isScoresFile(u.fsPath));
  const pick = await vscode.window.showQuickPick(files.map((u) => ({ label: path.basename(u.fsPath), detail: vscode.workspace.asRelativePath(u), uri: u })), { placeHolder: 'Choose a dataset to label with an AI judge' });
  return pick?.uri;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * AI judges in the editor: "AI-Label Dataset" (an OpenAI-compatible judge or the user's proxy scorer writes one
 * `ai:<judge>` comparison per pair into the dataset's shared label store), "Set Judge API Key" (SecretStorage),
 * "Show Judge Agreement", "Evaluate Reward Model" and the evaluation panel.
 */
export function registerJudges(context: vscode.ExtensionContext, options: JudgeFeatureOptions): vscode.Disposable {
  const { log, stores, scans } = options;
  // Answers survive between runs in this window, so a resumed job does not pay twice for pairs answered before.
  const caches = new Map<string, MemoryJudgeCache<CachedAnswer>>();

  const setKey = async (preset?: string): Promise<boolean> => {
    const key = preset ?? (await vscode.window.showInputBox({
      title: 'Judge API key',
      prompt: `API key for ${vscode.workspace.getConfiguration('alignment').get<string>('judge.baseUrl', '')} (stored in VS Code's secret storage; leave empty to remove it)`,
      password: true,
      ignoreFocusOut: true,
    }));
    if (key === undefined) return false;
    if (key.trim() === '') {
      await context.secrets.delete(JUDGE_API_KEY_SECRET);
      vscode.window.setStatusBarMessage('Judge API key removed', 3000);
    } else {
      await context.secrets.store(JUDGE_API_KEY_SECRET, key.trim());
      vscode.window.setStatusBarMessage('Judge API key stored', 3000);
    }
    log.info('Judge API key updated in secret storage');
    return true;
  };

  /** The OpenAI-compatible judge from settings, after the endpoint checks; undefined when the user backed out. */
  const openAiJudge = async (preset: AiLabelPreset | undefined, retried = false): Promise<OpenAiJudge | undefined> => {
    const cfg = vscode.workspace.getConfiguration('alignment');
    const baseUrl = cfg.get<string>('judge.baseUrl', '').trim();
    const model = cfg.get<string>('judge.model', '').trim();
    if (!baseUrl || !model) {
      const go = await vscode.window.showWarningMessage('Set the judge server (alignment.judge.baseUrl) and model (alignment.judge.model) first.', 'Open Settings');
      if (go) await vscode.commands.executeCommand('workbench.action.openSettings', 'alignment.judge');
      return undefined;
    }
    try {
      const check = checkEndpoint(baseUrl);
      for (const w of check.warnings) {
        log.warn(w);
        if (!preset?.acceptInsecure) {
          const go = await vscode.window.showWarningMessage(w, { modal: true }, 'Send Anyway');
          if (go !== 'Send Anyway') return undefined;
        }
      }
      const apiKey = await context.secrets.get(JUDGE_API_KEY_SECRET);
      const cache = caches.get(model) ?? new MemoryJudgeCache<CachedAnswer>();
      caches.set(model, cache);
      return new OpenAiJudge({
        baseUrl,
        model,
        apiKey: apiKey || undefined,
        mode: cfg.get<'pairwise' | 'rating'>('judge.mode', 'pairwise') === 'rating' ? 'rating' : 'pairwise',
        concurrency: cfg.get<number>('judge.concurrency', 4),
        cache,
        ...(preset?.maxRetries !== undefined ? { maxRetries: preset.maxRetries } : {}),
        ...(preset?.timeoutMs !== undefined ? { timeoutMs: preset.timeoutMs } : {}),
        onRetry: (r) => log.info(`Judge ${model}: retry ${r.attempt} in ${Math.round(r.delayMs)} ms (${r.reason}${r.status ? ` ${r.status}` : ''}${r.fromRetryAfter ? ', from Retry-After' : ''})`),
      });
    } catch (e) {
      if (e instanceof MissingApiKeyError && !retried) {
        log.warn(e.message);
        const go = await vscode.window.showWarningMessage(e.message, 'Set API Key');
        if (go && (await setKey())) return openAiJudge(preset, true);
        return undefined;
      }
      if (e instanceof InvalidEndpointError || e instanceof TemplateError || e instanceof MissingApiKeyError) {
        log.error(e.message);
        void vscode.window.showErrorMessage(e.message);
        return undefined;
      }
      throw e;
    }
  };

  /** The user's proxy scorer as a judge; refused with the reason in an untrusted workspace. */
  const proxyJudge = async (file: string): Promise<ProxyJudge | undefined> => {
    const configured = vscode.workspace.getConfiguration('alignment').get<string>('proxyReward.scorerModule', '');
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file)) ?? vscode.workspace.workspaceFolders?.[0];
    const modulePath = configured && !path.isAbsolute(configured) ? path.resolve(folder?.uri.fsPath ?? path.dirname(file), configured) : configured;
    try {
      // The trust check comes first: in an untrusted workspace nothing about the module is looked at.
      if (!vscode.workspace.isTrusted) throw new UntrustedWorkspaceError(modulePath || '(alignment.proxyReward.scorerModule)');
      if (!configured) {
        const go = await vscode.window.showWarningMessage('Set alignment.proxyReward.scorerModule to a JavaScript file exporting score(prompt, response) → number.', 'Open Settings');
        if (go) await vscode.commands.executeCommand('workbench.action.openSettings', 'alignment.proxyReward.scorerModule');
        return undefined;
      }
      return new ProxyJudge({ modulePath, trusted: vscode.workspace.isTrusted, name: `proxy-${path.basename(modulePath).replace(/\.(c|m)?js$/, '').replace(/[^\w.-]/g, '_')}` });
    } catch (e) {
      if (e instanceof UntrustedWorkspaceError) {
        log.warn(`AI labeling with a user scorer refused: ${e.message}`);
        void vscode.window.showWarningMessage(
          `User scorers are disabled in this workspace: it is not trusted, and a scorer module is code from the workspace, which VS Code runs only in a trusted workspace. Trust the workspace (Workspaces: Manage Workspace Trust) to use it.`,
          'Manage Workspace Trust',
        ).then((go) => (go ? vscode.commands.executeCommand('workbench.trust.manage') : undefined));
        return undefined;
      }
      log.error(message(e));
      void vscode.window.showErrorMessage(message(e));
      return undefined;
    }
  };

  /** The dataset's records as pairs to judge, keyed by the scan's record ids (the store's ids). */
  const pairsOf = async (file: string, limit?: number) => datasetPairItems(await scans.get(file), limit);

  /**
   * The reward model to judge with: a finished reward-model run of the workspace (its `final/` folder), or a folder
   * the user picks. Undefined when the user backed out or the folder is not a model.
   */
  const rewardModelJudge = async (file: string, preset: AiLabelPreset | undefined): Promise<RewardModelJudge | undefined> => {
    let dir = preset?.rewardModel;
    let name = preset?.rewardModelName;
    if (!dir) {
      const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file)) ?? vscode.workspace.workspaceFolders?.[0];
      const rewardRuns = folder ? await rewardModelRuns(folder.uri.fsPath).catch((e: unknown) => (log.warn(`Runs: ${message(e)}`), [])) : [];
      const browse = { label: '$(folder-opened) Choose a model folder…', detail: 'a Hugging Face sequence-classification model (config.json, *.safetensors, tokenizer.json) or a run folder', dir: '', name: '' };
      const pick = await vscode.window.showQuickPick(
        [
          ...rewardRuns.map((r) => ({ label: r.name, description: `${r.method} · ${r.status}`, detail: vscode.workspace.asRelativePath(r.dir), dir: r.dir, name: r.name })),
          browse,
        ],
        { placeHolder: rewardRuns.length ? 'Reward model to label with: a reward-model run of this workspace, or a folder' : 'No finished reward-model run in this workspace: choose a model folder' },
      );
      if (!pick) return undefined;
      if (pick === browse) {
        dir = (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Label with This Reward Model' }))?.[0]?.fsPath;
        if (!dir) return undefined;
      } else {
        dir = pick.dir;
        name ??= pick.name;
      }
    }
    const modelDir = fs.existsSync(path.join(dir, 'config.json')) || !fs.existsSync(path.join(dir, 'final', 'config.json')) ? dir : path.join(dir, 'final');
    if (!fs.existsSync(path.join(modelDir, 'config.json'))) {
      const m = `${modelDir} is not a reward model folder: it has no config.json (expected a Hugging Face sequence-classification folder or a run folder with final/).`;
      log.error(`AI labeling: ${m}`);
      void vscode.window.showErrorMessage(m);
      return undefined;
    }
    const cli = path.join(context.extensionUri.fsPath, 'dist', 'cli.js');
    if (!fs.existsSync(cli)) {
      void vscode.window.showErrorMessage(`The alignment CLI is missing (${cli}); build the extension first.`);
      return undefined;
    }
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
  };

  const aiLabel = async (arg?: unknown, preset?: AiLabelPreset): Promise<AiLabelSummary | undefined> => {
    const uri = await datasetArg(arg);
    if (!uri) return undefined;
    if (uri.scheme !== 'file') {
      void vscode.window.showErrorMessage(`AI labeling needs a dataset on disk; ${uri.toString()} is not one.`);
      return undefined;
    }
    const file = uri.fsPath;
    // A preset (tests, other commands) without a judge means the OpenAI-compatible one: no UI.
    const kind = preset?.judge ?? (preset ? 'openai' : undefined) ?? (await vscode.window.showQuickPick(
      [
        { label: 'OpenAI-compatible judge', description: vscode.workspace.getConfiguration('alignment').get<string>('judge.model', '') || '(set alignment.judge.model)', detail: 'llama.cpp server, Ollama, vLLM or a hosted API; each pair is judged in both orders', value: 'openai' as const },
        { label: 'Reward model', description: 'a reward-model run or a model folder', detail: 'scores both responses in a separate process on the engine; the higher reward wins', value: 'reward-model' as const },
        { label: 'Proxy-reward scorer', description: vscode.workspace.isTrusted ? '' : 'disabled: workspace not trusted', detail: 'your scorer module (alignment.proxyReward.scorerModule); the higher-scored response wins', value: 'proxy' as const },
      ],
      { placeHolder: `Judge for ${path.basename(file)}` },
    ))?.value;
    if (!kind) return undefined;
    const judge: PairJudge | undefined = kind === 'proxy' ? await proxyJudge(file) : kind === 'reward-model' ? await rewardModelJudge(file, preset) : await openAiJudge(preset);
    if (!judge) return undefined;
    try {
      const { pairs, notPairs } = await pairsOf(file, preset?.limit);
      if (notPairs) log.warn(`AI labeling: ${notPairs} record(s) of ${file} are not prompt/chosen/rejected pairs and are skipped (see the Problems panel)`);
      if (pairs.length === 0) {
        void vscode.window.showWarningMessage(`${path.basename(file)} has no prompt/chosen/rejected pairs to label.`);
        return undefined;
      }
      const store = stores.get(file);
      const sink = feedbackStoreSink(store);
      const source = aiSource(judge);
      let notifyTimer: NodeJS.Timeout | undefined;
      const notifySoon = (): void => {
        notifyTimer ??= setTimeout(() => {
          notifyTimer = undefined;
          stores.notify(file);
        }, 200);
      };
      log.info(`AI labeling ${file} with ${source}: ${pairs.length} pairs`);
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `AI-labeling ${path.basename(file)} with ${source}`, cancellable: true },
        async (progress, token) => {
          const abort = new AbortController();
          const sub = token.onCancellationRequested(() => abort.abort(new Error('cancelled by the user')));
          let shown = 0;
          try {
            if (judge instanceof RewardModelJudge) {
              // The model scores only the pairs this judge has not labeled yet, in one process for the whole job.
              const done = await sink.labeledRecordIds(source);
              const todo = [...new Set(pairs.map((p) => p.recordId))].filter((id) => !done.has(id));
              if (todo.length) {
                progress.report({ message: `loading ${path.basename(path.dirname(judge.modelDir))}/${path.basename(judge.modelDir)}…` });
                try {
                  await judge.start(todo, abort.signal);
                } catch (e) {
                  if (!abort.signal.aborted) throw e;
                  const unique = new Set(pairs.map((p) => p.recordId)).size;
                  return { total: unique, skipped: unique - todo.length, labeled: 0, failed: 0, remaining: todo.length, status: 'cancelled' as const, errors: [], labels: [] };
                }
              }
            }
            return await runLabelJob({
              judge,
              pairs,
              sink: {
                id: sink.id,
                labeledRecordIds: (s) => sink.labeledRecordIds(s),
                append: async (label) => {
                  await sink.append(label);
                  try {
                    appendJudgement(file, judgementRecord(label));
                  } catch (e) {
                    // The label is in the journal; only the consistency figures lose this pair.
                    log.warn(`AI labeling: could not keep the judgement details of ${label.recordId}: ${message(e)}`);
                  }
                  notifySoon();
                },
              },
              concurrency: vscode.workspace.getConfiguration('alignment').get<number>('judge.concurrency', 4),
              signal: abort.signal,
              ...(preset?.maxConsecutiveFailures !== undefined ? { maxConsecutiveFailures: preset.maxConsecutiveFailures } : {}),
              onError: (e) => log.warn(`AI labeling ${path.basename(file)}: judge error on ${e.recordId} (${e.kind}): ${e.message}`),
              onProgress: (p) => {
                const done = p.labeled + p.failed;
                const todo = p.total - p.skipped;
                const pct = todo ? Math.floor((100 * done) / todo) : 100;
                progress.report({ increment: pct - shown, message: `${done}/${todo}${p.skipped ? ` (${p.skipped} done before)` : ''}${p.failed ? `, ${p.failed} errors` : ''}` });
                shown = pct;
              },
            });
          } finally {
            sub.dispose();
          }
        },
      );
      if (notifyTimer) clearTimeout(notifyTimer);
      stores.notify(file);
      const errorsByKind: Record<string, number> = {};
      for (const e of result.errors) errorsByKind[e.kind] = (errorsByKind[e.kind] ?? 0) + 1;
      const summary: AiLabelSummary = {
        dataset: file,
        source,
        status: result.status,
        stopReason: result.stopReason,
        total: result.total,
        labeled: result.labeled,
        skipped: result.skipped,
        failed: result.failed,
        errorsByKind,
      };
      const errs = Object.entries(errorsByKind).map(([k, n]) => `${n} ${k}`).join(', ');
      const text =
        `${source}: labeled ${result.labeled} of ${result.total} pairs in ${path.basename(file)}` +
        (result.skipped ? ` (${result.skipped} labeled before)` : '') +
        (result.failed ? `; ${result.failed} judge errors (${errs}), not recorded as labels: see the Alignment Studio log` : '') +
        (result.status === 'cancelled' ? '; cancelled' : '') +
        (result.status === 'stopped' ? `; stopped: ${result.stopReason ?? ''}` : '') +
        '.';
      log.info(`${text} Usage: ${JSON.stringify(judge instanceof OpenAiJudge ? judge.usage : {})}`);
      const pick = result.status === 'stopped' || result.failed ? vscode.window.showWarningMessage(text, 'Show Agreement', 'Show Log') : vscode.window.showInformationMessage(text, 'Show Agreement');
      void pick.then((go) => (go === 'Show Agreement' ? vscode.commands.executeCommand('alignment.showJudgeAgreement', uri) : go === 'Show Log' ? log.show() : undefined));
      return summary;
    } catch (e) {
      if (e instanceof LabelJobBusyError) {
        void vscode.window.showWarningMessage(e.message);
        return undefined;
      }
      const apiKey = await context.secrets.get(JUDGE_API_KEY_SECRET);
      const m = redactSecret(message(e), apiKey);
      if (e instanceof JudgeError && e.kind === 'model') {
        log.error(`AI labeling ${file} with a reward model failed: ${m}`);
        void vscode.window.showErrorMessage(`Reward-model labeling failed: ${m}`, 'Show Log').then((go) => (go ? log.show() : undefined));
        return undefined;
      }
      log.error(`AI labeling ${file} failed: ${m}`);
      void vscode.window.showErrorMessage(`AI labeling failed: ${m}`);
      return undefined;
    } finally {
      if (judge instanceof ProxyJudge) await judge.dispose();
      if (judge instanceof RewardModelJudge) judge.dispose();
    }
  };

  const showAgreement = async (arg?: unknown, preset?: { readonly show?: boolean }): Promise<{ markdown: string; judges: JudgeAgreementSummary[] } | undefined> => {
    const uri = await datasetArg(arg);
    if (!uri) return undefined;
    const store = stores.get(uri.fsPath);
    store.refresh();
    const { judges, problems } = judgeAgreementSummaries(store.view(), uri.fsPath);
    for (const p of problems) log.warn(`Judge agreement: ${p}`);
    const section = judgeAgreementMarkdown(store.view(), uri.fsPath);
    const markdown = `# Judge agreement: ${path.basename(uri.fsPath)}\n\n${section || 'No AI judge has labeled this dataset yet. Run "Alignment: AI-Label Dataset".\n'}`;
    if (preset?.show !== false) {
      const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: markdown });
      await vscode.commands.executeCommand('markdown.showPreview', doc.uri);
    }
    return { markdown, judges };
  };

  const evaluate = async (arg?: unknown, preset?: { readonly scores?: readonly string[]; readonly model?: string; readonly data?: string }): Promise<vscode.Uri | undefined> => {
    let scoreFiles = preset?.scores?.map((f) => vscode.Uri.file(f));
    if (!scoreFiles && arg instanceof vscode.Uri && arg.fsPath.endsWith('.jsonl')) scoreFiles = [arg];
    if (!scoreFiles && !preset?.model) {
      const how = await vscode.window.showQuickPick(
        [
          { label: 'Score held-out pairs with a reward model', detail: 'a reward model folder (HF sequence classification or a run\'s final/) and a preference dataset; runs the alignment CLI', value: 'model' as const },
          { label: 'Open scores files', detail: 'JSONL with chosen_reward / rejected_reward per pair; pick several to compare reward models and judges', value: 'scores' as const },
        ],
        { placeHolder: 'Evaluate a reward model' },
      );
      if (!how) return undefined;
      if (how.value === 'scores') {
        // Scores files in the workspace (`*.scores.jsonl`, as the CLI writes them) first; otherwise a file dialog.
        const found = await vscode.workspace.findFiles('**/*.scores.jsonl', '**/{node_modules,.git}/**', 200);
        if (found.length) {
          const picked = await vscode.window.showQuickPick(
            found.map((u) => ({ label: path.basename(u.fsPath), description: vscode.workspace.asRelativePath(u), uri: u, picked: true })),
            { canPickMany: true, placeHolder: 'Scores files to evaluate: the first is shown, all are compared in the distance matrices' },
          );
          scoreFiles = picked?.map((p) => p.uri);
        } else {
          scoreFiles = await vscode.window.showOpenDialog({ canSelectMany: true, filters: { 'Scores (JSON Lines)': ['jsonl'] }, openLabel: 'Evaluate' });
        }
        if (!scoreFiles?.length) return undefined;
      }
    }
    if (!scoreFiles) {
      const model = preset?.model ?? (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Reward model folder' }))?.[0]?.fsPath;
      if (!model) return undefined;
      const data = preset?.data ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Preference pairs (JSON Lines)': ['jsonl'] }, openLabel: 'Held-out pairs' }))?.[0]?.fsPath;
      if (!data) return undefined;
      const out = path.join(path.dirname(data), '.alignment', `${path.basename(data, '.jsonl')}.${path.basename(model)}.scores.jsonl`);
      const ok = await scoreWithCli(context, log, model, data, out);
      if (!ok) return undefined;
      scoreFiles = [vscode.Uri.file(out)];
    }
    const [first, ...rest] = scoreFiles;
    await vscode.commands.executeCommand('alignment.showEvaluation', first, rest);
    return first;
  };

  return vscode.Disposable.from(
    registerEvaluationPanel(context, log),
    vscode.commands.registerCommand('alignment.setJudgeApiKey', (preset?: string) => setKey(typeof preset === 'string' ? preset : undefined)),
    vscode.commands.registerCommand('alignment.aiLabelDataset', aiLabel),
    vscode.commands.registerCommand('alignment.showJudgeAgreement', showAgreement),
    vscode.commands.registerCommand('alignment.evaluateRewardModel', evaluate),
  );
}

/**
 * Scores held-out pairs with a reward model in a child process (`dist/cli.js eval-rm`): the extension host never
 * loads the engine. Resolves to false after telling the user why when it fails or is cancelled.
 */
async function scoreWithCli(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, model: string, data: string, out: string): Promise<boolean> {
  const cli = path.join(context.extensionUri.fsPath, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) {
    void vscode.window.showErrorMessage(`The alignment CLI is missing (${cli}); build the extension first.`);
    return false;
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Scoring ${path.basename(data)} with ${path.basename(model)}`, cancellable: true }, (_p, token) =>
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
        void vscode.window.showErrorMessage(`Could not start the alignment CLI: ${e.message}`);
        resolve(false);
      });
      child.on('close', (code) => {
        sub.dispose();
        if (code === 0) return resolve(true);
        if (!token.isCancellationRequested) void vscode.window.showErrorMessage(`Scoring with ${path.basename(model)} failed: ${stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${code}`}`);
        resolve(false);
      });
    }),
  );
}
