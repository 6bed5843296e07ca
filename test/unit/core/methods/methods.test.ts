import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AXIS_LABELS, DPO_LOSS_TYPE_IDS, METHOD_CARDS, METHOD_IDS, checkHyperparameter, defaultHyperparameters, isDpoLossType, methodCard } from '../../../../src/core/methods';

test('every offered method has a complete card', () => {
  assert.deepEqual(METHOD_CARDS.map((c) => c.id), [...METHOD_IDS]);
  for (const c of METHOD_CARDS) {
    for (const axis of Object.keys(AXIS_LABELS) as (keyof typeof AXIS_LABELS)[]) {
      assert.ok(c.axes[axis].value, `${c.id}.${axis}`);
      assert.ok(c.axes[axis].note.length > 5, `${c.id}.${axis} note`);
    }
    assert.ok(c.summary.length > 80, `${c.id} summary`);
    assert.ok(c.citation.arxiv || c.citation.venue || c.citation.url, `${c.id} citation`);
    assert.ok(c.datasetKinds.length > 0);
    assert.ok(c.defaults.learningRate > 0 && c.defaults.learningRate < 1);
    const names = c.hyperparameters.map((p) => p.name);
    assert.equal(new Set(names).size, names.length, `${c.id}: duplicate hyperparameter`);
    for (const p of c.hyperparameters) {
      assert.ok(p.help.length > 10, `${c.id}.${p.name} help`);
      assert.deepEqual(checkHyperparameter(p, p.default, p.name), [], `${c.id}.${p.name}: default must be valid`);
    }
  }
});

test('axes match the reference examples (ALIGNMENT_REFERENCE.md section 2)', () => {
  const dpo = methodCard('dpo').axes;
  assert.deepEqual(
    [dpo.rm1.value, dpo.rm2.value, dpo.rm3.value, dpo.rl1.value, dpo.rl2.value, dpo.o.value],
    ['implicit', 'preference', 'response', 'reference', 'off-policy', 'offline'],
  );
  for (const id of ['simpo', 'cpo', 'orpo'] as const) {
    assert.equal(methodCard(id).axes.rm1.value, 'implicit');
    assert.equal(methodCard(id).axes.rl1.value, 'reference-free');
    assert.equal(methodCard(id).needsReference, false);
  }
  assert.equal(methodCard('kto').axes.rm2.value, 'pointwise');
  const ppo = methodCard('ppo').axes;
  assert.deepEqual([ppo.rm1.value, ppo.rm3.value, ppo.rl2.value, ppo.o.value], ['explicit', 'token', 'on-policy', 'online']);
  for (const id of ['grpo', 'rloo'] as const) assert.equal(methodCard(id).axes.rl2.value, 'on-policy');
  assert.equal(methodCard('online-dpo').axes.o.value, 'online');
});

test('TRL defaults', () => {
  assert.deepEqual(defaultHyperparameters('dpo'), { beta: 0.1, loss_type: 'sigmoid', label_smoothing: 0, precompute_ref_log_probs: false });
  assert.deepEqual(defaultHyperparameters('kto'), { beta: 0.1, desirable_weight: 1, undesirable_weight: 1, precompute_ref_log_probs: false });
  assert.equal(defaultHyperparameters('simpo').simpo_gamma, 0.5);
  assert.equal(defaultHyperparameters('cpo').cpo_alpha, 1);
  const ppo = defaultHyperparameters('ppo');
  assert.equal(ppo.kl_coef, 0.05);
  assert.equal(ppo.lam, 0.95);
  assert.equal(ppo.gamma, 1);
  assert.equal(ppo.num_ppo_epochs, 4);
  assert.equal(ppo.vf_coef, 0.1);
  assert.equal(defaultHyperparameters('grpo').num_generations, 8);
  assert.equal(defaultHyperparameters('grpo').beta, 0);
  assert.equal(methodCard('dpo').defaults.learningRate, 1e-6);
  assert.equal(methodCard('sft').defaults.learningRate, 2e-5);
  assert.deepEqual(methodCard('dpo').lossTypes?.map((l) => l.id), ['sigmoid', 'ipo', 'hinge', 'cdpo', 'robust', 'sigmoid_norm']);
});

test('hyperparameter checks name the field and the rule', () => {
  const beta = methodCard('dpo').hyperparameters.find((p) => p.name === 'beta')!;
  assert.deepEqual(checkHyperparameter(beta, 0, 'hyperparameters.beta'), ['hyperparameters.beta: must be > 0, got 0']);
  assert.deepEqual(checkHyperparameter(beta, 'x', 'b'), ['b: expected a finite number']);
  const ls = methodCard('dpo').hyperparameters.find((p) => p.name === 'label_smoothing')!;
  assert.equal(checkHyperparameter(ls, 0.5, 'l').length, 1);
  const lt = methodCard('dpo').hyperparameters.find((p) => p.name === 'loss_type')!;
  assert.match(checkHyperparameter(lt, 'nope', 'lt')[0], /expected one of "sigmoid"/);
  const gen = methodCard('grpo').hyperparameters.find((p) => p.name === 'num_generations')!;
  assert.deepEqual(checkHyperparameter(gen, 2.5, 'g'), ['g: expected an integer']);
});

test('DPO loss types: one list, on the card; the loss_type options and the type guard read it', () => {
  const card = methodCard('dpo');
  assert.deepEqual([...DPO_LOSS_TYPE_IDS], card.lossTypes?.map((l) => l.id));
  const lt = card.hyperparameters.find((p) => p.name === 'loss_type');
  assert.ok(lt?.kind === 'choice');
  assert.deepEqual(lt.options.map((o) => o.value), [...DPO_LOSS_TYPE_IDS]);
  assert.ok(DPO_LOSS_TYPE_IDS.every(isDpoLossType));
  assert.equal(isDpoLossType('sppo'), false);
  const online = methodCard('online-dpo').hyperparameters.find((p) => p.name === 'loss_type');
  assert.ok(online?.kind === 'choice');
  assert.deepEqual(online.options.map((o) => o.value), ['sigmoid', 'ipo']);
});
