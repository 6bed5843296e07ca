import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CURATED_MODELS, DOWNLOAD_MARKER, HUB_ENDPOINT, checkRepoId, downloadHubModel, repoFolderName } from '../../core/download/hubModels';
import { isUserError } from '../../util/errors';

/** SecretStorage key of the Hugging Face access token (never in settings, never logged). */
export const HUB_TOKEN_SECRET = 'alignment.hub.token';

/** A model downloaded into the extension's global storage (a folder with the download marker). */
export interface DownloadedModel {
  readonly dir: string;
  readonly repo: string;
  readonly commit: string;
}

/** Where downloaded models live: one folder per repo (`owner--name`) under the extension's global storage. */
export function modelsRoot(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, 'models');
}

/** The global-storage models folder of this activation (set by {@link registerModelDownloads}). */
let activeRoot: string | undefined;

/** The downloaded models, for pickers that have no ExtensionContext at hand (the launch form). */
export function activeDownloads(): DownloadedModel[] {
  return activeRoot ? downloadedModels(activeRoot) : [];
}

/** Registers Download Model… and Set Hugging Face Token. */
export function registerModelDownloads(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): vscode.Disposable {
  activeRoot = modelsRoot(context);
  return vscode.Disposable.from(
    vscode.commands.registerCommand('alignment.downloadModel', (repo?: unknown) => downloadModelCommand(context, log, typeof repo === 'string' ? repo : undefined)),
    vscode.commands.registerCommand('alignment.setHubToken', () => setHubToken(context)),
  );
}

/** The complete downloads (folders whose marker was written last), by repo id. */
export function downloadedModels(root: string): DownloadedModel[] {
  if (!fs.existsSync(root)) return [];
  const out: DownloadedModel[] = [];
  for (const name of fs.readdirSync(root).sort()) {
    try {
      const m = JSON.parse(fs.readFileSync(path.join(root, name, DOWNLOAD_MARKER), 'utf8')) as { repo?: unknown; commit?: unknown };
      if (typeof m.repo === 'string' && typeof m.commit === 'string') out.push({ dir: path.join(root, name), repo: m.repo, commit: m.commit });
    } catch {
      // no marker yet: an interrupted download, resumed by the next Download Model of that repo
    }
  }
  return out;
}

async function pickRepo(): Promise<string | undefined> {
  const other = { label: `$(edit) ${vscode.l10n.t('Another model…')}`, description: vscode.l10n.t('any Hub model id, e.g. owner/name'), repo: '' };
  const picked = await vscode.window.showQuickPick([...CURATED_MODELS.map((m) => ({ label: m.repo, description: m.note, repo: m.repo })), other], { title: vscode.l10n.t('Download a model from the Hugging Face Hub'), placeHolder: vscode.l10n.t('Small chat models the engine trains on a laptop') });
  if (!picked) return undefined;
  if (picked.repo) return picked.repo;
  const typed = await vscode.window.showInputBox({
    title: vscode.l10n.t('Hub model id'),
    prompt: vscode.l10n.t('owner/name of a transformers model with safetensors weights'),
    validateInput: (v) => {
      try {
        checkRepoId(v);
        return undefined;
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
    },
  });
  return typed?.trim() || undefined;
}

/** "Set Hugging Face Token": stores the token in SecretStorage; an empty one removes it. */
export async function setHubToken(context: vscode.ExtensionContext): Promise<boolean> {
  const token = await vscode.window.showInputBox({ title: vscode.l10n.t('Hugging Face access token'), prompt: vscode.l10n.t('A read token for gated or private models (kept in VS Code\'s secret storage; leave empty to remove it)'), password: true, ignoreFocusOut: true });
  if (token === undefined) return false;
  if (token.trim()) await context.secrets.store(HUB_TOKEN_SECRET, token.trim());
  else await context.secrets.delete(HUB_TOKEN_SECRET);
  vscode.window.setStatusBarMessage(token.trim() ? vscode.l10n.t('Hugging Face token stored') : vscode.l10n.t('Hugging Face token removed'), 3000);
  return true;
}

/**
 * "Download Model…": a curated list or any repo id, downloaded with progress and cancel into global storage. An
 * interrupted download resumes when the same model is downloaded again. Returns the model folder, or undefined.
 */
export async function downloadModelCommand(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, repoArg?: string): Promise<string | undefined> {
  const repo = repoArg ?? (await pickRepo());
  if (!repo) return undefined;
  const endpoint = vscode.workspace.getConfiguration('alignment').get<string>('hub.endpoint', HUB_ENDPOINT).replace(/\/+$/, '') || HUB_ENDPOINT;
  const dir = path.join(modelsRoot(context), repoFolderName(repo));
  const token = await context.secrets.get(HUB_TOKEN_SECRET);
  log.info(`Download Model: ${repo} from ${endpoint} into ${dir}${token ? ' (with the stored Hub token)' : ''}`);
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Downloading {0}', repo), cancellable: true }, async (progress, cancel) => {
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      let shown = 0;
      await downloadHubModel({
        repo, endpoint, dir, signal: abort.signal, ...(token ? { token } : {}),
        onProgress: (p) => {
          const pct = p.totalBytes ? (100 * p.bytes) / p.totalBytes : 0;
          progress.report({ increment: pct - shown, message: vscode.l10n.t('{0} ({1}/{2}) · {3} of {4} MB', p.file, p.fileIndex + 1, p.files, (p.bytes / 1e6).toFixed(0), (p.totalBytes / 1e6).toFixed(0)) });
          shown = pct;
        },
      });
    });
  } catch (e) {
    downloadFailed(context, log, repo, e);
    return undefined;
  }
  log.info(`Download Model: ${repo} complete in ${dir}`);
  void vscode.commands.executeCommand('alignment.refreshModels');
  void vscode.window.showInformationMessage(vscode.l10n.t('Downloaded {0}. It is listed in the Models view and in the launch form\'s base models.', repo), vscode.l10n.t('Start a Training Run')).then((a) => {
    if (a) void vscode.commands.executeCommand('alignment.startRun');
  });
  return dir;
}

/** Logs a failed download and shows why (not awaited: the command returns while the message is up). */
function downloadFailed(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, repo: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof Error && (e.name === 'AbortError' || /cancel/i.test(msg))) {
    log.info(`Download Model: ${repo} cancelled; downloading it again resumes`);
    return;
  }
  log.error(`Download Model: ${repo}: ${isUserError(e) ? msg : (e as Error).stack ?? msg}`);
  const needsToken = /Hub token/.test(msg);
  void vscode.window.showErrorMessage(vscode.l10n.t('Download of {0} failed: {1}', repo, msg), ...(needsToken ? [vscode.l10n.t('Set Hugging Face Token')] : [])).then(async (a) => {
    if (a && (await setHubToken(context))) await downloadModelCommand(context, log, repo);
  });
}
