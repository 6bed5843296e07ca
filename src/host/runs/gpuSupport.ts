import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installedGpuRuntime, installGpuRuntime, NUGET_INDEX, packageDirOf } from '../../core/download/gpuRuntime';
import { isUserError } from '../../util/errors';
import { ORT_MODULE_ENV } from '../../util/ortModule';

/** Where "Install GPU Support" puts onnxruntime's CUDA provider (and the copy of onnxruntime-node it loads with). */
let gpuDir: string | undefined;
let extensionDir: string | undefined;


function ortVersion(): string | undefined {
  try {
    const dir = packageDirOf('onnxruntime-node', extensionDir);
    return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * The environment that makes a session or device probe load the installed GPU runtime: empty when none is
 * installed for the onnxruntime version this extension ships.
 */
export function gpuRuntimeEnv(): Record<string, string> {
  const version = ortVersion();
  const rt = gpuDir && version ? installedGpuRuntime(gpuDir, version) : undefined;
  return rt ? { [ORT_MODULE_ENV]: rt.ortModule } : {};
}

/**
 * "Install GPU Support": downloads and installs the CUDA provider with progress and cancel. Returns the folder of
 * the onnxruntime-node copy that sessions now load, or undefined.
 */
async function installGpuSupport(log: vscode.LogOutputChannel): Promise<string | undefined> {
  if (!gpuDir || !extensionDir) return undefined;
  const ortPackageDir = packageDirOf('onnxruntime-node', extensionDir);
  const nugetIndex = vscode.workspace.getConfiguration('alignment').get<string>('gpu.nugetIndex', NUGET_INDEX) || NUGET_INDEX;
  const dest = gpuDir;
  try {
    const rt = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Installing GPU support'), cancellable: true }, async (progress, cancel) => {
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      let shown = 0;
      return installGpuRuntime({
        ortPackageDir, ortCommonDir: packageDirOf('onnxruntime-common', ortPackageDir), dest, nugetIndex, signal: abort.signal,
        onProgress: (p) => {
          const pct = p.bytes !== undefined && p.totalBytes ? (100 * p.bytes) / p.totalBytes : shown;
          progress.report({ increment: pct - shown, message: p.bytes !== undefined ? `${p.stage}: ${(p.bytes / 1e6).toFixed(0)}${p.totalBytes ? ` of ${(p.totalBytes / 1e6).toFixed(0)}` : ''} MB` : p.stage });
          shown = pct;
        },
      });
    });
    log.info(`GPU support: onnxruntime ${rt.version} with its CUDA provider installed in ${dest}`);
    void vscode.window.showInformationMessage(vscode.l10n.t('GPU support installed (onnxruntime {0} CUDA provider). New runs use it where an NVIDIA GPU, its driver, CUDA 12 and cuDNN 9 are present; the launch form\'s device list shows whether CUDA works here.', rt.version));
    return rt.ortModule;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof Error && (e.name === 'AbortError' || /cancel/i.test(msg))) return undefined;
    log.error(`GPU support: ${isUserError(e) ? msg : (e as Error).stack ?? msg}`);
    void vscode.window.showErrorMessage(vscode.l10n.t('Installing GPU support failed: {0}', msg));
    return undefined;
  }
}

/** Registers Install GPU Support; the installed runtime lives in the extension's global storage. */
export function registerGpuSupport(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): vscode.Disposable {
  gpuDir = path.join(context.globalStorageUri.fsPath, 'gpu');
  extensionDir = context.extensionUri.fsPath;
  return vscode.commands.registerCommand('alignment.installGpuSupport', () => installGpuSupport(log));
}
