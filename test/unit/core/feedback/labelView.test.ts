import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelView } from '../../../../src/core/feedback/labelView';
import type { JournalEntry } from '../../../../src/core/feedback/types';

/** Deterministic xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function randomJournal(seed: number, n: number): JournalEntry[] {
  const r = rng(seed);
  const out: JournalEntry[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  for (let i = 0; i < n; i++) {
    const base = { v: 1 as const, id: `e${i}`, recordId: pick(['r1', 'r2', 'r3']), annotator: pick(['alice', 'bob']), timestamp: new Date(1.7e12 + i).toISOString(), source: 'human' as const, seconds: 1, writer: 'w' };
    if (out.length > 0 && r() < 0.35) {
      const target = pick(out); // may be a retraction itself (redo) or already retracted
      out.push({ ...base, recordId: target.recordId, type: 'retract', payload: { entryId: target.id } });
    } else if (r() < 0.5) {
      out.push({ ...base, type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: pick(['chosen', 'rejected', null]) } });
    } else {
      out.push({ ...base, type: 'rating', payload: { target: pick(['chosen', 'rejected']), value: pick([1, 2, 3]), scale: { min: 1, max: 3 } } });
    }
  }
  return out;
}

/** The current state computed the slow, obvious way: replay, then per slot the last entry not retracted. */
function reference(entries: JournalEntry[]): Map<string, string[]> {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const retracted = (id: string, depth = 0): boolean =>
    depth < 100 && entries.some((x) => x.type === 'retract' && x.payload.entryId === id && !retracted(x.id, depth + 1));
  const slots = new Map<string, JournalEntry>();
  for (const e of entries) {
    if (e.type === 'retract' || retracted(e.id)) continue;
    const target = 'target' in e.payload ? String(e.payload.target) : '';
    slots.set(JSON.stringify([e.recordId, e.type, e.annotator, target]), e);
  }
  const out = new Map<string, string[]>();
  for (const e of slots.values()) out.set(e.recordId, [...(out.get(e.recordId) ?? []), e.id].sort());
  void byId;
  return out;
}

function state(v: LabelView): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of v.recordIds()) out.set(id, v.current(id).map((e) => e.id).sort());
  return out;
}

test('incremental view: applying entries one by one equals a fresh build and a brute-force replay, retractions of retractions included', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const journal = randomJournal(seed, 60);
    const inc = new LabelView();
    for (let i = 0; i < journal.length; i++) {
      inc.apply(journal[i]);
      if (i % 7 === 0 || i === journal.length - 1) {
        const prefix = journal.slice(0, i + 1);
        assert.deepEqual(state(inc), reference(prefix), `seed ${seed}, after ${i + 1} entries (vs replay)`);
        assert.deepEqual(state(inc), state(new LabelView(prefix)), `seed ${seed}, after ${i + 1} entries (vs fresh build)`);
      }
    }
    assert.equal(inc.counts().retracted, new LabelView(journal).counts().retracted);
  }
});

test('a retraction that arrives before its entry (another journal read first) still retracts it', () => {
  const e: JournalEntry = { v: 1, id: 'x', recordId: 'r', annotator: 'a', timestamp: '2026-01-01T00:00:00.000Z', source: 'human', seconds: 0, writer: 'w', type: 'eStop', payload: {} };
  const r: JournalEntry = { ...e, id: 'y', type: 'retract', payload: { entryId: 'x' } };
  const v = new LabelView();
  v.apply(r);
  v.apply(e);
  assert.deepEqual(v.current('r'), []);
  assert.equal(v.isRetracted('x'), true);
  v.apply(e); // applying the same entry twice is a no-op
  assert.equal(v.counts().current, 0);
});
