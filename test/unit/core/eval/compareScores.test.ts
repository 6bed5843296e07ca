import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareScores } from '../../../../src/core/eval/compareScores';
import type { ScoredPairRecord } from '../../../../src/core/eval/report';

const base: ScoredPairRecord[] = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, chosen: Math.sin(i) + 1, rejected: Math.cos(2 * i) }));

describe('compareScores', () => {
  it('puts a positive rescaling with per-pair shifts at distance 0 and a negation at EPIC 1', () => {
    const scaled = base.map((p, i) => ({ ...p, chosen: 4 * p.chosen + i * i, rejected: 4 * p.rejected + i * i }));
    const negated = base.map((p) => ({ ...p, chosen: -p.chosen, rejected: -p.rejected }));
    const c = compareScores([{ name: 'a', pairs: base }, { name: 'b', pairs: scaled }, { name: 'neg', pairs: negated }]);
    assert.equal(c.ids.length, 10);
    const epic = c.distances.find((d) => d.metric === 'EPIC')?.matrix;
    const starc = c.distances.find((d) => d.metric === 'STARC')?.matrix;
    assert.ok(epic && starc);
    assert.deepEqual(epic.names, ['a', 'b', 'neg']);
    assert.ok(Math.abs(epic.values[0][1]) < 1e-9);
    assert.ok(Math.abs(epic.values[0][2] - 1) < 1e-9);
    assert.ok(Math.abs(starc.values[0][1]) < 1e-9);
    assert.ok(Math.abs(starc.values[0][2] - 1) < 1e-9);
    assert.equal(epic.values[1][2], epic.values[2][1]);
  });

  it('aligns by id, leaves out unshared, missing and repeated ids with a note, and refuses what cannot be compared', () => {
    const other = [...base.slice(2).reverse(), { id: 'extra', chosen: 1, rejected: 0 }, { chosen: 1, rejected: 0 }, { id: 'p5', chosen: 0, rejected: 0 }];
    const c = compareScores([{ name: 'a', pairs: base }, { name: 'b', pairs: other }]);
    assert.deepEqual(c.ids, ['p2', 'p3', 'p4', 'p6', 'p7', 'p8', 'p9']);
    assert.equal(c.notes.length, 3);
    assert.ok(Math.abs(c.distances[0].matrix.values[0][1]) < 1e-9, 'the same rewards after alignment');
    assert.throws(() => compareScores([{ name: 'a', pairs: base }]), /at least two/);
    assert.throws(() => compareScores([{ name: 'a', pairs: base }, { name: 'a', pairs: base }]), /distinct name/);
    assert.throws(() => compareScores([{ name: 'a', pairs: base }, { name: 'b', pairs: [{ id: 'zz', chosen: 1, rejected: 0 }] }]), /share no pair id/);
  });
});
