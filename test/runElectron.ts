// Runs the API integration suite in an Electron VS Code through @vscode/test-electron, where one can be
// downloaded (not on the offline CI machine, which runs the same suite in code-server: scripts/e2e.sh).
// Usage: npm run test:electron [-- <workspace folder>]
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const workspace = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'test-output', 'electron-workspace');
  await runTests({
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
