import * as vscode from 'vscode';

/** Commands that belong to no single feature: the log and the walkthrough. */
export function registerGeneralCommands(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('alignment.showLog', () => log.show()),
    vscode.commands.registerCommand('alignment.openWalkthrough', () =>
      vscode.commands.executeCommand('workbench.action.openWalkthrough', `${context.extension.id}#alignment.getStarted`, false),
    ),
  );
}
