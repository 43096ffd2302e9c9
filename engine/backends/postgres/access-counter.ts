/**
 * Access statistics of the PostgreSQL backend, with the embedded backend's semantics
 * (engine/access-stats.ts): a recall counts as an access; counts gather in memory and are
 * written every `accessFlushMs` and at close, never in the write transaction, so a read never
 * costs a write. A crash loses at most the counts since the last flush. Counts belong to one
 * memory (`since` = its storedAt): a memory stored anew under an old id starts from zero.
 * Several servers each add their own counts; a server sees another's only once flushed.
 */
import type { MemoryRecord } from '../../memory.ts';
import type { SpaceId } from '../../space-id.ts';

export interface AccessDelta {
  count: number;
  /** ms since the epoch */
  last: number;
  since: number;
}

export interface AccessView {
  accessCount: number;
  lastAccess: number | null;
}

export class AccessCounter {
  private pending = new Map<SpaceId, Map<string, AccessDelta>>();

  touch(space: SpaceId, records: readonly MemoryRecord[], at: number): void {
    if (records.length === 0) return;
    let deltas = this.pending.get(space);
    if (!deltas) {
      deltas = new Map();
      this.pending.set(space, deltas);
    }
    for (const { id, storedAt } of records) {
      const entry = deltas.get(id);
      if (entry && entry.since === storedAt) {
        entry.count += 1;
        entry.last = Math.max(entry.last, at);
      } else {
        deltas.set(id, { count: 1, last: at, since: storedAt });
      }
    }
  }

  /** Stored counts (already matched to this memory's storedAt) plus the ones not flushed yet. */
  view(
    space: SpaceId,
    record: Pick<MemoryRecord, 'id' | 'storedAt'>,
    stored: AccessView,
  ): AccessView {
    const delta = this.pending.get(space)?.get(record.id);
    const mine = delta?.since === record.storedAt ? delta : undefined;
    const count = stored.accessCount + (mine?.count ?? 0);
    const last = Math.max(stored.lastAccess ?? 0, mine?.last ?? 0);
    return { accessCount: count, lastAccess: count === 0 ? null : last };
  }

  forget(space: SpaceId, id: string): void {
    this.pending.get(space)?.delete(id);
  }

  forgetSpace(space: SpaceId): void {
    this.pending.delete(space);
  }

  /** Takes every pending count, to be written; give them back with restore() if that fails. */
  drain(): Map<SpaceId, Map<string, AccessDelta>> {
    const batch = this.pending;
    this.pending = new Map();
    return batch;
  }

  restore(space: SpaceId, deltas: Map<string, AccessDelta>): void {
    for (const [id, delta] of deltas) {
      let mine = this.pending.get(space);
      if (!mine) {
        mine = new Map();
        this.pending.set(space, mine);
      }
      const again = mine.get(id);
      if (again?.since === delta.since) {
        again.count += delta.count;
        again.last = Math.max(again.last, delta.last);
      } else if (!again) {
        mine.set(id, { ...delta });
      }
    }
  }
}

/** The forgetting curve of docs/engine.md: (1 + ln(1 + count)) * 2^(-(now - lastTouch) / halfLife). */
export function activationOf(
  record: Pick<MemoryRecord, 'storedAt'>,
  view: AccessView,
  now: number,
  halfLifeMs: number,
): number {
  const lastTouch = Math.max(view.lastAccess ?? 0, record.storedAt);
  const age = Math.max(0, now - lastTouch);
  return (1 + Math.log1p(view.accessCount)) * 2 ** (-age / halfLifeMs);
}
