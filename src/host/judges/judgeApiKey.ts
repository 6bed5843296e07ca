import * as vscode from 'vscode';
import type { JudgeFeature } from './judgeFeature';

/** SecretStorage key of the judge endpoint's API key (never in settings, never logged). */
export const JUDGE_API_KEY_SECRET = 'alignment.judge.apiKey';

/**
 * "Set Judge API Key": stores the key given (or asked for) in SecretStorage; an empty key removes it. False when
 * the user backed out of the input box.
 */
export async function setJudgeApiKey(f: JudgeFeature, preset?: string): Promise<boolean> {
  const key = preset ?? (await vscode.window.showInputBox({
    title: vscode.l10n.t('Judge API key'),
    prompt: vscode.l10n.t('API key for {0} (stored in VS Code\'s secret storage; leave empty to remove it)', vscode.workspace.getConfiguration('alignment').get<string>('judge.baseUrl', '')),
    password: true,
    ignoreFocusOut: true,
  }));
  if (key === undefined) return false;
  if (key.trim() === '') {
    await f.context.secrets.delete(JUDGE_API_KEY_SECRET);
    vscode.window.setStatusBarMessage(vscode.l10n.t('Judge API key removed'), 3000);
  } else {
    await f.context.secrets.store(JUDGE_API_KEY_SECRET, key.trim());
    vscode.window.setStatusBarMessage(vscode.l10n.t('Judge API key stored'), 3000);
  }
  f.log.info('Judge API key updated in secret storage');
  return true;
}
