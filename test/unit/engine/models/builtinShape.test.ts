/** The built-in model as the host describes it (it never imports the engine) against the model the engine builds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BUILTIN_MODEL_SHAPE, BUILTIN_MODEL_SIZE } from '../../../../src/core/runs/launchInfo';
import { readSafetensors } from '../../../../src/engine/io/safetensors';
import { ensureBuiltinModel } from '../../../../src/engine/models/builtin';
import { countParameters } from '../../../../src/engine/models/config';
import { readHfConfig } from '../../../../src/engine/models/hfMapping';

test("the built-in model's shape and parameter count are the built model's own", () => {
  const dir = ensureBuiltinModel(fs.mkdtempSync(path.join(os.tmpdir(), 'builtin-shape-')));
  const config = readHfConfig(dir);
  let values = 0;
  for (const [, t] of readSafetensors(path.join(dir, 'model.safetensors')).tensors) values += t.data.length;
  assert.equal(BUILTIN_MODEL_SHAPE.params, values);
  assert.equal(BUILTIN_MODEL_SHAPE.params, countParameters(config));
  assert.deepEqual([BUILTIN_MODEL_SHAPE.layers, BUILTIN_MODEL_SHAPE.hiddenSize, BUILTIN_MODEL_SHAPE.heads, BUILTIN_MODEL_SHAPE.vocabSize, BUILTIN_MODEL_SHAPE.maxPositions], [config.numLayers, config.hiddenSize, config.numHeads, config.vocabSize, config.maxPositions]);
  assert.equal(BUILTIN_MODEL_SIZE, '3.52M');
});
