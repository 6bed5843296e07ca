import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addMarkdown,
  jitterWhitespace,
  normalizeWhitespace,
  padLength,
  pairFlipProbe,
  paraphraseWith,
  perturbationProbe,
  positionSwapProbe,
  stripMarkdown,
  truncate,
  type Scorer,
} from '../../../../src/core/eval/perturbation';

const lengthScorer: Scorer = async (_p, r) => r.length / 100;
/** Counts content words, ignoring whitespace and markup. */
const contentScorer: Scorer = async (_p, r) => r.split(/[^A-Za-z]+/).filter((w) => w.length > 3).length;

const items = [
  { prompt: 'q1', response: 'Water boils at 100 degrees Celsius at sea level.' },
  { prompt: 'q2', response: 'Use a   **sharp** knife.\n\nCut   slowly.' },
  { prompt: 'q3', response: '- First step here\n- Second step there' },
];

describe('perturbation probes', () => {
  it('a length-biased scorer rises under padding; a content scorer does not', async () => {
    const pad = await perturbationProbe(lengthScorer, items, padLength('whitespace', 2), { name: 'pad' });
    assert.equal(pad.probe, 'pad');
    assert.equal(pad.n, 3);
    assert.ok(pad.meanDelta > 0);
    assert.equal(pad.changedFraction, 1);
    const stable = await perturbationProbe(contentScorer, items, padLength('whitespace', 2));
    assert.equal(stable.changedFraction, 0);
    assert.equal(stable.meanAbsDelta, 0);
  });

  it('flips a length-biased ranking when the rejected response is padded', async () => {
    const pairs = [{ prompt: 'q', chosen: 'A complete and careful answer.', rejected: 'Short.' }];
    const r = await pairFlipProbe(lengthScorer, pairs, padLength('filler', 1), 'rejected');
    assert.equal(r.accuracyBefore, 1);
    assert.equal(r.accuracyAfter, 0);
    assert.equal(r.flipRate, 1);
    assert.ok(r.meanMarginDelta < 0);
  });

  it('measures position bias of a pairwise scorer', async () => {
    const biased = await positionSwapProbe(async () => 0.9, [{ prompt: 'q', chosen: 'a', rejected: 'b' }, { prompt: 'q', chosen: 'c', rejected: 'd' }]);
    assert.equal(biased.positionBiasRate, 1);
    assert.equal(biased.consistentRate, 0);
    assert.ok(Math.abs(biased.meanInconsistency - 0.8) < 1e-12);
    assert.ok(Math.abs(biased.meanFirstPosition - 0.9) < 1e-12);
    const fair = await positionSwapProbe(async (_p, first, second) => (first.length > second.length ? 0.8 : 0.2), [{ prompt: 'q', chosen: 'longer', rejected: 'x' }]);
    assert.equal(fair.positionBiasRate, 0);
    assert.equal(fair.consistentRate, 1);
    assert.ok(Math.abs(fair.meanInconsistency) < 1e-12);
    await assert.rejects(positionSwapProbe(async () => 3, [{ prompt: 'q', chosen: 'a', rejected: 'b' }]), /pair 0 \(chosen first\).*returned 3/);
  });

  it('built-in perturbations change the text as documented', async () => {
    assert.deepEqual(await truncate(0.5)('', 'one two three four five six'), { response: 'one two three' });
    assert.deepEqual(await truncate(0.5)('', 'one two threefour five six'), { response: 'one two' });
    assert.equal((await stripMarkdown()('', '## Title\n- **bold** and *it* with `code`\n1. [link](http://x)')).response, 'Title\nbold and it with code\nlink');
    assert.equal((await addMarkdown()('', 'First. Second!')).response, '## Answer\n\n- First.\n- Second!');
    assert.equal((await normalizeWhitespace()('', '  a   b \n\n\n\n c ')).response, 'a b\n\nc');
    assert.equal((await jitterWhitespace()('', 'A. B\nC')).response, 'A.  B  \nC');
    assert.equal((await padLength('repeat', 2)('', 'p1\n\np2')).response, 'p1\n\np2\n\np2\n\np2');
    const seen: string[] = [];
    const para = paraphraseWith(async (t) => {
      seen.push(t);
      return t.toUpperCase();
    }, 'prompt');
    assert.deepEqual(await para('hello', 'resp'), { prompt: 'HELLO' });
    assert.deepEqual(seen, ['hello']);
  });

  it('a content scorer is stable under markdown stripping of structured text; the probe reports it', async () => {
    const r = await perturbationProbe(contentScorer, items, stripMarkdown());
    assert.equal(r.changedFraction, 0);
  });

  it('rejects a scorer that returns a non-number, naming the item', async () => {
    await assert.rejects(perturbationProbe(async () => NaN, items, truncate()), /item 0 \(original\)/);
  });
});
