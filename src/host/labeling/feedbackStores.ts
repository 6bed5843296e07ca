import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Disposable } from '../shared/lifecycle';
import { FeedbackStore, labelsDirFor } from '../../core/feedback/store';
import { annotatorName, windowWriterId } from './comparisonPanel';

/**
 * One feedback store per dataset for this window, shared by inline labeling, the comparison panel and the views.
 * Each window writes its own journal (host name + a random id per extension host), so two windows labeling the same dataset never write the same file; a watcher on the
 * labels folders reads what other windows (or the AI judge) append.
 */
export class FeedbackStores extends Disposable {
  private readonly stores = new Map<string, FeedbackStore>();
  private readonly changed = this.register(new vscode.EventEmitter<string>());
  /** Fires with a dataset path when its labels changed (here or in another window). */
  readonly onDidChange = this.changed.event;
  readonly writerId: string;

  constructor(private readonly log: vscode.LogOutputChannel) {
    super();
    this.writerId = windowWriterId();
    const watcher = this.register(vscode.workspace.createFileSystemWatcher('**/.alignment/*.labels/*.jsonl'));
    const onJournal = (uri: vscode.Uri) => {
      const labelsDir = path.dirname(uri.fsPath);
      for (const [dataset, store] of this.stores) {
        if (store.labelsDir === labelsDir && store.refresh() > 0) this.changed.fire(dataset);
      }
    };
    this.register(watcher.onDidChange(onJournal));
    this.register(watcher.onDidCreate(onJournal));
    this.register({ dispose: () => this.stores.forEach((s) => s.close()) });
  }

  /** The store of a dataset file, opened on first use (a torn journal tail from a crash is repaired then). */
  get(datasetPath: string): FeedbackStore {
    const key = path.resolve(datasetPath);
    let store = this.stores.get(key);
    if (!store) {
      store = FeedbackStore.open({ datasetPath: key, writerId: this.writerId, annotator: annotatorName() });
      if (store.repair) this.log.warn(`Labels for ${key}: repaired a torn last line in ${store.journalPath} (${JSON.stringify(store.repair)})`);
      for (const p of store.problems) this.log.warn(`Labels: ${p.file}:${p.line}: ${p.message}`);
      this.stores.set(key, store);
    }
    return store;
  }

  /** The store if the dataset already has labels on disk or is open here; undefined otherwise (nothing is created). */
  peek(datasetPath: string): FeedbackStore | undefined {
    const key = path.resolve(datasetPath);
    if (this.stores.has(key)) return this.stores.get(key);
    try {
      fs.accessSync(labelsDirFor(key));
    } catch {
      return undefined;
    }
    return this.get(key);
  }

  /** Tells listeners that this window recorded something for `datasetPath`. */
  notify(datasetPath: string): void {
    this.changed.fire(path.resolve(datasetPath));
  }
}
