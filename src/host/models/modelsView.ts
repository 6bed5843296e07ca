import * as vscode from 'vscode';
import * as path from 'node:path';
import { readFile } from 'node:fs/promises';
import { runModelPlace, runPaths } from '../../core/runs/layout';
import { Disposable } from '../shared/lifecycle';
import { formatCount, readModelFolder, type ModelFolderInfo } from '../../core/models/modelInfo';
import { BUILTIN_MODEL_SIZE } from '../../core/runs/launchInfo';
import { downloadedModels } from './downloadModel';

type ModelNode = BuiltinModelItem | ModelFolderItem | DetailItem;

class BuiltinModelItem extends vscode.TreeItem {
  constructor() {
    super(vscode.l10n.t('Built-in tiny model'), vscode.TreeItemCollapsibleState.None);
    this.description = vscode.l10n.t('Llama-style, {0} params · built locally', BUILTIN_MODEL_SIZE);
    this.tooltip = vscode.l10n.t('A {0}-parameter Llama-architecture chat model (RoPE, RMSNorm, SwiGLU, grouped-query attention) and a byte-level BPE tokenizer that Alignment Studio builds from a corpus it ships. Use it to try every method on any machine.', BUILTIN_MODEL_SIZE);
    this.iconPath = new vscode.ThemeIcon('package');
    this.contextValue = 'alignment.model.builtin';
  }
}

class ModelFolderItem extends vscode.TreeItem {
  /**
   * `name`: how the row is named: a downloaded model's hub repo, or the run a run folder's model belongs to (its
   * name or id) with which of its models it is (`dpo run, final`, `step 40`).
   */
  constructor(readonly info: ModelFolderInfo, name?: { readonly hubRepo: string } | { readonly run: string; readonly what: string }) {
    const hubRepo = name && 'hubRepo' in name ? name.hubRepo : undefined;
    const run = name && 'run' in name ? name : undefined;
    super(hubRepo ?? run?.run ?? path.basename(info.folder), vscode.TreeItemCollapsibleState.Collapsed);
    this.resourceUri = vscode.Uri.file(info.folder);
    this.description = `${run ? `${run.what} · ` : ''}${info.modelType}${info.parameters ? ` · ${formatCount(info.parameters)} params` : ''}`;
    if (hubRepo) this.description += ' · downloaded';
    this.tooltip = `${hubRepo ? info.folder : vscode.workspace.asRelativePath(info.folder, false)}\n${info.architectures.join(', ')}`;
    this.iconPath = new vscode.ThemeIcon(info.problems.length ? 'warning' : 'symbol-class');
    this.contextValue = 'alignment.model.folder';
  }
}

class DetailItem extends vscode.TreeItem {
  constructor(label: string, description: string, warning = false) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.description = description;
    this.iconPath = new vscode.ThemeIcon(warning ? 'warning' : 'circle-small');
  }
}

/** The run a model folder belongs to, named as the Runs view names it (its spec's name, else its id). */
async function runOf(folder: string): Promise<{ run: string; what: string } | undefined> {
  const place = runModelPlace(folder);
  if (!place) return undefined;
  const spec = await readFile(runPaths(place.runDir).spec, 'utf8').then((t) => JSON.parse(t) as { name?: unknown; method?: unknown }, () => undefined);
  const name = typeof spec?.name === 'string' && spec.name ? spec.name : place.runId;
  return { run: name, what: `${typeof spec?.method === 'string' ? `${spec.method} run, ` : 'run, '}${place.what}` };
}

/**
 * The Models view: the built-in tiny model, and every Hugging Face-format folder in the workspace
 * (a config.json beside safetensors weights), with its architecture and an estimated parameter count.
 */
export class ModelsView extends Disposable implements vscode.TreeDataProvider<ModelNode> {
  static readonly id = 'alignment.models';
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;

  /** `downloads`: the folder of models downloaded from the Hub (global storage), listed after the built-in one. */
  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly downloads?: string,
  ) {
    super();
    const watcher = this.register(vscode.workspace.createFileSystemWatcher('**/{config.json,*.safetensors}'));
    // A checkpoint writes several of these files at once: one rescan (a workspace file search) for the burst.
    let timer: NodeJS.Timeout | undefined;
    const soon = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => this.refresh(), 500);
    };
    this.register(watcher.onDidCreate(soon));
    this.register(watcher.onDidDelete(soon));
    this.register({ dispose: () => clearTimeout(timer) });
  }

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(e: ModelNode): vscode.TreeItem {
    return e;
  }

  async getChildren(e?: ModelNode): Promise<ModelNode[]> {
    if (e instanceof ModelFolderItem) {
      const i = e.info;
      return [
        new DetailItem('Architecture', i.architectures.join(', ') || i.modelType),
        new DetailItem('Size', [i.layers && `${i.layers} layers`, i.hiddenSize && `d=${i.hiddenSize}`, i.vocabSize && `vocab ${i.vocabSize}`].filter(Boolean).join(' · ')),
        new DetailItem('Weights', i.weightFiles.join(', ') || 'none'),
        ...i.problems.map((p) => new DetailItem('Problem', p, true)),
      ];
    }
    if (e) return [];
    const items: ModelNode[] = [new BuiltinModelItem()];
    for (const d of this.downloads ? downloadedModels(this.downloads) : []) items.push(new ModelFolderItem(await readModelFolder(d.dir), { hubRepo: d.repo }));
    if (!vscode.workspace.workspaceFolders?.length) return items;
    const configs = await vscode.workspace.findFiles('**/config.json', '**/{node_modules,.git,.tools}/**', 200);
    for (const c of configs) {
      const folder = path.dirname(c.fsPath);
      const info = await readModelFolder(folder);
      if (info.weightFiles.length === 0 && info.modelType === 'unknown') continue; // some other tool's config.json
      items.push(new ModelFolderItem(info, await runOf(folder)));
    }
    this.log.info(`Models: found ${items.length - 1} model folder(s)`);
    return items;
  }
}
