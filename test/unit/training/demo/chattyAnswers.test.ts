import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FILLER_CLOSINGS, FILLER_OPENINGS, withFiller } from '../../../../src/training/demo/chattyAnswers';
import { proxyReward } from '../../../../src/training/demo/proxyReward';
import { Rng } from '../../../../src/engine/rng';

const answer = 'The capital of Peru is Lima.';

describe('withFiller (the demo SFT data)', () => {
  it('keeps the answer at rate 0 and always adds one filler sentence at rate 1', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) assert.equal(withFiller(answer, rng, 0), answer);
    let before = 0;
    let after = 0;
    for (let i = 0; i < 200; i++) {
      const a = withFiller(answer, rng, 1);
      assert.notEqual(a, answer);
      const open = FILLER_OPENINGS.find((f) => a === `${f} ${answer}`);
      const close = FILLER_CLOSINGS.find((f) => a === `${answer} ${f}`);
      assert.ok(open !== undefined || close !== undefined, a);
      if (open) before++;
      else after++;
    }
    // Both placements occur (each has probability 1/2; 200 draws).
    assert.ok(before > 60 && after > 60, `${before} before, ${after} after`);
  });

  it('adds filler to about `rate` of the answers, deterministically for a seed', () => {
    const draw = (seed: number): string[] => {
      const rng = new Rng(seed);
      return Array.from({ length: 1000 }, () => withFiller(answer, rng, 0.3));
    };
    const a = draw(5);
    assert.deepEqual(a, draw(5));
    const share = a.filter((x) => x !== answer).length / a.length;
    assert.ok(share > 0.25 && share < 0.35, String(share));
  });

  it('every filler lowers the proxy reward of a correct answer', () => {
    const concise = proxyReward(answer, answer, true).total;
    assert.equal(concise, 1);
    for (const f of FILLER_OPENINGS) assert.ok(proxyReward(`${f} ${answer}`, answer, true).total < concise, f);
    for (const f of FILLER_CLOSINGS) assert.ok(proxyReward(`${answer} ${f}`, answer, true).total < concise, f);
  });

  it('rejects a rate outside [0, 1]', () => {
    assert.throws(() => withFiller(answer, new Rng(0), 1.5), /rate must be in \[0, 1\]/);
    assert.throws(() => withFiller(answer, new Rng(0), Number.NaN), /rate must be in \[0, 1\]/);
  });
});
