import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runInspection } from '../../core/eval/inspectRunner';
import { topSpans } from '../../core/eval/rewardSpans';
import { rewardModelRuns } from '../../core/judges/rewardModelJudge';
import { ComparisonRewardHeat, ComparisonRewardHeatError, type RecordInspection, type ResponseInspection, type RewardHeatView, type SpanReward } from '../../protocol/rewardInspection';
import { describeError } from '../../util/errors';
import { bundledCli } from '../judges/judgeFeature';
import { isDataset, recordAtLine, type DatasetScans } from '../labeling/datasetScans';

/** A record inspected by a reward model. */
export interface Inspected {
  /** The reward model folder. */
  readonly model: string;
  readonly record: RecordInspection;
}

const SETTING = 'rewardInspection.model';
const REMEMBERED = 'alignment.rewardInspection.model';

/**
 * Where in a response a reward model gives and takes reward (`alignment inspect-rm`, in the bundled CLI's process).
 * The reward model is the `alignment.rewardInspection.model` setting, else the one picked last in this workspace,
 * else the user picks one (a reward-model run of the workspace or a folder). Results are kept per model, dataset,
 * file version and record, so turning an overlay off and on again does not score again.
 */
export class RewardInspector {
  private readonly cache = new Map<string, Promise<RecordInspection>>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The reward model to inspect `file`'s records with; undefined when the user backed out. */
  async model(file: string): Promise<string | undefined> {
    const configured = vscode.workspace.getConfiguration('alignment').get<string>(SETTING)?.trim();
    if (configured) return path.resolve(vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath ?? '', configured);
    const remembered = this.context.workspaceState.get<string>(REMEMBERED);
    if (remembered && fs.existsSync(remembered)) return remembered;
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file)) ?? vscode.workspace.workspaceFolders?.[0];
    const runs = folder ? await rewardModelRuns(folder.uri.fsPath).catch(() => []) : [];
    const browse = { label: `$(folder-opened) ${vscode.l10n.t('Choose a reward model folder…')}`, detail: vscode.l10n.t('a Hugging Face sequence-classification model (config.json, *.safetensors, tokenizer.json) or a run folder'), dir: '' };
    const pick = await vscode.window.showQuickPick([...runs.map((r) => ({ label: r.name, description: `${r.method} · ${r.status}`, detail: vscode.workspace.asRelativePath(r.dir), dir: r.dir })), browse], {
      placeHolder: runs.length ? vscode.l10n.t('Reward model to inspect with: a reward-model run of this workspace, or a folder') : vscode.l10n.t('No finished reward-model run in this workspace: choose a reward model folder'),
    });
    const dir = pick === browse ? (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: vscode.l10n.t('Inspect with This Reward Model') }))?.[0]?.fsPath : pick?.dir;
    if (dir) await this.context.workspaceState.update(REMEMBERED, dir);
    return dir;
  }

  /** Inspects one record of `file`; undefined when no reward model was chosen. Rejects with the CLI's message. */
  async inspect(file: string, recordId: string): Promise<Inspected | undefined> {
    const model = await this.model(file);
    if (!model) return undefined;
    const cli = bundledCli(this.context);
    if (!cli) return undefined;
    const key = JSON.stringify([model, file, fs.statSync(file).mtimeMs, recordId]);
    let p = this.cache.get(key);
    if (!p) {
      this.log.info(`Reward inspection: ${path.basename(file)} record ${recordId} with ${model}`);
      p = runInspection({ command: process.execPath, commandArgs: [cli], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, onStderr: (t) => this.log.debug(`inspect-rm: ${t.trim()}`) }, model, file, [recordId]).then((r) => r[0] as RecordInspection);
      this.cache.set(key, p);
      // A picked model that fails (a policy folder, another tokenizer) is forgotten, so the next try asks again.
      p.catch(() => {
        this.cache.delete(key);
        if (this.context.workspaceState.get<string>(REMEMBERED) === model) void this.context.workspaceState.update(REMEMBERED, undefined);
      });
    }
    return { model, record: await p };
  }
}

const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
const spanLine = (s: SpanReward): string => `- ${JSON.stringify(s.text)} ${signed(s.reward)}`;

/** The Inspect Reward report of one response: its rewards and its top positive and negative spans. */
function responseReport(name: string, y: ResponseInspection): string[] {
  const top = topSpans(y.spans, 5);
  return [
    `## ${name}: reward ${y.reward.toFixed(3)} (canonical ${signed(y.canonicalReward)})`,
    '',
    `Empty response Φ(x, ∅) ${y.emptyPrefix.toFixed(3)}; the tokens' dense rewards sum to ${signed(y.reward - y.emptyPrefix)}${y.outside ? ` (end tokens ${signed(y.outside)})` : ''}.${y.truncated ? ' The response was cut to the token limit.' : ''}`,
    '',
    '**Gives reward**',
    '',
    ...(top.positive.length ? top.positive.map(spanLine) : ['- (no span)']),
    '',
    '**Takes reward**',
    '',
    ...(top.negative.length ? top.negative.map(spanLine) : ['- (no span)']),
    '',
  ];
}

