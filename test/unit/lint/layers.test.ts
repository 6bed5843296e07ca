// The layering rules of ARCHITECTURE.md are enforced by lint: each forbidden import has a fixture under
// test/fixtures/layering (which mirrors the repo layout) on which the rule must fire, and the allowed directions
// have fixtures on which lint must stay quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ESLint } from 'eslint';

const repo = path.resolve(__dirname, '..', '..', '..');
const fixtures = path.join(repo, 'test', 'fixtures', 'layering');
const LAYER_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

async function lint(rel: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: fixtures, overrideConfigFile: path.join(repo, 'eslint.config.mjs') });
  const [result] = await eslint.lintFiles([path.join(fixtures, rel)]);
  return result.messages.filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).map((m) => m.message);
}

const forbidden: readonly (readonly [string, string, RegExp])[] = [
  ['src/engine imports vscode', 'src/engine/badEngine.ts', /Only src\/host may import vscode/],
  ['src/engine imports core', 'src/engine/badEngineCore.ts', /must not import core/],
  ['src/engine imports training', 'src/engine/badEngineTraining.ts', /must not import training/],
  ['src/core imports the host', 'src/core/badCore.ts', /must not import host/],
  ['src/host imports the engine', 'src/host/badHostEngine.ts', /must not import engine/],
  ['src/host imports training', 'src/host/badHostTraining.ts', /must not import training/],
  ['src/cli imports vscode', 'src/cli/badCli.ts', /Only src\/host may import vscode/],
  ['a node -e string outside engine/runtime loads onnxruntime-node', 'src/host/badOrtString.ts', /onnxruntime-node/],
  ['a webview imports the engine', 'webview/panel/badWebview.ts', /imports only src\/protocol and webview\/shared/],
  ['a webview imports core', 'webview/panel/badWebviewCore.ts', /imports only src\/protocol and webview\/shared/],
  ['a webview imports another panel', 'webview/panel/badWebviewSibling.ts', /imports only src\/protocol and webview\/shared/],
];

for (const [what, file, message] of forbidden) {
  test(`lint fails when ${what}`, async () => {
    const messages = await lint(file);
    assert.equal(messages.length, 1, JSON.stringify(messages));
    assert.match(messages[0], message);
  });
}

for (const [what, file] of [
  ['core importing protocol', 'src/core/goodCore.ts'],
  ['host importing core and protocol', 'src/host/goodHost.ts'],
  ['training importing engine and core', 'src/training/goodTraining.ts'],
  ['a webview importing protocol and webview/shared', 'webview/panel/goodWebview.ts'],
] as const) {
  test(`lint accepts ${what}`, async () => {
    assert.deepEqual(await lint(file), []);
  });
}
