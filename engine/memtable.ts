/**
 * The newest version of every memory whose latest change is durable in the log but not yet in
 * both the warm tier and the vector index (record undefined = deleted). Reads consult it
 * first; that is what makes a write readable and recallable the moment it is acknowledged.
 *
 * An entry "shadows" when an older version of the same id may still be in the warm tier or
 * the index: searches over those must over-fetch by that many to still fill k results.
 */
import { squaredNorm, type MemoryRecord } from './memory.ts';

export interface MemtableEntry {
  lsn: number;
  record: MemoryRecord | undefined;
  vector: Float32Array | undefined;
  /** When the log record became durable (ms since the epoch), for the apply-lag figure. */
  durableAt: number;
  shadows: boolean;
  /** squaredNorm(vector), computed once: recall scans the memtable exactly, often. */
  squaredNorm: number;
}

export class Memtable {
  private readonly entries = new Map<string, MemtableEntry>();
  private shadowing = 0;

  constructor(private readonly inWarm: (id: string) => boolean) {}

  get size(): number {
    return this.entries.size;
  }

  /** Entries whose id may also come back from the warm tier or the index. */
  get shadowCount(): number {
    return this.shadowing;
  }

  get(id: string): MemtableEntry | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  entriesView(): IterableIterator<[string, MemtableEntry]> {
    return this.entries.entries();
  }

  set(id: string, entry: Omit<MemtableEntry, 'shadows' | 'squaredNorm'>): void {
    const previous = this.entries.get(id);
    if (previous?.shadows) this.shadowing -= 1;
    const shadows = this.inWarm(id);
    if (shadows) this.shadowing += 1;
    const norm = entry.vector ? squaredNorm(entry.vector) : 0;
    this.entries.set(id, { ...entry, shadows, squaredNorm: norm });
  }

  /**
   * Called once the warm tier and the index both hold the version written at `lsn`: drops the
   * entry if it is still that version; otherwise a newer version now shadows what was applied.
   */
  settle(id: string, lsn: number): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.lsn === lsn) {
      if (entry.shadows) this.shadowing -= 1;
      this.entries.delete(id);
    } else if (!entry.shadows) {
      entry.shadows = true;
      this.shadowing += 1;
    }
  }
}
