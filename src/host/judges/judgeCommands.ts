import * as vscode from 'vscode';
import { registerEvaluationPanel } from '../eval/evaluationPanel';
import { aiLabelDataset, type AiLabelPreset } from './aiLabel';
import { evaluateRewardModel, type EvaluateRewardModelPreset } from './evaluateRewardModel';
import { setJudgeApiKey } from './judgeApiKey';
import { showJudgeAgreement } from './judgeAgreement';
import type { JudgeFeature } from './judgeFeature';
import { holdReportDocs } from '../shared/reportDocs';

export type JudgeFeatureOptions = Pick<JudgeFeature, 'log' | 'stores' | 'scans'>;

/**
 * AI judges in the editor: "AI-Label Dataset" (an OpenAI-compatible judge, a reward model or the user's proxy
 * scorer writes one `ai:<judge>` comparison per pair into the dataset's shared label store), "Set Judge API Key"
 * (SecretStorage), "Show Judge Agreement", "Evaluate Reward Model" and the evaluation panel.
 */
export function registerJudges(context: vscode.ExtensionContext, options: JudgeFeatureOptions): vscode.Disposable {
  const f: JudgeFeature = { context, ...options, caches: new Map() };
  return vscode.Disposable.from(
    holdReportDocs(),
    registerEvaluationPanel(context, options.log),
    vscode.commands.registerCommand('alignment.setJudgeApiKey', (preset?: string) => setJudgeApiKey(f, typeof preset === 'string' ? preset : undefined)),
    vscode.commands.registerCommand('alignment.aiLabelDataset', (arg?: unknown, preset?: AiLabelPreset) => aiLabelDataset(f, arg, preset)),
    vscode.commands.registerCommand('alignment.showJudgeAgreement', (arg?: unknown, preset?: { readonly show?: boolean }) => showJudgeAgreement(f, arg, preset)),
    vscode.commands.registerCommand('alignment.evaluateRewardModel', (arg?: unknown, preset?: EvaluateRewardModelPreset) => evaluateRewardModel(f, arg, preset)),
  );
}
