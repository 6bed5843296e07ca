import * as vscode from 'vscode';
import * as path from 'node:path';
import { feedbackStoreSink } from '../../core/judges/feedbackSink';
import { aiSource, LabelJobBusyError, type LabelJobResult } from '../../core/judges/labelJob';
import { redactSecret } from '../../core/judges/endpoint';
import { OpenAiJudge } from '../../core/judges/openaiJudge';
import { ProxyJudge } from '../../core/judges/proxyJudge';
import { JudgeError, type PairJudge } from '../../core/judges/judgeTypes';
import { datasetPairItems } from '../../core/judges/datasetPairs';
import { RewardModelJudge } from '../../core/judges/rewardModelJudge';
import { datasetArg } from '../shared/datasetArg';
import { JUDGE_API_KEY_SECRET } from './judgeApiKey';
import { errorMessage, pickJudgeDataset, type JudgeFeature } from './judgeFeature';
import { labelWithProgress } from './aiLabelJob';
import { openAiJudgeFromSettings, type OpenAiJudgePreset } from './openAiJudgeSetup';
import { proxyJudgeFor } from './proxyJudgeSetup';
import { rewardModelJudgeFor, type RewardModelPreset } from './rewardModelJudgeSetup';

/** The judges "AI-Label Dataset" offers. */
export type JudgeKind = 'openai' | 'proxy' | 'reward-model';

/** Options that skip the UI (tests, other commands). */
export interface AiLabelPreset extends OpenAiJudgePreset, RewardModelPreset {
  /**
   * `openai` (default): the OpenAI-compatible judge from settings; `proxy`: the user's scorer module;
   * `reward-model`: the reward model in `rewardModel`.
   */
  readonly judge?: JudgeKind;
  /** Label at most this many pairs (in dataset order). */
  readonly limit?: number;
  /** Network failures in a row before the job stops (default 3). */
  readonly maxConsecutiveFailures?: number;
}

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

/**
 * "AI-Label Dataset": the chosen judge writes one `ai:<judge>` comparison per prompt/chosen/rejected pair into the
 * dataset's shared label store; pairs it labeled before are skipped. Undefined when nothing ran (backed out,
 * refused or failed, after telling the user why).
 */
export async function aiLabelDataset(f: JudgeFeature, arg?: unknown, preset?: AiLabelPreset): Promise<AiLabelSummary | undefined> {
  const { log } = f;
  const uri = await datasetArg(arg, pickJudgeDataset());
  if (!uri) return undefined;
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(vscode.l10n.t('AI labeling needs a dataset on disk; {0} is not one.', uri.toString()));
    return undefined;
  }
  const file = uri.fsPath;
  const kind = await judgeKind(file, preset);
  if (!kind) return undefined;
  const judge = await judgeOfKind(f, kind, file, preset);
  if (!judge) return undefined;
  try {
    const { pairs, notPairs } = datasetPairItems(await f.scans.get(file), preset?.limit);
    if (notPairs) log.warn(`AI labeling: ${notPairs} record(s) of ${file} are not prompt/chosen/rejected pairs and are skipped (see the Problems panel)`);
    if (pairs.length === 0) {
      void vscode.window.showWarningMessage(vscode.l10n.t('{0} has no prompt/chosen/rejected pairs to label.', path.basename(file)));
      return undefined;
    }
    const sink = feedbackStoreSink(f.stores.get(file));
    const source = aiSource(judge);
    log.info(`AI labeling ${file} with ${source}: ${pairs.length} pairs`);
    const result = await labelWithProgress(f, { file, judge, source, pairs, sink, maxConsecutiveFailures: preset?.maxConsecutiveFailures });
    return reportOutcome(f, uri, judge, result);
  } catch (e) {
    await reportFailure(f, file, e);
    return undefined;
  } finally {
    if (judge instanceof ProxyJudge) await judge.dispose();
    if (judge instanceof RewardModelJudge) judge.dispose();
  }
}

