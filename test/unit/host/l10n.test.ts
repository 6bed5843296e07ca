/**
 * The runtime strings' bundles (package.json "l10n": "./l10n"): every vscode.l10n.t key in src/ has a zh-cn
 * translation with the same placeholders, the zh-cn bundle holds no key that nothing uses, and the English bundle
 * (written by scripts/l10n.mjs) lists exactly the keys in use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeStrings } from '../../support/l10nStrings';

const ROOT = join(__dirname, '..', '..', '..');
const bundle = (name: string): Record<string, string> => JSON.parse(readFileSync(join(ROOT, 'l10n', name), 'utf8')) as Record<string, string>;
const holes = (s: string): string[] => [...s.matchAll(/\{\d+\}/g)].map((m) => m[0]).sort();

test('zh-cn: every runtime string (vscode.l10n.t in src) has a translation with the same placeholders, and no translation is stale', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { l10n?: string };
  assert.equal(manifest.l10n, './l10n');
  const { keys, nonLiteral } = runtimeStrings(ROOT);
  assert.deepEqual(nonLiteral, [], 'l10n.t takes a single-quoted literal (placeholders {0} for the variable parts)');
  assert.ok(keys.size > 100, `found ${keys.size} runtime strings`);
  const zh = bundle('bundle.l10n.zh-cn.json');
  for (const [s, files] of keys) {
    assert.ok(zh[s] !== undefined, `no zh-cn translation of ${JSON.stringify(s)} (${files.join(', ')}); node scripts/l10n.mjs lists them`);
    assert.deepEqual(holes(zh[s]), holes(s), `placeholders of ${JSON.stringify(s)}`);
    assert.ok(/[\u4e00-\u9fff]/.test(zh[s]) || !/[a-z]{3}/i.test(s.replace(/\{\d+\}/g, '')), `the zh-cn text of ${JSON.stringify(s)} is not Chinese: ${zh[s]}`);
  }
  assert.deepEqual(Object.keys(zh).filter((k) => !keys.has(k)), [], 'zh-cn keys no l10n.t call uses');
});

test('the English bundle l10n/bundle.l10n.json lists exactly the keys in use (node scripts/l10n.mjs writes it)', () => {
  const en = bundle('bundle.l10n.json');
  const { keys } = runtimeStrings(ROOT);
  assert.deepEqual(Object.keys(en).sort(), [...keys.keys()].sort());
  for (const [k, v] of Object.entries(en)) assert.equal(v, k);
});
