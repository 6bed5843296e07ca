// The layering rules of ARCHITECTURE.md are enforced by lint: this proves the rules fire on code that
// breaks them (fixtures under test/fixtures/layering mirror the repo layout) and stay quiet on code that doesn't.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ESLint } from 'eslint';

const repo = path.resolve(__dirname, '..', '..', '..');
const fixtures = path.join(repo, 'test', 'fixtures', 'layering');

async function lint(rel: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: fixtures, overrideConfigFile: path.join(repo, 'eslint.config.mjs') });
  const [result] = await eslint.lintFiles([path.join(fixtures, rel)]);
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('lint fails when src/engine imports vscode', async () => {
  const messages = await lint('src/engine/badEngine.ts');
  assert.equal(messages.length, 1, JSON.stringify(messages));
  assert.match(messages[0], /Only src\/host may import vscode/);
});

test('lint fails when src/core imports the host layer', async () => {
  const messages = await lint('src/core/badCore.ts');
  assert.equal(messages.length, 1, JSON.stringify(messages));
  assert.match(messages[0], /must not import host/);
});

test('lint fails when a webview imports the engine', async () => {
  const messages = await lint('webview/panel/badWebview.ts');
  assert.equal(messages.length, 1, JSON.stringify(messages));
  assert.match(messages[0], /must not import engine/);
});

test('lint accepts core importing protocol', async () => {
  assert.deepEqual(await lint('src/core/goodCore.ts'), []);
});