/** The Inspect Reward report of a record, as markdown. */
export function inspectionReport(file: string, it: Inspected): string {
  const r = it.record;
  return [
    `# Reward inspection: ${path.basename(file)}, line ${r.line}`,
    '',
    `Reward model: ${it.model}. Dense reward of each token: the change of the reward model's score of the response so far, d_t = Φ(y≤t) − Φ(y<t); canonical = reward − ${r.promptMean.toFixed(3)}, the mean reward of this prompt's responses.`,
    '',
    ...responseReport('chosen', r.chosen),
    ...responseReport('rejected', r.rejected),
  ].join('\n');
}

/**
 * `alignment.inspectReward`: inspects the record under the cursor of a dataset editor and shows its top positive
 * and negative spans beside it (a read-only markdown document). Resolves to the inspection (tests, other commands).
 */
export function registerInspectReward(inspector: RewardInspector, scans: DatasetScans, log: vscode.LogOutputChannel): vscode.Disposable {
  const reports = new Map<string, string>();
  const scheme = 'alignment-reward';
  const changed = new vscode.EventEmitter<vscode.Uri>();
  return vscode.Disposable.from(
    changed,
    vscode.workspace.registerTextDocumentContentProvider(scheme, { onDidChange: changed.event, provideTextDocumentContent: (uri) => reports.get(uri.path) ?? '' }),
    vscode.commands.registerCommand('alignment.inspectReward', async (): Promise<Inspected | undefined> => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || !isDataset(editor.document.uri)) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Put the cursor on a record of a preference dataset (.jsonl) to inspect its reward.'));
        return undefined;
      }
      if (editor.document.isDirty) await editor.document.save();
      const file = editor.document.uri.fsPath;
      const rec = recordAtLine(await scans.get(file), editor.selection.active.line + 1);
      if (!rec || !rec.valid) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Line {0} is not a valid record: see the Problems panel.', editor.selection.active.line + 1));
        return undefined;
      }
      try {
        const it = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Inspecting the reward of line {0}…', rec.line) }, () => inspector.inspect(file, rec.id));
        if (!it) return undefined;
        const docPath = `/${path.basename(file)}-line-${rec.line}.md`;
        reports.set(docPath, inspectionReport(file, it));
        const uri = vscode.Uri.from({ scheme, path: docPath });
        changed.fire(uri);
        const doc = await vscode.languages.setTextDocumentLanguage(await vscode.workspace.openTextDocument(uri), 'markdown');
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
        return it;
      } catch (e) {
        const { message } = describeError(e);
        log.error(`Reward inspection: ${message}`);
        void vscode.window.showErrorMessage(vscode.l10n.t('Reward inspection: {0}', message));
        return undefined;
      }
    }),
  );
}

/** What the comparison panel needs of an inspector. */
export interface RewardHeatSource {
  inspect(file: string, recordId: string): Promise<Inspected | undefined>;
}

/**
 * The comparison panel's heat overlay message for the shown pair: its outputs' dense rewards as displayed (A =
 * `order[0]`, B = `order[1]`, each `chosen` or `rejected`), or an error message naming what went wrong.
 */
export async function rewardHeatMessage(
  source: RewardHeatSource,
  file: string,
  pair: { readonly recordId: string; readonly order: readonly string[] },
): Promise<ReturnType<typeof ComparisonRewardHeat.create> | ReturnType<typeof ComparisonRewardHeatError.create>> {
  const { recordId } = pair;
  try {
    const it = await source.inspect(file, recordId);
    if (!it) return ComparisonRewardHeatError.create({ recordId, message: vscode.l10n.t('No reward model was chosen: turn the overlay on again to pick one, or set alignment.rewardInspection.model.') });
    const view = (key: string | undefined): RewardHeatView => {
      const y = key === 'chosen' ? it.record.chosen : it.record.rejected;
      return { reward: y.reward, canonicalReward: y.canonicalReward, spans: y.spans };
    };
    return ComparisonRewardHeat.create({ recordId, model: it.model, A: view(pair.order[0]), B: view(pair.order[1]) });
  } catch (e) {
    return ComparisonRewardHeatError.create({ recordId, message: describeError(e).message });
  }
}
