// ESLint flat config. Besides TypeScript hygiene, its `no-restricted-imports` rules enforce the layers of
// ARCHITECTURE.md: imports only go down (webview -> protocol; host -> protocol/core; session -> engine/core/protocol;
// engine/core never reach up into vscode, host or webview; only engine/runtime loads onnxruntime-node).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const vscodeBan = { name: 'vscode', message: 'Only src/host may import vscode (ARCHITECTURE.md layers).' };
const ortBan = { name: 'onnxruntime-node', message: 'Only src/engine/runtime may import onnxruntime-node.' };
// A layer is reached by a relative path that climbs to it (`../../engine/x`) or by a path through src/.
const up = (...layers) => layers.map((l) => ({
  regex: `^(\\.\\./)+${l}(/|$)|(^|/)src/${l}(/|$)|^(\\.\\./)+src/${l}(/|$)`,
  message: `This layer must not import ${l} (ARCHITECTURE.md layers).`,
}));

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', '.tools/**', '.e2e/**', 'test-output/**', 'bench-results/**', 'demo-output/**', '**/*.mjs', '**/*.js', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'No default exports (HOUSE_STYLE.md).' }],
    },
  },
  {
    // Ambient module declarations (e.g. `*.css` imported as text by esbuild) must use `export default`.
    files: ['**/*.d.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['src/engine/**/*.ts'],
    ignores: ['src/engine/runtime/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [vscodeBan, ortBan], patterns: up('host', 'webview', 'session') }] },
  },
  {
    files: ['src/engine/runtime/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [vscodeBan], patterns: up('host', 'webview', 'session') }] },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [vscodeBan, ortBan], patterns: up('host', 'webview', 'engine', 'session') }] },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [vscodeBan, ortBan], patterns: up('host', 'webview', 'engine', 'core', 'session') }] },
  },
  {
    files: ['src/session/**/*.ts', 'src/cli.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [vscodeBan, ortBan], patterns: up('host', 'webview') }] },
  },
  {
    files: ['src/host/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [ortBan], patterns: up('engine', 'webview', 'session') }] },
  },
  {
    files: ['webview/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [vscodeBan, ortBan], patterns: up('engine', 'core', 'host', 'session') }] },
  },
);
