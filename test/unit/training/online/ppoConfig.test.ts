/** PPO's config from the card and its KL controllers (fixed; adaptive against the paper's formula in float64). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultHyperparameters } from '../../../../src/core/methods';
import { KlController, ppoConfig } from '../../../../src/training/online/ppo';
import { adaptiveKlReference } from '../../../support/reference/klController';

test('ppoConfig: TRL defaults from the PPO card; bad values name the hyperparameter', () => {
  const c = ppoConfig();
  assert.deepEqual(
    { kl: c.klCoef, est: c.klEstimator, adaptive: c.adaptiveKl, loss: c.loss, gamma: c.gamma, lam: c.lam, epochs: c.numPpoEpochs, mini: c.numMiniBatches, whiten: c.whitenRewards, eos: c.missingEosPenalty, temp: c.temperature, len: c.responseLength },
    { kl: 0.05, est: 'k1', adaptive: false, loss: { cliprange: 0.2, cliprangeValue: 0.2, vfCoef: 0.1 }, gamma: 1, lam: 0.95, epochs: 4, mini: 1, whiten: false, eos: 0, temp: 0.7, len: 53 },
  );
  assert.equal(defaultHyperparameters('ppo').kl_coef, c.klCoef);
  assert.throws(() => ppoConfig({ kl_estimator: 'k2' }), /hyperparameters\.kl_estimator: "k2" is not one of k1, k3/);
  assert.throws(() => ppoConfig({ num_ppo_epochs: 0 }), /hyperparameters\.num_ppo_epochs: expected an integer >= 1/);
  assert.throws(() => ppoConfig({ gamma: 1.5 }), /hyperparameters\.gamma \/ lam/);
  assert.throws(() => ppoConfig({ value_model: 'x' }), /hyperparameters\.value_model: ppo has no such hyperparameter/);
});

test('KL controller: fixed keeps kl_coef; adaptive matches the float64 reference, including both clips', () => {
  const fixed = new KlController({ klCoef: 0.05, adaptiveKl: false, targetKl: 6, horizon: 10000 });
  fixed.update(100, 64);
  assert.equal(fixed.value, 0.05);
  const rollouts = [
    { kl: 0, n: 64 }, // e clipped at -0.2
    { kl: 5.4, n: 64 }, // e = -0.1
    { kl: 6, n: 32 }, // e = 0
    { kl: 6.9, n: 128 }, // e = 0.15
    { kl: 40, n: 256 }, // e clipped at 0.2
    { kl: 7.2, n: 1000 }, // e = 0.2 exactly
  ];
  const adaptive = new KlController({ klCoef: 0.2, adaptiveKl: true, targetKl: 6, horizon: 1000 });
  const want = adaptiveKlReference(0.2, 6, 1000, rollouts);
  rollouts.forEach((r, i) => {
    adaptive.update(r.kl, r.n);
    assert.ok(Math.abs(adaptive.value - (want[i] as number)) < 1e-15, `rollout ${i}: ${adaptive.value} vs ${want[i]}`);
  });
  // The state round-trips: a restored controller continues as the original.
  const restored = new KlController({ klCoef: 0.2, adaptiveKl: true, targetKl: 6, horizon: 1000 });
  restored.restore(adaptive.state());
  adaptive.update(3, 100);
  restored.update(3, 100);
  assert.equal(restored.value, adaptive.value);
  assert.throws(() => restored.restore({ klCoef: Number.NaN }), /kl_coef NaN/);
  assert.throws(() => adaptive.update(Number.POSITIVE_INFINITY, 1), /KL is Infinity/);
});
