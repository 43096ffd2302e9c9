/**
 * The hot tier: an in-memory copy of the memories recall returns, up to `capacity`. It is a
 * cache of the warm tier, never the only copy: every change to a memory drops it from here
 * first, so what it serves is always current. When it passes its capacity, the memories with
 * the lowest activation are evicted (down to 90%, so eviction is not paid on every insert).
 * Pressure = occupancy (size / capacity), a measured number in the space's stats.
 */
import type { MemoryRecord } from './memory.ts';

export class HotTier {
  private readonly records = new Map<string, MemoryRecord>();

  constructor(
    readonly capacity: number,
    private readonly activationOf: (record: MemoryRecord, now: number) => number,
  ) {}

  get size(): number {
    return this.records.size;
  }

  get pressure(): number {
    return this.records.size / this.capacity;
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  get(id: string): MemoryRecord | undefined {
    return this.records.get(id);
  }

  ids(): string[] {
    return [...this.records.keys()];
  }

  invalidate(id: string): void {
    this.records.delete(id);
  }

  promote(records: readonly MemoryRecord[], now: number): void {
    for (const record of records) this.records.set(record.id, record);
    if (this.records.size <= this.capacity) return;
    const target = Math.floor(this.capacity * 0.9);
    const ranked = [...this.records.values()]
      .map((record) => ({ id: record.id, activation: this.activationOf(record, now) }))
      .sort((a, b) => a.activation - b.activation || (a.id < b.id ? -1 : 1));
    for (const { id } of ranked.slice(0, this.records.size - target)) this.records.delete(id);
  }
}
