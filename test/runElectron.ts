// Runs the API integration suite in an Electron VS Code through @vscode/test-electron, where one can be
// downloaded (not on the offline CI machine, which runs the same suite in code-server: test/e2e/run.mjs).
// Usage: npm run test:electron [-- <workspace folder>]; without a folder, test-output/electron-workspace is made
// afresh as the code-server runner makes its API workspace (test/support/testWorkspaces.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { writeApiWorkspace } from './support/testWorkspaces';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  let workspace = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  let env: Record<string, string> = {};
  if (!workspace) {
    workspace = path.join(root, 'test-output', 'electron-workspace');
    fs.rmSync(workspace, { recursive: true, force: true });
    env = writeApiWorkspace(workspace);
  }
  await runTests({
    extensionTestsEnv: env,
    version: '1.100.3',
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out', 'test', 'integration', 'api', 'index.js'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
  });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
