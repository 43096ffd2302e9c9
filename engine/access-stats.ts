/**
 * Access statistics and activation. Recall counts as an access; counts gather in memory and
 * are flushed to the warm tier every `accessFlushMs` and at close, never through the log (a
 * read must not cost a durable write). A crash loses at most the counts since the last flush.
 *
 * Activation follows a forgetting curve, computed lazily when read:
 *   activation = (1 + ln(1 + accessCount)) * 2^(-(now - lastTouch) / halfLife)
 * where lastTouch is the last recall, or the time the memory was stored if it was never
 * recalled. Frequent use raises it, disuse halves it every half-life.
 */
import type { MemoryRecord } from './memory.ts';
import type { AccessRecord, WarmStore } from './warm/warm-store.ts';

export interface AccessView {
  accessCount: number;
  /** ms since the epoch, null when never recalled */
  lastAccess: number | null;
}

export class AccessStats {
  private pending = new Map<string, AccessRecord>();
  /** Counts being written by flush(): still counted until the write lands (demotion reads them). */
  private flushing = new Map<string, AccessRecord>();

  constructor(
    private readonly warm: WarmStore,
    private readonly halfLifeMs: number,
  ) {}

  touch(records: readonly MemoryRecord[], at: number): void {
    for (const { id, storedAt } of records) {
      const entry = this.pending.get(id);
      if (entry && entry.since === storedAt) {
        entry.count += 1;
        entry.last = Math.max(entry.last, at);
      } else {
        this.pending.set(id, { count: 1, last: at, since: storedAt });
      }
    }
  }

  /** Counts of this memory: those of an earlier memory under the same id do not carry over. */
  get(record: MemoryRecord): AccessView {
    const mine = (a: AccessRecord | undefined) => (a?.since === record.storedAt ? a : undefined);
    const stored = mine(this.warm.getAccess(record.id));
    const pending = mine(this.pending.get(record.id));
    const flushing = mine(this.flushing.get(record.id));
    const count = (stored?.count ?? 0) + (pending?.count ?? 0) + (flushing?.count ?? 0);
    const last = Math.max(stored?.last ?? 0, pending?.last ?? 0, flushing?.last ?? 0);
    return { accessCount: count, lastAccess: count === 0 ? null : last };
  }

  activation(record: MemoryRecord, view: AccessView, now: number): number {
    const lastTouch = Math.max(view.lastAccess ?? 0, record.storedAt);
    const age = Math.max(0, now - lastTouch);
    return (1 + Math.log1p(view.accessCount)) * 2 ** (-age / this.halfLifeMs);
  }

  forget(id: string): void {
    this.pending.delete(id);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = batch;
    try {
      await this.warm.addAccess(batch);
      this.flushing = new Map();
    } catch (error) {
      this.flushing = new Map();
      // Keep the counts for the next flush rather than losing them to a transient failure.
      for (const [id, delta] of batch) {
        const again = this.pending.get(id);
        const merge = again?.since === delta.since;
        this.pending.set(
          id,
          merge
            ? { ...delta, count: again.count + delta.count, last: Math.max(again.last, delta.last) }
            : (again ?? delta),
        );
      }
      throw error;
    }
  }
}
