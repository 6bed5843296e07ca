import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { scanJsonl } from '../../../../src/core/datasets/jsonlScan';
import { datasetPairItems } from '../../../../src/core/judges/datasetPairs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairs-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a scanned dataset as pairs to judge: scan ids and lines, conversations rendered, non-pairs counted, limit', async () => {
  const file = path.join(dir, 'mixed.jsonl');
  const rows = [
    JSON.stringify({ id: 'a', prompt: 'Hi?', chosen: 'Hello.', rejected: 'Go away.' }),
    '',
    JSON.stringify({ id: 'b', prompt: 'No pair here', completion: 'x', label: true }),
    'not json',
    JSON.stringify({ id: 'c', prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Sum 2+2' }], chosen: [{ role: 'assistant', content: '4' }], rejected: [{ role: 'assistant', content: '5' }] }),
    JSON.stringify({ prompt: 'no id', chosen: 'yes', rejected: 'no' }),
  ];
  fs.writeFileSync(file, rows.join('\n') + '\n');
  const scan = await scanJsonl(file);
  const { pairs, notPairs } = datasetPairItems(scan);
  assert.deepEqual(pairs.map((p) => [p.recordId.startsWith('sha1:') ? 'sha1' : p.recordId, p.line]), [['a', 1], ['c', 5], ['sha1', 6]]);
  assert.equal(notPairs, 1, 'the unpaired record (the unparsable line is no record)');
  assert.deepEqual(pairs[0]?.a, { key: 'chosen', text: 'Hello.' });
  assert.deepEqual(pairs[0]?.b, { key: 'rejected', text: 'Go away.' });
  assert.equal(pairs[1]?.prompt, '[System]\nBe brief.\n\n[User]\nSum 2+2');
  assert.equal(pairs[1]?.a.text, '4');
  const two = datasetPairItems(scan, 2);
  assert.deepEqual(two.pairs.map((p) => p.recordId), ['a', 'c']);
  assert.equal(two.notPairs, 1);
});