/** The preset's judge (a preset without one means the OpenAI-compatible judge, with no UI), or the user's pick. */
async function judgeKind(file: string, preset: AiLabelPreset | undefined): Promise<JudgeKind | undefined> {
  if (preset) return preset.judge ?? 'openai';
  return (await vscode.window.showQuickPick(
    [
      { label: vscode.l10n.t('OpenAI-compatible judge'), description: vscode.workspace.getConfiguration('alignment').get<string>('judge.model', '') || vscode.l10n.t('(set alignment.judge.model)'), detail: vscode.l10n.t('llama.cpp server, Ollama, vLLM or a hosted API; each pair is judged in both orders'), value: 'openai' as const },
      { label: vscode.l10n.t('Reward model'), description: vscode.l10n.t('a reward-model run or a model folder'), detail: vscode.l10n.t('scores both responses in a separate process on the engine; the higher reward wins'), value: 'reward-model' as const },
      { label: vscode.l10n.t('Proxy-reward scorer'), description: vscode.workspace.isTrusted ? '' : vscode.l10n.t('disabled: workspace not trusted'), detail: vscode.l10n.t('your scorer module (alignment.proxyReward.scorerModule); the higher-scored response wins'), value: 'proxy' as const },
    ],
    { placeHolder: vscode.l10n.t('Judge for {0}', path.basename(file)) },
  ))?.value;
}

function judgeOfKind(f: JudgeFeature, kind: JudgeKind, file: string, preset: AiLabelPreset | undefined): Promise<PairJudge | undefined> {
  if (kind === 'proxy') return proxyJudgeFor(f, file);
  if (kind === 'reward-model') return rewardModelJudgeFor(f, file, preset);
  return openAiJudgeFromSettings(f, preset);
}

/** Logs the job's outcome (with the judge's token usage) and tells the user, offering the agreement report. */
function reportOutcome(f: JudgeFeature, uri: vscode.Uri, judge: PairJudge, result: LabelJobResult): AiLabelSummary {
  const file = uri.fsPath;
  const source = aiSource(judge);
  const errorsByKind: Record<string, number> = {};
  for (const e of result.errors) errorsByKind[e.kind] = (errorsByKind[e.kind] ?? 0) + 1;
  const errs = Object.entries(errorsByKind).map(([k, n]) => `${n} ${k}`).join(', ');
  const text =
    vscode.l10n.t('{0}: labeled {1} of {2} pairs in {3}', source, result.labeled, result.total, path.basename(file)) +
    (result.skipped ? vscode.l10n.t(' ({0} labeled before)', result.skipped) : '') +
    (result.failed ? vscode.l10n.t('; {0} judge errors ({1}), not recorded as labels: see the Alignment Studio log', result.failed, errs) : '') +
    (result.status === 'cancelled' ? vscode.l10n.t('; cancelled') : '') +
    (result.status === 'stopped' ? vscode.l10n.t('; stopped: {0}', result.stopReason ?? '') : '') +
    vscode.l10n.t('.');
  f.log.info(`${text} Usage: ${JSON.stringify(judge instanceof OpenAiJudge ? judge.usage : {})}`);
  const [agreement, showLog] = [vscode.l10n.t('Show Agreement'), vscode.l10n.t('Show Log')];
  const pick = result.status === 'stopped' || result.failed ? vscode.window.showWarningMessage(text, agreement, showLog) : vscode.window.showInformationMessage(text, agreement);
  void pick.then((go) => (go === agreement ? vscode.commands.executeCommand('alignment.showJudgeAgreement', uri) : go === showLog ? f.log.show() : undefined));
  return {
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
}

/** Tells the user why the job did not run or failed; the judge's API key never appears in the message. */
async function reportFailure(f: JudgeFeature, file: string, e: unknown): Promise<void> {
  if (e instanceof LabelJobBusyError) {
    void vscode.window.showWarningMessage(e.message);
    return;
  }
  const apiKey = await f.context.secrets.get(JUDGE_API_KEY_SECRET);
  const m = redactSecret(errorMessage(e), apiKey);
  if (e instanceof JudgeError && e.kind === 'model') {
    f.log.error(`AI labeling ${file} with a reward model failed: ${m}`);
    void vscode.window.showErrorMessage(vscode.l10n.t('Reward-model labeling failed: {0}', m), vscode.l10n.t('Show Log')).then((go) => (go ? f.log.show() : undefined));
    return;
  }
  f.log.error(`AI labeling ${file} failed: ${m}`);
  void vscode.window.showErrorMessage(vscode.l10n.t('AI labeling failed: {0}', m));
}
