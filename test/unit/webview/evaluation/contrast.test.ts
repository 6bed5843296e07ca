import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blend, contrastRatio, parseCssColor, relativeLuminance, textOn, DARK_TEXT, LIGHT_TEXT } from '../../../../webview/evaluation/contrast';

test('parses the colour forms the theme variables and computed styles use', () => {
  assert.deepEqual(parseCssColor('#B180D7'), [177, 128, 215]);
  assert.deepEqual(parseCssColor(' #fff '), [255, 255, 255]);
  assert.deepEqual(parseCssColor('#1e1e1e80'), [30, 30, 30]);
  assert.deepEqual(parseCssColor('rgb(30, 30, 30)'), [30, 30, 30]);
  assert.deepEqual(parseCssColor('rgba(255, 0, 10, 0.5)'), [255, 0, 10]);
  assert.equal(parseCssColor('var(--x)'), undefined);
  assert.equal(parseCssColor('#12345'), undefined);
});

test('WCAG luminance and contrast: white 1, black 0, black on white 21:1', () => {
  assert.equal(relativeLuminance([255, 255, 255]), 1);
  assert.equal(relativeLuminance([0, 0, 0]), 0);
  assert.ok(Math.abs(contrastRatio([0, 0, 0], [255, 255, 255]) - 21) < 1e-12);
  // mid grey #777777: luminance 0.184 (hand-computed: ((0.4667 + 0.055) / 1.055)^2.4)
  assert.ok(Math.abs(relativeLuminance([119, 119, 119]) - 0.18447) < 1e-4);
});

test('blending follows the opacity', () => {
  assert.deepEqual(blend([200, 100, 0], [0, 0, 100], 1), [200, 100, 0]);
  assert.deepEqual(blend([200, 100, 0], [0, 0, 100], 0), [0, 0, 100]);
  assert.deepEqual(blend([200, 100, 0], [0, 0, 100], 0.5), [100, 50, 50]);
});

test('dark cells get light text and light cells dark text, in both themes', () => {
  const purpleDark = parseCssColor('#B180D7') as [number, number, number]; // Dark+ charts.purple
  const purpleLight = parseCssColor('#652D90') as [number, number, number]; // Light+ charts.purple
  const bgDark = parseCssColor('#1e1e1e') as [number, number, number];
  const bgLight = parseCssColor('#ffffff') as [number, number, number];
  // Dark theme: a faint cell is nearly the dark background -> light text; a full cell of light purple -> dark text.
  assert.equal(textOn(blend(purpleDark, bgDark, 0.05)), 'light');
  assert.equal(textOn(blend(purpleDark, bgDark, 1)), 'dark');
  // Light theme: a faint cell is nearly white -> dark text; a full cell of deep purple -> light text.
  assert.equal(textOn(blend(purpleLight, bgLight, 0.05)), 'dark');
  assert.equal(textOn(blend(purpleLight, bgLight, 1)), 'light');
  // The choice is the one with more contrast, and it is at least 4.5:1 (WCAG AA) on these cells.
  for (const fill of [blend(purpleDark, bgDark, 0.6), blend(purpleLight, bgLight, 0.6)]) {
    const pick = textOn(fill) === 'dark' ? DARK_TEXT : LIGHT_TEXT;
    const other = pick === DARK_TEXT ? LIGHT_TEXT : DARK_TEXT;
    assert.ok(contrastRatio(pick, fill) >= contrastRatio(other, fill));
    assert.ok(contrastRatio(pick, fill) >= 4.5, `contrast ${contrastRatio(pick, fill).toFixed(2)}`);
  }
});
