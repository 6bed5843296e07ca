import * as vscode from 'vscode';
import { checkEndpoint, InvalidEndpointError, MissingApiKeyError } from '../../core/judges/endpoint';
import { OpenAiJudge, type CachedAnswer } from '../../core/judges/openaiJudge';
import { MemoryJudgeCache } from '../../core/judges/judgeCache';
import { TemplateError } from '../../core/judges/rubric';
import { JUDGE_API_KEY_SECRET, setJudgeApiKey } from './judgeApiKey';
import type { JudgeFeature } from './judgeFeature';

/** What the OpenAI-compatible judge takes from an "AI-Label Dataset" preset. */
export interface OpenAiJudgePreset {
  readonly maxRetries?: number;
  readonly timeoutMs?: number;
  /** Do not ask before sending to an endpoint that is neither loopback nor https. */
  readonly acceptInsecure?: boolean;
}

/**
 * The OpenAI-compatible judge from settings (`alignment.judge.*`), after the endpoint checks; undefined when the
 * user backed out or was told why it cannot be used. A missing API key is asked for once, then the judge is built again.
 */
export async function openAiJudgeFromSettings(f: JudgeFeature, preset: OpenAiJudgePreset | undefined, retried = false): Promise<OpenAiJudge | undefined> {
  const { log } = f;
  const cfg = vscode.workspace.getConfiguration('alignment');
  const baseUrl = cfg.get<string>('judge.baseUrl', '').trim();
  const model = cfg.get<string>('judge.model', '').trim();
  if (!baseUrl || !model) {
    const go = await vscode.window.showWarningMessage(vscode.l10n.t('Set the judge server (alignment.judge.baseUrl) and model (alignment.judge.model) first.'), vscode.l10n.t('Open Settings'));
    if (go) await vscode.commands.executeCommand('workbench.action.openSettings', 'alignment.judge');
    return undefined;
  }
  try {
    if (!(await endpointAccepted(f, baseUrl, preset))) return undefined;
    const apiKey = await f.context.secrets.get(JUDGE_API_KEY_SECRET);
    const cache = f.caches.get(model) ?? new MemoryJudgeCache<CachedAnswer>();
    f.caches.set(model, cache);
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
      const go = await vscode.window.showWarningMessage(e.message, vscode.l10n.t('Set API Key'));
      if (go && (await setJudgeApiKey(f))) return openAiJudgeFromSettings(f, preset, true);
      return undefined;
    }
    if (e instanceof InvalidEndpointError || e instanceof TemplateError || e instanceof MissingApiKeyError) {
      log.error(e.message);
      void vscode.window.showErrorMessage(e.message);
      return undefined;
    }
    throw e;
  }
}

/**
 * Checks the endpoint (throws {@link InvalidEndpointError} when it is unusable) and logs each warning; unless the
 * preset accepts insecure endpoints, the user confirms each warning. False when the user declined.
 */
async function endpointAccepted(f: JudgeFeature, baseUrl: string, preset: OpenAiJudgePreset | undefined): Promise<boolean> {
  for (const w of checkEndpoint(baseUrl).warnings) {
    f.log.warn(w);
    if (!preset?.acceptInsecure) {
      const send = vscode.l10n.t('Send Anyway');
      if ((await vscode.window.showWarningMessage(w, { modal: true }, send)) !== send) return false;
    }
  }
  return true;
}
