import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseStepRule, splitSteps } from '../../../../src/core/feedback/steps';

/** The step texts, and a check that every offset range points at its text. */
function texts(text: string, rule?: Parameters<typeof splitSteps>[1]): { rule: string; steps: string[] } {
  const split = splitSteps(text, rule);
  let prevEnd = 0;
  for (const s of split.steps) {
    assert.equal(text.slice(s.start, s.end), s.text, 'offsets point at the step text');
    assert.ok(s.start >= prevEnd && s.end > s.start, 'ordered, non-overlapping, non-empty');
    assert.equal(s.text, s.text.trim(), 'steps are trimmed');
    prevEnd = s.end;
  }
  return { rule: split.rule, steps: split.steps.map((s) => s.text) };
}

describe('splitSteps', () => {
  it('numbered steps keep continuation lines and a preamble', () => {
    const t = "Let's solve it.\n1. Add 2 and 3.\n   That gives 5.\n2) Multiply by 4.\nStep 3: The answer is 20.\n";
    assert.deepEqual(texts(t), { rule: 'numbered', steps: ["Let's solve it.", '1. Add 2 and 3.\n   That gives 5.', '2) Multiply by 4.', 'Step 3: The answer is 20.'] });
  });

  it('does not take a decimal number at a line start for a step marker', () => {
    const t = '3.5 is the price.\nIt went up.';
    assert.deepEqual(texts(t), { rule: 'lines', steps: ['3.5 is the price.', 'It went up.'] });
  });

  it('auto falls back to paragraphs, then lines, then sentences', () => {
    assert.deepEqual(texts('First part\nstill first.\n\n\nSecond part.\r\n\r\nThird.'), { rule: 'paragraphs', steps: ['First part\nstill first.', 'Second part.', 'Third.'] });
    assert.deepEqual(texts('a line\nanother line\n'), { rule: 'lines', steps: ['a line', 'another line'] });
    assert.deepEqual(texts('It is 3.5 km away. Walk north! Is it far? "Yes." Done'), { rule: 'sentences', steps: ['It is 3.5 km away.', 'Walk north!', 'Is it far?', '"Yes."', 'Done'] });
  });

  it('an explicit rule is followed even when another would split more', () => {
    const t = '1. One. Two.\n2. Three.';
    assert.deepEqual(texts(t, 'sentences').steps, ['1. One.', 'Two.', '2. Three.']);
    assert.deepEqual(texts(t, 'numbered').steps, ['1. One. Two.', '2. Three.']);
    assert.deepEqual(texts('just one step', 'numbered'), { rule: 'numbered', steps: ['just one step'] });
  });

  it('blank text has no steps; one sentence is one step', () => {
    assert.deepEqual(texts('   \n\n  ').steps, []);
    assert.deepEqual(texts('  hello world ').steps, ['hello world']);
  });

  it('parses rule names', () => {
    assert.equal(parseStepRule('paragraphs'), 'paragraphs');
    assert.equal(parseStepRule('words'), undefined);
    assert.equal(parseStepRule(3), undefined);
  });
});
