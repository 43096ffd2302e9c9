/** How many memories a demotion batch moves, and which ones. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMOTE_BATCH_MAX, demotionBatch, pickDemotions } from '../../engine/cold/demotion.ts';
import type { MemoryRecord } from '../../engine/memory.ts';

const limits = {
  warmCapacity: 100,
  coldCapacity: 1000,
  walRecordBytesMax: 4 * 1024 * 1024,
  maxMemoryIdChars: 256,
};

test('nothing moves at or under warm capacity; past it, down to 90%', () => {
  assert.equal(demotionBatch({ warm: 100, cold: 0 }, limits), 0);
  assert.equal(demotionBatch({ warm: 101, cold: 0 }, limits), 11);
});

test('a batch is bounded by the room in cold, the batch maximum and the log record size', () => {
  assert.equal(demotionBatch({ warm: 150, cold: 995 }, limits), 5);
  assert.equal(demotionBatch({ warm: 150, cold: 1000 }, limits), 0);
  assert.equal(
    demotionBatch({ warm: 10_000, cold: 0 }, { ...limits, coldCapacity: 1e9 }),
    DEMOTE_BATCH_MAX,
  );
  const small = { ...limits, walRecordBytesMax: 1024, maxMemoryIdChars: 10 };
  assert.equal(demotionBatch({ warm: 10_000, cold: 0 }, small), Math.floor((1024 - 64) / 88));
});

test('lowest activation first, then oldest last touch, then id; skipped ids never', () => {
  const record = (id: string) => ({ id }) as MemoryRecord;
  const activation: Record<string, number> = { a: 2, b: 1, c: 1, d: 0.5, e: 0.1 };
  const last: Record<string, number> = { a: 0, b: 5, c: 3, d: 9, e: 0 };
  const chosen = pickDemotions(['a', 'b', 'c', 'd', 'e'].map(record), 3, {
    skip: (id) => id === 'e',
    activation: (r) => activation[r.id]!,
    lastTouch: (r) => last[r.id]!,
  });
  assert.deepEqual(
    chosen.map((r) => r.id),
    ['d', 'c', 'b'],
  );
});
