import * as vscode from 'vscode';
import * as path from 'node:path';
import { ProxyJudge, UntrustedWorkspaceError } from '../../core/judges/proxyJudge';
import { errorMessage, type JudgeFeature } from './judgeFeature';

/**
 * The user's proxy scorer (`alignment.proxyReward.scorerModule`, relative to the dataset's workspace folder) as a
 * judge of `file`'s pairs. Refused with the reason in an untrusted workspace; undefined when it cannot be used.
 */
export async function proxyJudgeFor(f: JudgeFeature, file: string): Promise<ProxyJudge | undefined> {
  const configured = vscode.workspace.getConfiguration('alignment').get<string>('proxyReward.scorerModule', '');
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file)) ?? vscode.workspace.workspaceFolders?.[0];
  const modulePath = configured && !path.isAbsolute(configured) ? path.resolve(folder?.uri.fsPath ?? path.dirname(file), configured) : configured;
  try {
    // The trust check comes first: in an untrusted workspace nothing about the module is looked at.
    if (!vscode.workspace.isTrusted) throw new UntrustedWorkspaceError(modulePath || '(alignment.proxyReward.scorerModule)');
    if (!configured) {
      const go = await vscode.window.showWarningMessage(vscode.l10n.t('Set alignment.proxyReward.scorerModule to a JavaScript file exporting score(prompt, response) → number.'), vscode.l10n.t('Open Settings'));
      if (go) await vscode.commands.executeCommand('workbench.action.openSettings', 'alignment.proxyReward.scorerModule');
      return undefined;
    }
    return new ProxyJudge({ modulePath, trusted: vscode.workspace.isTrusted, name: `proxy-${path.basename(modulePath).replace(/\.(c|m)?js$/, '').replace(/[^\w.-]/g, '_')}` });
  } catch (e) {
    if (e instanceof UntrustedWorkspaceError) {
      f.log.warn(`AI labeling with a user scorer refused: ${e.message}`);
      void vscode.window.showWarningMessage(
        vscode.l10n.t('User scorers are disabled in this workspace: it is not trusted, and a scorer module is code from the workspace, which VS Code runs only in a trusted workspace. Trust the workspace (Workspaces: Manage Workspace Trust) to use it.'),
        vscode.l10n.t('Manage Workspace Trust'),
      ).then((go) => (go ? vscode.commands.executeCommand('workbench.trust.manage') : undefined));
      return undefined;
    }
    f.log.error(errorMessage(e));
    void vscode.window.showErrorMessage(errorMessage(e));
    return undefined;
  }
}
