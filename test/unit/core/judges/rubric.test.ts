import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineOrders, combineRatings } from '../../../../src/core/judges/openaiJudge';
import type { OrderVerdict } from '../../../../src/core/judges/judgeTypes';
import { DEFAULT_PAIRWISE_RUBRIC, DEFAULT_RATING_RUBRIC, parsePairVerdict, parseRating, renderTemplate, TemplateError, validateTemplate } from '../../../../src/core/judges/rubric';

describe('verdict parsing', () => {
  it('reads the final verdict line in its common spellings', () => {
    assert.deepEqual(parsePairVerdict('reasoning...\nVerdict: A'), { verdict: 'A' });
    assert.deepEqual(parsePairVerdict('**Verdict:** B'), { verdict: 'B' });
    assert.deepEqual(parsePairVerdict('Final verdict: [[tie]]'), { verdict: 'tie' });
    assert.deepEqual(parsePairVerdict('verdict: TIE.'), { verdict: 'tie' });
    assert.deepEqual(parsePairVerdict('Confidence: 0.7\nVerdict: B'), { verdict: 'B', confidence: 0.7 });
  });

  it('takes the last verdict, so quoting the format earlier does not count', () => {
    assert.deepEqual(parsePairVerdict('I must answer like\nVerdict: A\nbut in fact\nVerdict: B'), { verdict: 'B' });
  });

  it('reads a JSON verdict with an optional confidence', () => {
    assert.deepEqual(parsePairVerdict('Here: {"winner": "b", "confidence": 0.9}'), { verdict: 'B', confidence: 0.9 });
    assert.deepEqual(parsePairVerdict('{"winner": "A", "confidence": 7}'), { verdict: 'A' });
  });

  it('returns undefined when there is no verdict', () => {
    assert.equal(parsePairVerdict('Both are fine.'), undefined);
    assert.equal(parsePairVerdict('The verdict: A is better'), undefined);
    assert.equal(parsePairVerdict('{"winner": "C"}'), undefined);
  });

  it('reads ratings within the scale only', () => {
    assert.equal(parseRating('ok\nRating: 4', 5), 4);
    assert.equal(parseRating('Rating: 8/10', 10), 8);
    assert.equal(parseRating('{"rating": 3}', 5), 3);
    assert.equal(parseRating('Rating: 6', 5), undefined);
    assert.equal(parseRating('Rating: 0', 5), undefined);
    assert.equal(parseRating('no rating', 5), undefined);
  });
});

describe('templates', () => {
  it('fills variables in one pass: braces inside a response are not expanded', () => {
    const out = renderTemplate('Q: {{prompt}}\nA: {{response}}', { prompt: 'say {{response}}', response: 'x' });
    assert.equal(out, 'Q: say {{response}}\nA: x');
    assert.throws(() => renderTemplate('{{prompt}} {{response}}', { prompt: 'p' }), TemplateError);
  });

  it('validates templates and ships default rubrics that pass', () => {
    assert.deepEqual(validateTemplate(DEFAULT_PAIRWISE_RUBRIC, ['prompt', 'response_a', 'response_b']), []);
    assert.deepEqual(validateTemplate(DEFAULT_RATING_RUBRIC, ['prompt', 'response']), []);
    assert.deepEqual(validateTemplate('{{prompt}} {{respons}}', ['prompt', 'response']), [
      'unknown template variable {{respons}} (known: {{prompt}}, {{response_a}}, {{response_b}}, {{response}}, {{scale}})',
      'missing template variable {{response}}',
    ]);
  });
});

describe('combining the two orders', () => {
  const o = (winner: OrderVerdict['winner'], position: OrderVerdict['position'], confidence = 1): OrderVerdict => ({ winner, position, confidence, text: '', cached: false });

  it('agreeing orders give the verdict with the mean confidence', () => {
    const r = combineOrders(o('A', 'first', 0.8), o('A', 'second', 0.6));
    assert.equal(r.winner, 'A');
    assert.ok(Math.abs(r.confidence - 0.7) < 1e-12);
    assert.equal(r.consistent, true);
    assert.equal(r.positionFollowed, false);
  });

  it('contradicting orders give a tie with the averaged tie mass as confidence', () => {
    const flat = combineOrders(o('A', 'first'), o('B', 'first'));
    assert.equal(flat.winner, 'tie');
    assert.equal(flat.confidence, 0);
    assert.equal(flat.positionFollowed, true);
    const partial = combineOrders(o('A', 'first'), o('tie', 'tie'));
    assert.equal(partial.winner, 'tie');
    assert.equal(partial.confidence, 0.5);
    // A (0.6) against B (0.6): each puts 0.2 on tie.
    assert.ok(Math.abs(combineOrders(o('A', 'first', 0.6), o('B', 'first', 0.6)).confidence - 0.2) < 1e-12);
  });

  it('rating mode: higher rating wins, confidence grows with the gap', () => {
    assert.deepEqual(combineRatings(4, 3, 5), { winner: 'A', confidence: 0.625, mode: 'rating', scores: { a: 4, b: 3 } });
    assert.equal(combineRatings(2, 2, 5).winner, 'tie');
    assert.equal(combineRatings(1, 10, 10).confidence, 1);
  });
});
