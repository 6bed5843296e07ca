/**
 * The spec.json schema the editor validates with (package.json jsonValidation) is the one runSpecSchema builds
 * from the tables resolveRunSpec reads, and it agrees with resolveRunSpec: every resolved spec of every trainable
 * method is valid; a wrong hyperparameter, an unknown field or an unknown method is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { runSpecSchema } from '../../../../src/core/runs/specSchema';
import { resolveRunSpec, trainableMethodIds } from '../../../../src/core/runs/spec';

const ROOT = join(__dirname, '..', '..', '..', '..');
const schema = runSpecSchema();
// enumDescriptions is VS Code's keyword, unknown to Ajv: not strict.
const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);

test('media/schemas/spec.schema.json is what runSpecSchema builds (npm run schemas rewrites it), and package.json points at it', () => {
  assert.deepEqual(JSON.parse(readFileSync(join(ROOT, 'media', 'schemas', 'spec.schema.json'), 'utf8')), schema);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { contributes: { jsonValidation: { fileMatch: string[]; url: string }[] } };
  assert.deepEqual(pkg.contributes.jsonValidation.map((v) => v.url), ['./media/schemas/spec.schema.json']);
});

test('every resolved spec of every trainable method is valid', () => {
  let checked = 0;
  for (const method of trainableMethodIds()) {
    const r = resolveRunSpec({ method, model: { kind: 'builtin' }, data: { path: 'data/pairs.jsonl' }, optimizer: { learningRate: 1e-4 }, lora: { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj'] } }, '/tmp/run');
    if (!r.ok) continue; // a method that needs more (a reward source) is covered by its own spec tests
    assert.equal(validate(JSON.parse(JSON.stringify(r.spec))), true, `${method}: ${JSON.stringify(validate.errors)}`);
    checked++;
  }
  assert.ok(checked >= 8, `${checked} methods resolved without a reward source`);
  assert.ok(validate({ method: 'dpo', data: { path: 'x.jsonl' }, hyperparameters: { beta: 0.1 } }));
});

test('what resolveRunSpec refuses the schema flags too: a hyperparameter out of range or of another method, an unknown field or method', () => {
  const bad = [
    { method: 'dpo', data: { path: 'x.jsonl' }, hyperparameters: { beta: 0 } },
    { method: 'dpo', data: { path: 'x.jsonl' }, hyperparameters: { num_generations: 4 } },
    { method: 'dpo', data: { path: 'x.jsonl' }, batchsize: 8 },
    { method: 'not-a-method', data: { path: 'x.jsonl' } },
    { method: 'dpo', data: { path: 'x.jsonl', format: 'csv' } },
  ];
  for (const spec of bad) {
    assert.equal(resolveRunSpec({ model: { kind: 'builtin' }, ...spec }, '/tmp/run').ok, false, `resolveRunSpec refuses ${JSON.stringify(spec)}`);
    assert.equal(validate(spec), false, `the schema flags ${JSON.stringify(spec)}`);
  }
});
