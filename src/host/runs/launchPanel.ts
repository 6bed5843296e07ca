import * as vscode from 'vscode';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { Disposable } from '../shared/lifecycle';
import { webviewHtml, webviewOptions } from '../shared/webviewHtml';
import type { RunManager } from './runManager';
import { gpuRuntimeEnv } from './gpuSupport';
import type { DatasetsView } from '../datasets/datasetsView';
import { orderDatasets, recentDatasets, rememberDataset } from '../shared/datasetArg';
import { BUILTIN_MODEL_SHAPE, BUILTIN_MODEL_SIZE, deviceCapacity, estimateForm, launchDefaults, launchDevices, launchMethods, readDevicesReport, type PreflightState } from '../../core/runs/launchInfo';
import { resolveRunSpec } from '../../core/runs/spec';
import { PreflightRunner } from './preflightRunner';
import type { ModelShape } from '../../core/runs/estimate';
import { readModelFolder } from '../../core/models/modelInfo';
import { activeDownloads } from '../models/downloadModel';
import { countRecords } from '../../core/datasets/recordCount';
import { rewardModelRuns } from '../../core/judges/rewardModelJudge';
import { isSequenceClassificationFolder, launchRewardSources } from '../../core/runs/launchRewardSources';
import {
  LaunchBrowse,
  LaunchDevices,
  LaunchEstimateRequest,
  LaunchEstimateResult,
  LaunchInitMsg,
  LaunchPicked,
  LaunchReady,
  LaunchSetSpec,
  LaunchStart,
  LaunchStartFailed,
  type LaunchChoice,
  type LaunchDevice,
  type LaunchRewardFunction,
} from '../../protocol/launch';
import { postToPanel } from '../shared/webviewPost';

/**
 * Probes the devices in a short child process that runs the bundled CLI (`dist/cli.js devices --json`), so the
 * extension host never loads onnxruntime and the probe is the engine's own. The report is checked against the
 * protocol before the form sees it; without one, the CPU stays selectable and each note says why.
 */
export function probeDevices(extensionPath: string, nodePath = process.execPath): Promise<LaunchDevice[]> {
  const cli = path.join(extensionPath, 'dist', 'cli.js');
  return new Promise((resolve) => {
    execFile(nodePath, [cli, 'devices', '--json'], { cwd: extensionPath, timeout: 20_000, env: { ...process.env, ...gpuRuntimeEnv(), ELECTRON_RUN_AS_NODE: '1' } }, (err, stdout, stderr) => {
      // The CLI's own message is its `error:` line; onnxruntime may print warnings before it.
      const lines = (stderr.trim() || err?.message || '').split('\n');
      const failure = err ? `device probe failed: ${lines.find((l) => l.startsWith('error:')) ?? lines[0]}` : undefined;
      resolve(launchDevices(failure ? { failure } : readDevicesReport(stdout)));
    });
  });
}

/**
 * The launch form ("Alignment: Start Training Run"): method with its eight-axis card, base model, dataset,
 * hyperparameters with defaults and help, device with availability, a live memory/time estimate, start from or
 * save to a spec file. Starting hands the spec to the run manager and opens the run's dashboard.
 */
export class LaunchPanel extends Disposable {
  static readonly viewType = 'alignment.launch';
  private static current: LaunchPanel | undefined;

  /** The global storage folder, where measured timings are kept (set once by the Runs feature). */
  static storageDir = path.join(os.tmpdir(), 'alignment-studio');

  static createOrShow(extensionUri: vscode.Uri, runs: RunManager, datasets: DatasetsView | undefined, log: vscode.LogOutputChannel, spec?: Record<string, unknown>, specSource?: string): LaunchPanel {
    const cur = LaunchPanel.current;
    if (cur) {
      cur.panel.reveal();
      if (spec) void postToPanel(cur.panel, LaunchSetSpec.create({ spec, source: specSource ?? 'spec' }));
      return cur;
    }
    const panel = vscode.window.createWebviewPanel(LaunchPanel.viewType, vscode.l10n.t('Start Training Run'), vscode.ViewColumn.Active, webviewOptions(extensionUri));
    return new LaunchPanel(panel, extensionUri, runs, datasets, log, spec, specSource, LaunchPanel.storageDir);
  }

  static get instance(): LaunchPanel | undefined {
    return LaunchPanel.current;
  }

