import * as vscode from 'vscode';
import { DatasetsView } from './datasets/datasetsView';
import { FeedbackStores } from './labeling/feedbackStores';
import { DatasetScans } from './labeling/datasetScans';
import { InlineLabeling } from './labeling/inlineLabeling';
import { LabelingMode } from './labeling/labelingMode';
import { registerLabelCommands } from './labeling/labelCommands';
import { registerComparisonPanel } from './labeling/comparisonPanel';
import { registerMoreFeedback } from './labeling/feedbackCommands';
import { liveDisposables } from './shared/lifecycle';
import { registerJudges } from './judges/judgeCommands';
import { ModelsView } from './models/modelsView';
import { modelsRoot, registerModelDownloads } from './models/downloadModel';
import { registerInspectReward, RewardInspector } from './eval/rewardInspector';
import { registerGpuSupport } from './runs/gpuSupport';
import { DatasetPreviewPanel } from './datasets/datasetPreviewPanel';
import { registerDatasetCommands } from './datasets/datasetCommands';
import { registerGeneralCommands } from './shared/generalCommands';
import { RunsFeature } from './runs/runCommands';
import { useDatasetHistory } from './shared/datasetArg';
import type { RunManager } from './runs/runManager';

/** What `activate` returns: handles that the integration tests (and other extensions) can inspect. */
export interface AlignmentApi {
  readonly datasets: DatasetsView;
  /** Label stores of the datasets labeled in this window. */
  readonly labels: FeedbackStores;
  readonly models: ModelsView;
  /** Training runs of the workspace (start, stop, resume, follow). */
  readonly runs: RunManager;
  /** Undisposed host objects by class (leak checks in tests). */
  readonly liveDisposables: () => Record<string, number>;
}

/** Wiring only: each feature registers itself and hands back what to dispose. */
export function activate(context: vscode.ExtensionContext): AlignmentApi {
  const log = vscode.window.createOutputChannel('Alignment Studio', { log: true });
  context.subscriptions.push(log);
  log.info(`Alignment Studio ${String(context.extension.packageJSON.version)} activating (VS Code ${vscode.version}, trusted: ${vscode.workspace.isTrusted})`);

  useDatasetHistory(context.workspaceState);
  const labels = new FeedbackStores(log);
  const scans = new DatasetScans(log);
  const labelingMode = new LabelingMode();
  const datasets = new DatasetsView(log, labels);
  const models = new ModelsView(log, modelsRoot(context));
  const runs = new RunsFeature(context, log, datasets);
  const inspector = new RewardInspector(context, log);
  context.subscriptions.push(
    labels,
    scans,
    labelingMode,
    new InlineLabeling(labels, scans, log, labelingMode),
    registerLabelCommands(labels, scans, log),
    registerComparisonPanel(context, { log, stores: labels, inspector }),
    registerInspectReward(inspector, scans, log),
    registerJudges(context, { log, stores: labels, scans }),
    registerMoreFeedback(context, labels, scans, log),
    datasets,
    models,
    runs,
    vscode.window.createTreeView(DatasetsView.id, { treeDataProvider: datasets, showCollapseAll: false }),
    vscode.window.createTreeView(ModelsView.id, { treeDataProvider: models }),
    vscode.commands.registerCommand('alignment.refreshModels', () => models.refresh()),
    registerModelDownloads(context, log),
    registerGpuSupport(context, log),
    registerDatasetCommands(context, datasets, log),
    registerGeneralCommands(context, log),
    vscode.window.registerWebviewPanelSerializer(DatasetPreviewPanel.viewType, {
      deserializeWebviewPanel: async (panel, state: unknown) => DatasetPreviewPanel.revive(panel, context.extensionUri, state, log),
    }),
  );
  log.info('Alignment Studio activated');
  return { datasets, labels, models, runs: runs.manager, liveDisposables };
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}
