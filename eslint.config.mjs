// ESLint flat config. Besides TypeScript hygiene it enforces the layers of ARCHITECTURE.md (docs/architecture.md):
//   webview -> protocol, webview/shared      host -> core, protocol
//   cli, session -> training, engine, core, protocol (cli may also start a session in-process)
//   training -> engine, core, protocol       engine -> nothing of ours      core -> protocol      protocol -> nothing
//   util (leaf helpers such as durable writes) -> nothing of ours; every layer may import it
// Only src/host imports vscode; only src/engine/runtime loads onnxruntime-node, in imports and in `node -e` strings.
// test/unit/lint/layers.test.ts proves each rule fires on a fixture that breaks it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const vscodeBan = { name: 'vscode', message: 'Only src/host may import vscode (ARCHITECTURE.md layers).' };
const ortBan = { name: 'onnxruntime-node', message: 'Only src/engine/runtime may import onnxruntime-node.' };
// A layer is reached by a relative path that climbs to it (`../../engine/x`) or by a path through src/.
const up = (...layers) => layers.map((l) => ({
  regex: `^(\\.\\./)+${l}(/|$)|(^|/)src/${l}(/|$)|^(\\.\\./)+src/${l}(/|$)`,
  message: `This layer must not import ${l} (ARCHITECTURE.md layers).`,
}));
const layer = (files, bans, paths = [vscodeBan, ortBan], ignores = []) => ({
  files, ignores, rules: { 'no-restricted-imports': ['error', { paths, patterns: up(...bans) }] },
});
// `require('onnxruntime-node')` inside a string run by `node -e` is an import too.
const ortInString = 'onnxruntime-node[\'"]\\s*\\)';
const ortStringBan = [
  { selector: `Literal[value=/${ortInString}/]`, message: 'Only src/engine/runtime may load onnxruntime-node (also not in node -e strings).' },
  { selector: `TemplateElement[value.raw=/${ortInString}/]`, message: 'Only src/engine/runtime may load onnxruntime-node (also not in node -e strings).' },
];
const noDefaultExport = { selector: 'ExportDefaultDeclaration', message: 'No default exports (HOUSE_STYLE.md).' };

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', '.tools/**', '.e2e/**', 'test-output/**', 'bench-results/**', 'demo-output/**', '**/*.mjs', '**/*.js', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', noDefaultExport, ...ortStringBan],
    },
  },
  {
    // Ambient module declarations (e.g. `*.css` imported as text by esbuild) must use `export default`.
    files: ['**/*.d.ts'],
    rules: { 'no-restricted-syntax': ['error', ...ortStringBan] },
  },
  {
    files: ['src/engine/runtime/**/*.ts', '**/test/**/*.ts'],
    ignores: ['**/test/fixtures/**'],
    rules: { 'no-restricted-syntax': ['error', noDefaultExport] },
  },
  {
    // A disposed panel throws "Webview is disposed" on `panel.webview`: posts go through the one guarded helper.
    files: ['src/host/**/*.ts'],
    ignores: ['src/host/shared/webviewPost.ts'],
    rules: {
      'no-restricted-syntax': ['error', noDefaultExport, ...ortStringBan, { selector: "MemberExpression[property.name='postMessage'][object.property.name='webview']", message: 'Post through postToPanel (src/host/shared/webviewPost.ts): a closed panel throws "Webview is disposed".' }],
    },
  },
  {
    // Functions stay short: split by what the code does (ARCHITECTURE.md). No exemptions in src/ and webview/.
    files: ['src/**/*.ts', 'webview/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  // src/util: leaf helpers every layer may use (durable file writes); it imports nothing of ours.
  layer(['**/src/util/**/*.ts'], ['host', 'webview', 'cli', 'session', 'training', 'engine', 'core', 'protocol']),
  layer(['**/src/protocol/**/*.ts'], ['host', 'webview', 'cli', 'session', 'training', 'engine', 'core']),
  layer(['**/src/core/**/*.ts'], ['host', 'webview', 'cli', 'session', 'training', 'engine']),
  layer(['**/src/engine/**/*.ts'], ['host', 'webview', 'cli', 'session', 'training', 'core'], [vscodeBan, ortBan], ['**/src/engine/runtime/**']),
  layer(['**/src/engine/runtime/**/*.ts'], ['host', 'webview', 'cli', 'session', 'training', 'core'], [vscodeBan]),
  layer(['**/src/training/**/*.ts'], ['host', 'webview', 'cli', 'session']),
  layer(['**/src/session/**/*.ts'], ['host', 'webview', 'cli']),
  layer(['**/src/cli/**/*.ts'], ['host', 'webview']),
  layer(['**/src/host/**/*.ts'], ['engine', 'training', 'session', 'cli', 'webview'], [ortBan]),
  {
    // A panel imports only the protocol and webview/shared (not another panel, not src/ beyond protocol).
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [vscodeBan, ortBan],
        patterns: [{
          regex: '^\\.\\./(?!shared(/|$)|\\.\\./src/protocol(/|$))|(^|/)src/(?!protocol(/|$))',
          message: 'A webview imports only src/protocol and webview/shared (ARCHITECTURE.md layers).',
        }],
      }],
    },
  },
);
