/**
 * Which warm memories the background job demotes to the cold tier, and how many at once.
 * When the warm tier passes warm_capacity it is brought down to 90% of it (so demotion is not
 * paid on every write), lowest activation first, ties broken by the oldest last access (or
 * storage time) and then by id, so the choice is deterministic. Bounded by the room left in the
 * cold tier and by the size of one log record.
 */
import type { MemoryRecord } from '../memory.ts';

/** Warm memories are brought down to this share of warm_capacity. */
export const WARM_LOW_WATER = 0.9;
/** Most memories moved by one demote log record (and one segment append). */
export const DEMOTE_BATCH_MAX = 500;

/** How many memories the next batch demotes (0: nothing to do, or no room in the cold tier). */
export function demotionBatch(
  counts: { warm: number; cold: number },
  limits: {
    warmCapacity: number;
    coldCapacity: number;
    walRecordBytesMax: number;
    maxMemoryIdChars: number;
  },
): number {
  if (counts.warm <= limits.warmCapacity) return 0;
  const excess = counts.warm - Math.floor(limits.warmCapacity * WARM_LOW_WATER);
  const room = Math.max(0, limits.coldCapacity - counts.cold);
  // One item of a demote record: the id (up to 4 bytes per char in UTF-8) plus ~48 bytes of numbers.
  const perRecord = Math.max(
    1,
    Math.floor((limits.walRecordBytesMax - 64) / (4 * limits.maxMemoryIdChars + 48)),
  );
  return Math.min(excess, room, DEMOTE_BATCH_MAX, perRecord);
}

/** The `count` warm memories to demote first among `records`, skipping those `skip` names. */
export function pickDemotions(
  records: Iterable<MemoryRecord>,
  count: number,
  rank: {
    skip: (id: string) => boolean;
    activation: (record: MemoryRecord) => number;
    lastTouch: (record: MemoryRecord) => number;
  },
): MemoryRecord[] {
  const scored: Array<{ record: MemoryRecord; activation: number; last: number }> = [];
  for (const record of records) {
    if (!rank.skip(record.id))
      scored.push({ record, activation: rank.activation(record), last: rank.lastTouch(record) });
  }
  return scored
    .sort(
      (a, b) =>
        a.activation - b.activation ||
        a.last - b.last ||
        (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0),
    )
    .slice(0, count)
    .map(({ record }) => record);
}
