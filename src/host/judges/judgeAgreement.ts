import * as path from 'node:path';
import { judgeAgreementMarkdown, judgeAgreementSummaries, type JudgeAgreementSummary } from '../../core/judges/judgeRecords';
import { datasetArg } from '../shared/datasetArg';
import { showReport } from '../shared/reportDocs';
import { pickJudgeDataset, type JudgeFeature } from './judgeFeature';

/**
 * "Show Judge Agreement": for each AI judge of a dataset, its agreement with the human labels, its consistency
 * across orders and its position bias, as a Markdown preview (unless `show` is false) and as figures per judge.
 */
export async function showJudgeAgreement(f: JudgeFeature, arg?: unknown, preset?: { readonly show?: boolean }): Promise<{ markdown: string; judges: JudgeAgreementSummary[] } | undefined> {
  const uri = await datasetArg(arg, pickJudgeDataset());
  if (!uri) return undefined;
  const store = f.stores.get(uri.fsPath);
  store.refresh();
  const { judges, problems } = judgeAgreementSummaries(store.view(), uri.fsPath);
  for (const p of problems) f.log.warn(`Judge agreement: ${p}`);
  const section = judgeAgreementMarkdown(store.view(), uri.fsPath);
  const markdown = `# Judge agreement: ${path.basename(uri.fsPath)}\n\n${section || 'No AI judge has labeled this dataset yet. Run "Alignment: AI-Label Dataset".\n'}`;
  if (preset?.show !== false) {
    await showReport(`Judge agreement: ${path.basename(uri.fsPath)}`, markdown);
  }
  return { markdown, judges };
}
