/**
 * The labeling keys live in labeling mode only: package.json binds exactly the table of labelingKeys.ts, every
 * binding requires the mode's context key, so outside the mode Alt+1/2/3/0, Alt+C and Alt+R stay VS Code's; the
 * macOS keys are Ctrl+Option, never a bare Option that types a character (dead keys, `@` on a German layout).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABELING_KEYS, LABELING_KEY_WHEN, LABELING_MODE_CONTEXT, keyLabel } from '../../../../src/core/feedback/labelingKeys';

interface Binding {
  readonly command: string;
  readonly key: string;
  readonly mac?: string;
  readonly when?: string;
}
const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as {
  contributes: { keybindings: Binding[]; commands: { command: string }[] };
};

/** Evaluates a `when` clause of `&&`-joined terms: `key`, `!key`, `key == value`, `key =~ /re/`. */
function when(clause: string, ctx: Record<string, string | boolean>): boolean {
  return clause.split('&&').every((raw) => {
    const term = raw.trim();
    const re = /^(\S+) =~ \/(.*)\/$/.exec(term);
    if (re) return new RegExp(re[2]).test(String(ctx[re[1]] ?? ''));
    const eq = /^(\S+) == (.*)$/.exec(term);
    if (eq) return String(ctx[eq[1]]) === eq[2];
    if (term.startsWith('!')) return !ctx[term.slice(1)];
    assert.ok(!/[|()]/.test(term), `unsupported when term ${term}`);
    return Boolean(ctx[term]);
  });
}

test('package.json binds exactly the labeling key table, each under the labeling-mode clause', () => {
  const expected = LABELING_KEYS.map((k) => ({ command: k.command, key: k.key, mac: k.mac, when: LABELING_KEY_WHEN }));
  const labeling = pkg.contributes.keybindings.filter((b) => LABELING_KEYS.some((k) => k.command === b.command));
  assert.deepEqual(labeling, expected);
  assert.ok(pkg.contributes.commands.some((c) => c.command === 'alignment.toggleLabelingMode'), 'the toggle is a contributed command');
});

test('outside labeling mode no binding takes a key from the editor; inside it they act in dataset files only', () => {
  const editing = { editorTextFocus: true, resourceExtname: '.jsonl' };
  for (const b of pkg.contributes.keybindings) {
    assert.equal(when(b.when ?? '', { ...editing, [LABELING_MODE_CONTEXT]: false }), false, `${b.key} (${b.command}) is bound outside labeling mode`);
  }
  const on = { ...editing, [LABELING_MODE_CONTEXT]: true };
  assert.equal(when(LABELING_KEY_WHEN, on), true, '.jsonl in labeling mode');
  assert.equal(when(LABELING_KEY_WHEN, { ...on, resourceExtname: '.json' }), true, 'a LLaMA-Factory .json array');
  assert.equal(when(LABELING_KEY_WHEN, { ...on, resourceExtname: '.ts' }), false, 'other files keep their keys');
  assert.equal(when(LABELING_KEY_WHEN, { ...on, editorTextFocus: false }), false, 'the find widget keeps Alt+C / Alt+R');
});

test('the keys the issue named are only labeling keys in the mode', () => {
  for (const key of ['alt+1', 'alt+2', 'alt+3', 'alt+0', 'alt+c', 'alt+r']) {
    const bound = pkg.contributes.keybindings.filter((b) => b.key === key);
    assert.ok(bound.length > 0, `${key} is a labeling key`);
    for (const b of bound) assert.match(b.when ?? '', new RegExp(`(^|&& )${LABELING_MODE_CONTEXT.replace('.', '\\.')} &&`));
  }
});

test('every binding has a macOS key that is not a bare Option chord (which types accents or @)', () => {
  for (const b of pkg.contributes.keybindings) {
    assert.ok(b.mac, `${b.command} has a mac key`);
    const mods = b.mac.split('+').slice(0, -1);
    assert.ok(mods.includes('ctrl') || mods.includes('cmd'), `${b.mac} for ${b.command} types a character on macOS`);
  }
});

test('keyLabel names the key for each platform', () => {
  assert.equal(keyLabel('alignment.labelA', 'linux'), 'Alt+1');
  assert.equal(keyLabel('alignment.critiqueRecord', 'win32'), 'Alt+C');
  assert.equal(keyLabel('alignment.labelA', 'darwin'), '⌃⌥1');
  assert.equal(keyLabel('alignment.labelSteps', 'darwin'), '⌃⌥L');
  assert.equal(keyLabel('alignment.nothing', 'linux'), '');
});
