import * as vscode from 'vscode';

/**
 * Base for long-lived host objects, after VS Code's own `base/common/lifecycle.ts`: everything an object
 * creates that needs disposing is `register`ed, and disposing the object disposes them in reverse order.
 */
export abstract class Disposable implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  constructor() {
    live.add(this);
  }

  protected register<T extends vscode.Disposable>(d: T): T {
    if (this.disposed) {
      d.dispose();
    } else {
      this.disposables.push(d);
    }
    return d;
  }

  protected get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    live.delete(this);
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

const live = new Set<Disposable>();

/**
 * Undisposed host objects by class name. Integration tests compare this before and after a suite
 * (VS Code's `ensureNoDisposablesAreLeakedInTestSuite` idea): a panel closed must leave nothing behind.
 */
export function liveDisposables(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of live) out[d.constructor.name] = (out[d.constructor.name] ?? 0) + 1;
  return out;
}