  private devices: Promise<LaunchDevice[]>;
  private readonly shapes = new Map<string, ModelShape | undefined>();
  private readonly preflight: PreflightRunner;
  /** Counts estimate requests: only the latest one's results are posted. */
  private estimates = 0;

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly runs: RunManager,
    private readonly datasets: DatasetsView | undefined,
    private readonly log: vscode.LogOutputChannel,
    private readonly spec: Record<string, unknown> | undefined,
    private readonly specSource: string | undefined,
    storageDir: string,
  ) {
    super();
    LaunchPanel.current = this;
    this.devices = probeDevices(extensionUri.fsPath);
    this.preflight = new PreflightRunner(extensionUri.fsPath, storageDir, (line) => this.log.info(line));
    this.register({ dispose: () => this.preflight.dispose() });
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'launch', 'Start Training Run');
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m).catch((e: unknown) => this.log.error(`Launch form: ${String(e)}`))));
  }

  override dispose(): void {
    if (LaunchPanel.current === this) LaunchPanel.current = undefined;
    super.dispose();
    this.panel.dispose();
  }

  /** The workspace's datasets, the recently used first (the form's default is the first), then by path. */
  private async datasetChoices(): Promise<LaunchChoice[]> {
    const found = (this.datasets ? await this.datasets.datasets() : []).filter((d) => d.count);
    const byPath = new Map(found.map((d) => [d.uri.fsPath, d]));
    return orderDatasets([...byPath.keys()], recentDatasets(), (p) => vscode.workspace.asRelativePath(p, false))
      .flatMap((p) => byPath.get(p) ?? [])
      .map((d) => ({ value: vscode.workspace.asRelativePath(d.uri, false), label: vscode.workspace.asRelativePath(d.uri, false), detail: vscode.l10n.t('{0} records', d.count?.records ?? 0) }));
  }

  private async modelChoices(): Promise<LaunchChoice[]> {
    const out: LaunchChoice[] = [
      { value: 'builtin:chat', label: vscode.l10n.t('Built-in chat model'), detail: vscode.l10n.t('Llama-style, {0} parameters, trained on short dialogues: it answers in text', BUILTIN_MODEL_SIZE) },
      { value: 'builtin', label: vscode.l10n.t('Built-in tiny model (untrained)'), detail: vscode.l10n.t('Llama-style, {0} parameters, random weights', BUILTIN_MODEL_SIZE) },
    ];
    for (const d of activeDownloads()) out.push({ value: d.dir, label: vscode.l10n.t('{0} (downloaded)', d.repo), detail: vscode.l10n.t('Hub commit {0}', d.commit.slice(0, 8)) });
    const configs = await vscode.workspace.findFiles('**/config.json', '**/{node_modules,.git,dist,.tools}/**', 50);
    for (const c of configs) {
      try {
        const info = await readModelFolder(path.dirname(c.fsPath));
        if (!info.weightFiles.length) continue;
        out.push({ value: path.dirname(c.fsPath), label: vscode.workspace.asRelativePath(path.dirname(c.fsPath), false), detail: `${info.modelType}${info.parameters ? `, ${(info.parameters / 1e6).toFixed(1)}M parameters` : ''}` });
      } catch {
        // not a model folder
      }
    }
    return out;
  }

  /**
   * The reward sources the picker adds besides the built-ins, where they can run: the workspace's reward models
   * (reward-model runs' final/, sequence-classification folders), a module when the workspace is trusted, the
   * judge when its settings are set.
   */
  private async rewardSources(): Promise<LaunchRewardFunction[]> {
    const rel = (p: string): string => vscode.workspace.asRelativePath(p, false);
    const runs = this.runs.workspaceDir ? await rewardModelRuns(this.runs.workspaceDir).catch(() => []) : [];
    const models: LaunchChoice[] = runs.map((r) => ({ value: rel(r.dir), label: vscode.l10n.t('{0} (run {1})', rel(r.dir), r.name), detail: `${r.method}, ${r.status}` }));
    const configs = await vscode.workspace.findFiles('**/config.json', '**/{node_modules,.git,dist,.tools}/**', 50);
    for (const c of configs) {
      const dir = path.dirname(c.fsPath);
      if (models.some((m) => m.value === rel(dir))) continue;
      const info = await readModelFolder(dir).catch(() => undefined);
      if (info && isSequenceClassificationFolder(info)) models.push({ value: rel(dir), label: rel(dir), detail: info.architectures.join(', ') });
    }
    const cfg = vscode.workspace.getConfiguration('alignment');
    const baseUrl = cfg.get<string>('judge.baseUrl', '').trim();
    const model = cfg.get<string>('judge.model', '').trim();
    return launchRewardSources({ rewardModels: models, trusted: vscode.workspace.isTrusted, ...(baseUrl && model ? { judge: { baseUrl, model } } : {}) });
  }

  private async modelShape(model: unknown): Promise<ModelShape | undefined> {
    const m = model as { kind?: unknown; path?: unknown } | undefined;
    if (!m || m.kind !== 'hf' || typeof m.path !== 'string') return BUILTIN_MODEL_SHAPE;
    if (this.shapes.has(m.path)) return this.shapes.get(m.path);
    let shape: ModelShape | undefined;
    try {
      const info = await readModelFolder(this.resolvePath(m.path));
      if (info.parameters && info.layers && info.hiddenSize && info.vocabSize) {
        shape = { params: info.parameters, layers: info.layers, hiddenSize: info.hiddenSize, heads: Math.max(1, Math.round(info.hiddenSize / 64)), vocabSize: info.vocabSize };
      }
    } catch {
      shape = undefined;
    }
    this.shapes.set(m.path, shape);
    return shape;
  }

  private resolvePath(p: string): string {
    return path.isAbsolute(p) || !this.runs.workspaceDir ? p : path.join(this.runs.workspaceDir, p);
  }

  private async onMessage(msg: unknown): Promise<void> {
    const post = (m: unknown) => postToPanel(this.panel, m);
    if (LaunchReady.is(msg)) {
      const [models, datasets, rewardSources] = await Promise.all([this.modelChoices(), this.datasetChoices(), this.rewardSources()]);
      await post(LaunchInitMsg.create({ methods: launchMethods(), defaults: launchDefaults(), models, datasets, rewardSources, ...(this.spec ? { spec: this.spec } : {}), ...(this.specSource ? { specSource: this.specSource } : {}) }));
      await post(LaunchDevices.create({ devices: await this.devices }));
    } else if (LaunchEstimateRequest.is(msg)) {
      await this.estimate(msg.params.spec);
    } else if (LaunchStart.is(msg)) {
      if (!vscode.workspace.isTrusted) {
        await post(LaunchStartFailed.create({ problems: [], message: vscode.l10n.t('Training runs are disabled in an untrusted workspace.') }));
        return;
      }
      try {
        const r = await this.runs.start(msg.params.spec);
        if (!r.ok) {
          await post(LaunchStartFailed.create({ problems: r.problems.map((p) => ({ path: p.path, reason: p.reason })) }));
          return;
        }
        this.log.info(`Launch form: started run ${r.id}`);
        const data = msg.params.spec.data;
        const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
        if (typeof data === 'object' && data !== null && typeof (data as { path?: unknown }).path === 'string' && root) rememberDataset(path.resolve(root, (data as { path: string }).path));
        // Close the form first, so the dashboard opens in its place as the active editor.
        this.dispose();
        await vscode.commands.executeCommand('alignment.openDashboard', r.id);
      } catch (e) {
        await post(LaunchStartFailed.create({ problems: [], message: e instanceof Error ? e.message : String(e) }));
      }
    } else if (LaunchBrowse.is(msg)) {
      await this.browse(msg.params.what, msg.params.spec);
    } else {
      this.log.warn(`Launch form: ignored an invalid message: ${JSON.stringify(msg).slice(0, 200)}`);
    }
  }

  /**
   * Posts the estimate of the form's spec: at once with what is known (memory; a remembered timing and report),
   * then again when the calibration session of this spec reports (the truncation preview and the measured time).
   * Nothing of the workspace runs in an untrusted workspace, so there is no calibration there.
   */
  private async estimate(spec: Record<string, unknown>): Promise<void> {
    const ticket = ++this.estimates;
    const data = spec.data as { path?: unknown } | undefined;
    const dataPath = data && typeof data.path === 'string' && data.path ? this.resolvePath(data.path) : undefined;
    let records: number | undefined;
    if (dataPath) records = await countRecords(dataPath).then((c) => c.records, () => undefined);
    const device = typeof spec.device === 'string' ? spec.device : 'auto';
    const devs = await this.devices;
    const chosen = device === 'auto' ? (devs.find((d) => d.id === 'auto')?.picks ?? 'cpu') : device;
    const shape = await this.modelShape(spec.model);
    const capacity = deviceCapacity(chosen, os.cpus().length, os.totalmem());
    const resolved = resolveRunSpec(spec, '(new run folder)');
    const calibrate = resolved.ok && dataPath && records !== undefined && vscode.workspace.isTrusted && this.runs.workspaceDir ? resolved.spec : undefined;
    const post = async (pre?: PreflightState): Promise<void> => {
      if (ticket !== this.estimates) return;
      const est = estimateForm(spec, shape, capacity, records, pre);
      if (dataPath && records === undefined) est.warnings.push(`data.path: cannot read ${String(data?.path)}`);
      await postToPanel(this.panel, LaunchEstimateResult.create(est));
    };
    if (!calibrate || !dataPath) return post();
    const known = await this.preflight.known(calibrate, dataPath);
    if (known.report) return post({ measuring: false, report: known.report });
    await post({ measuring: true, ...(known.timing ? { report: { dataLoss: {}, warnings: [], timing: known.timing } } : {}) });
    // Typing changes the spec every few hundred ms: calibrate the spec that stays.
    await new Promise((r) => setTimeout(r, 800));
    if (ticket !== this.estimates || this.isDisposed) return;
    const report = await this.preflight.run(calibrate, spec, dataPath, this.runs.workspaceDir as string);
    if (report) await post({ measuring: false, report: known.timing && !report.timing ? { ...report, timing: known.timing } : report });
  }

  private async browse(what: 'model' | 'dataset' | 'loadSpec' | 'saveSpec', spec: Record<string, unknown> | undefined): Promise<void> {
    const ws = this.runs.workspaceDir ? vscode.Uri.file(this.runs.workspaceDir) : undefined;
    if (what === 'model') {
      const pick = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, defaultUri: ws, openLabel: vscode.l10n.t('Use this model folder'), title: vscode.l10n.t('A Hugging Face model folder (config.json, *.safetensors, tokenizer.json)') });
      if (!pick?.[0]) return;
      const info = await readModelFolder(pick[0].fsPath).catch((e: unknown) => ({ problems: [String(e)], modelType: '?', parameters: undefined }));
      if (info.problems.length) void vscode.window.showWarningMessage(`${pick[0].fsPath}: ${info.problems.join('; ')}`);
      await postToPanel(this.panel, LaunchPicked.create({ what, choice: { value: pick[0].fsPath, label: vscode.workspace.asRelativePath(pick[0], false), detail: info.modelType } }));
    } else if (what === 'dataset') {
      const pick = await vscode.window.showOpenDialog({ canSelectFiles: true, defaultUri: ws, filters: { [vscode.l10n.t('Datasets and exported labels')]: ['jsonl', 'json'] }, openLabel: vscode.l10n.t('Train on this file') });
      if (!pick?.[0]) return;
      await postToPanel(this.panel, LaunchPicked.create({ what, choice: { value: vscode.workspace.asRelativePath(pick[0], false), label: vscode.workspace.asRelativePath(pick[0], false) } }));
    } else if (what === 'loadSpec') {
      const pick = await vscode.window.showOpenDialog({ canSelectFiles: true, defaultUri: ws, filters: { [vscode.l10n.t('Run spec')]: ['json'] }, openLabel: vscode.l10n.t('Load spec') });
      if (!pick?.[0]) return;
      const loaded = await loadSpecFile(pick[0].fsPath);
      if ('error' in loaded) void vscode.window.showErrorMessage(loaded.error);
      else await postToPanel(this.panel, LaunchSetSpec.create({ spec: loaded.spec, source: vscode.workspace.asRelativePath(pick[0], false) }));
    } else if (spec) {
      const target = await vscode.window.showSaveDialog({ defaultUri: ws ? vscode.Uri.joinPath(ws, 'run-spec.json') : undefined, filters: { [vscode.l10n.t('Run spec')]: ['json'] } });
      if (!target) return;
      await writeFile(target.fsPath, JSON.stringify(spec, null, 2) + '\n', 'utf8');
      void vscode.window.showInformationMessage(vscode.l10n.t('Saved the run spec to {0}; start it later with "Alignment: Start Training Run from Spec File...".', vscode.workspace.asRelativePath(target, false)));
    }
  }
}

/** Reads a spec file for the form: a JSON object, or an error naming the file (and line for bad JSON). */
export async function loadSpecFile(file: string): Promise<{ spec: Record<string, unknown> } | { error: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { error: `${file}: ${e instanceof Error ? e.message : String(e)}` };
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return { error: `${file}: a run spec is a JSON object` };
    const spec = { ...(json as Record<string, unknown>) };
    delete spec.outputDir; // a new run gets its own folder
    return { spec };
  } catch (e) {
    const m = /position (\d+)/.exec(e instanceof Error ? e.message : '');
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : undefined;
    return { error: `${file}${line ? `:${line}` : ''}: not valid JSON (${e instanceof Error ? e.message : String(e)})` };
  }
}
