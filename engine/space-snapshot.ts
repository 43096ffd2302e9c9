/**
 * A consistent snapshot of one space: its settings and every memory (record, vector, access
 * statistics, outgoing associations; consolidation citations travel in the record), all read
 * in one LMDB read transaction, so it is exactly the state at the warm tier's applied LSN while
 * writes go on. Backups and exports read spaces only through this; restores and imports write
 * SnapshotMemory values back through the log (LocalSpace.load).
 *
 * memoriesOf() is the one place that enumerates a space's memories: the warm tier's, then the
 * cold tier's (cataloged in the same LMDB environment, so the same transaction sees both; a
 * cold memory's vector is its dequantized int8 copy).
 */
import type { ColdEntry, ColdLocation } from './cold/cold-segments.ts';
import type { MemoryRecord } from './memory.ts';
import type { SpaceId } from './space-id.ts';
import type { SpaceMeta } from './space-meta.ts';
import type { WarmReadView } from './warm/warm-read-view.ts';
import type { AccessRecord, WarmStore } from './warm/warm-store.ts';

export interface SnapshotMemory {
  record: Omit<MemoryRecord, 'lsn'> & { lsn?: number };
  vector: Float32Array | null;
  access: AccessRecord | null;
  associations: Array<{ to: string; weight: number }>;
}

export interface SnapshotSettings {
  /** When the source space was created (ISO 8601). */
  createdAt: string;
  dimension: number | null;
  embedder: string | null;
  settings: Record<string, unknown>;
}

export interface SpaceSnapshot extends SnapshotSettings {
  space: SpaceId;
  /** The LSN the snapshot reflects: every log record up to it, none after. */
  lsn: number;
  memoryCount: number;
  /**
   * Every memory, in id order. Valid only while the callback given to snapshot() runs. Read it
   * with `for await`: the embedded backend yields from an LMDB transaction, PostgreSQL pages.
   */
  memories(): Iterable<SnapshotMemory> | AsyncIterable<SnapshotMemory>;
}

/** Reads one cold memory from its segment (the space's ColdTier). */
export type ColdRead = (location: ColdLocation) => ColdEntry;

function* memoriesOf(view: WarmReadView, cold: ColdRead | undefined): Generator<SnapshotMemory> {
  yield* view.memories();
  if (cold) yield* view.coldMemories(cold);
}

/** Runs `fn` over a snapshot of the warm tier; the read transaction ends when `fn` settles. */
export async function readSnapshot<T>(
  space: { id: SpaceId; meta: SpaceMeta; warm: WarmStore; cold?: ColdRead },
  fn: (snapshot: SpaceSnapshot) => Promise<T>,
): Promise<T> {
  const view = space.warm.readView();
  try {
    return await fn({
      space: space.id,
      lsn: view.appliedLsn(),
      createdAt: space.meta.created_at,
      dimension: view.dimension() ?? space.meta.dimension,
      embedder: space.meta.embedder,
      settings: { ...space.meta.settings },
      memoryCount: view.count(),
      memories: () => memoriesOf(view, space.cold),
    });
  } finally {
    view.done();
  }
}
