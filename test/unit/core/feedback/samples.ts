import { textSha1 } from '../../../../src/core/feedback/fieldPath';
import type { FeedbackType, PayloadByType } from '../../../../src/core/feedback/types';

/** One valid payload per feedback type (two for types with several modes). */
export const validPayloads: { [K in FeedbackType]: PayloadByType[K][] } = {
  comparison: [
    { mode: 'pair', order: ['rejected', 'chosen'], preferred: 'chosen' },
    { mode: 'pair', order: ['chosen', 'rejected'], preferred: null },
    { mode: 'ranking', order: ['responses[0]', 'responses[1]', 'responses[2]'], ranking: [['responses[2]'], ['responses[0]', 'responses[1]']] },
  ],
  rating: [{ target: 'chosen', value: 4, scale: { min: 1, max: 5 } }, { target: 'completion', value: 0, scale: { min: 0, max: 2, labels: ['bad', 'ok', 'good'] } }],
  critique: [
    { target: 'chosen', mode: 'binary', acceptable: false },
    { target: 'rejected', mode: 'multi', labels: ['harmful', 'factual-error'], labelSet: ['helpful', 'harmful', 'factual-error'] },
  ],
  naturalLanguage: [{ text: 'Too long; answer the question first.' }, { target: 'chosen', text: 'Cite the source.' }],
  improvement: [{ target: 'rejected', originalSha1: textSha1('r'), edited: 'A better answer.' }],
  eStop: [{}, { target: 'rejected', reason: 'unsafe instructions' }],
  importance: [{ spans: [{ field: 'prompt', start: 0, end: 5, label: 'key constraint' }, { field: 'chosen', start: 10, end: 12 }] }],
  interTemporal: [{ target: 'chosen', steps: [{ start: 0, end: 10, label: 1 }, { start: 10, end: 25, label: -1 }, { start: 25, end: 30, label: 0 }] }],
  similarity: [{ anchor: 'prompt', a: 'chosen', b: 'rejected', moreSimilar: 'b' }],
  featureTrace: [{ feature: 'formality', direction: 'increasing', items: ['responses[0]', 'responses[2]', 'responses[1]'] }],
  proxyReward: [{ target: 'chosen', score: -0.75, scorer: 'scorers/length.js#score' }],
  implicit: [{ target: 'chosen', signal: 'copy' }, { target: 'chosen', signal: 'accept' }],
};

/** Invalid payloads per type, each with a fragment of the expected problem message. */
export const invalidPayloads: { [K in FeedbackType]: [unknown, RegExp][] } = {
  comparison: [
    [{ mode: 'pair', order: ['a', 'b'], preferred: 'c' }, /preferred: must be one of order/],
    [{ mode: 'pair', order: ['a', 'a'], preferred: 'a' }, /distinct/],
    [{ mode: 'pair', order: ['a'], preferred: null }, /exactly 2/],
    [{ mode: 'ranking', order: ['a', 'b', 'c'], ranking: [['a'], ['b']] }, /rank every candidate/],
    [{ mode: 'vote' }, /mode: expected "pair" or "ranking"/],
  ],
  rating: [
    [{ target: 'chosen', value: 6, scale: { min: 1, max: 5 } }, /value: expected an integer in \[1, 5\]/],
    [{ target: 'chosen', value: 2.5, scale: { min: 1, max: 5 } }, /value: expected an integer/],
    [{ target: 'chosen', value: 1, scale: { min: 5, max: 1 } }, /min must be below max/],
    [{ target: 'chosen', value: 1, scale: { min: 1, max: 3, labels: ['a'] } }, /one label per scale point/],
  ],
  critique: [
    [{ target: 'chosen', mode: 'multi', labels: ['rude'], labelSet: ['helpful'] }, /"rude" is not in labelSet/],
    [{ target: 'chosen', mode: 'binary' }, /acceptable: expected a boolean/],
  ],
  naturalLanguage: [[{ text: '' }, /text: must not be empty/]],
  improvement: [[{ target: 'chosen', originalSha1: 'abc', edited: 'x' }, /originalSha1/]],
  eStop: [[{ reason: 3 }, /reason: expected a string/]],
  importance: [
    [{ spans: [{ field: 'prompt', start: 5, end: 5 }] }, /0 <= start < end/],
    [{ spans: [] }, /at least one span/],
  ],
  interTemporal: [
    [{ target: 'chosen', steps: [{ start: 0, end: 10, label: 2 }] }, /label: expected one of -1, 0, 1/],
    [{ target: 'chosen', steps: [{ start: 0, end: 10, label: 1 }, { start: 5, end: 12, label: 1 }] }, /not overlap/],
  ],
  similarity: [[{ anchor: 'prompt', a: 'chosen', b: 'chosen', moreSimilar: 'a' }, /distinct/]],
  featureTrace: [[{ feature: 'formality', direction: 'up', items: ['a', 'b'] }, /direction/]],
  proxyReward: [[{ target: 'chosen', score: Number.NaN, scorer: 's' }, /score: expected a finite number/]],
  implicit: [[{ target: 'chosen', signal: 'stare' }, /signal/]],
};
