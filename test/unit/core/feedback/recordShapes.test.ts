import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { detectTriplet, promptText, recordCandidates, tripletProblem } from '../../../../src/core/feedback/recordShapes';
import { candidateText, getFieldPath } from '../../../../src/core/feedback/fieldPath';

describe('recordCandidates', () => {
  it('lists pair fields, then UltraFeedback completions by field path', () => {
    const rec = {
      instruction: 'Say hi',
      chosen: [{ role: 'user', content: 'Say hi' }, { role: 'assistant', content: 'Hi!' }],
      rejected: 'No.',
      completions: [{ model: 'm1', response: 'Hello' }, { model: 'm2', text: 'Hey' }, 'Yo', { model: 'm3' }, [{ role: 'assistant', content: 'Greetings' }]],
    };
    const c = recordCandidates(rec);
    assert.deepEqual(c.map((x) => x.key), ['chosen', 'rejected', 'completions[0].response', 'completions[1].text', 'completions[2]', 'completions[4]']);
    assert.deepEqual(c.map((x) => x.text), ['Hi!', 'No.', 'Hello', 'Hey', 'Yo', 'Greetings']);
    // every key resolves back to its text through the field-path reader the store and export use
    for (const x of c) assert.equal(candidateText(getFieldPath(rec, x.key)), x.text);
  });

  it('finds nothing in a record without outputs', () => {
    assert.deepEqual(recordCandidates({ prompt: 'p', responses: 'not an array', chosen: 5 }), []);
  });
});

describe('promptText', () => {
  it('reads prompt, instruction, message lists and the implicit-prompt form', () => {
    assert.equal(promptText({ prompt: 'p' }), 'p');
    assert.equal(promptText({ instruction: 'do it' }), 'do it');
    assert.equal(promptText({ prompt: [{ role: 'system', content: 's' }, { role: 'user', content: 'q' }] }), 'q');
    assert.equal(promptText({ chosen: [{ role: 'user', content: 'q2' }, { role: 'assistant', content: 'a' }], rejected: [] }), 'q2');
    assert.equal(promptText({ chosen: 'a' }), '');
  });
});

describe('similarity triplets', () => {
  it('accepts anchor/query with a/b, option_a/option_b or candidate_a/candidate_b', () => {
    assert.deepEqual(detectTriplet({ anchor: 'x', a: 'y', b: 'z' }), { anchor: 'anchor', a: 'a', b: 'b' });
    assert.deepEqual(detectTriplet({ query: 'x', option_a: 'y', option_b: [{ role: 'assistant', content: 'z' }] }), { anchor: 'query', a: 'option_a', b: 'option_b' });
    assert.deepEqual(detectTriplet({ anchor: 'x', candidate_a: 'y', candidate_b: 'z' }), { anchor: 'anchor', a: 'candidate_a', b: 'candidate_b' });
  });

  it('rejects records that are not triplets, and says why when they try to be', () => {
    assert.equal(detectTriplet({ prompt: 'x', chosen: 'y', rejected: 'z' }), undefined);
    assert.equal(tripletProblem({ prompt: 'x', chosen: 'y', rejected: 'z' }), undefined);
    assert.equal(detectTriplet({ anchor: 'x', a: 'y' }), undefined);
    assert.match(tripletProblem({ anchor: 'x', a: 'y' }) ?? '', /a\/b, option_a\/option_b, candidate_a\/candidate_b/);
    assert.equal(detectTriplet({ anchor: 3, a: 'y', b: 'z' }), undefined);
    assert.match(tripletProblem({ anchor: 3, a: 'y', b: 'z' }) ?? '', /"anchor" must be text/);
    assert.equal(tripletProblem({ anchor: 'x', a: 'y', b: 'z' }), undefined);
  });
});
