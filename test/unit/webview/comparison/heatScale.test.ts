import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heatFits, heatScale, heatStep } from '../../../../webview/shared/heatScale';

const span = (text: string, reward: number) => ({ start: 0, end: text.length, text, reward, word: /\S/.test(text) });

test('heat steps: five strengths each way relative to the largest |reward|, tiny rewards untinted', () => {
  assert.equal(heatStep(10, 10), 5);
  assert.equal(heatStep(-10, 10), -5);
  assert.equal(heatStep(2.1, 10), 2);
  assert.equal(heatStep(0.6, 10), 1);
  assert.equal(heatStep(0.4, 10), 0);
  assert.equal(heatStep(-25, 10), -5);
  assert.equal(heatStep(1, 0), 0);
  assert.equal(heatStep(Number.NaN, 1), 0);
});

test('one scale over both outputs, and the overlay only fits the text it was computed for', () => {
  const a = { reward: 1, canonicalReward: 0.5, spans: [span('猫', 3), span('在', -1)] };
  const b = { reward: 0, canonicalReward: -0.5, spans: [span('dog', -4)] };
  assert.equal(heatScale([a, b]), 4);
  assert.ok(heatFits(a, '猫在'));
  assert.ok(!heatFits(a, '猫在垫'));
});
