import * as vscode from 'vscode';
import { JUDGE_API_KEY_ENV, WORKSPACE_TRUSTED_ENV } from '../../core/runs/specRewardSources';
import { JUDGE_API_KEY_SECRET } from '../judges/judgeApiKey';
import { gpuRuntimeEnv } from './gpuSupport';

/**
 * The environment a session gets on top of the extension host's: whether the workspace is trusted (a run's
 * JavaScript reward module runs only then) and the judge's API key from secret storage (for a judge reward). The
 * key travels only in the child's environment (as does the GPU runtime installed by Install GPU Support), never in the spec, the run folder or a log line. The trust flag is
 * always set, so a value inherited from the host's own environment can never mark an untrusted workspace trusted.
 */
export async function sessionEnvironment(secrets: vscode.SecretStorage): Promise<Record<string, string>> {
  const env: Record<string, string> = { [WORKSPACE_TRUSTED_ENV]: vscode.workspace.isTrusted ? '1' : '0', ...gpuRuntimeEnv() };
  const key = await secrets.get(JUDGE_API_KEY_SECRET);
  if (key) env[JUDGE_API_KEY_ENV] = key;
  return env;
}
