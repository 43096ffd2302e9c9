/** The columns a memory is read with, and the row -> MemoryRecord conversion. */
import type { Episode, MemoryRecord, MemoryType } from '../../memory.ts';
import type { AccessView } from './access-counter.ts';

/**
 * Every field of a memory but its vector, plus its stored access counts (those of this very
 * memory: `since` matches its storedAt). bigint columns are read as float8: ms since the epoch
 * and LSNs are integers well inside 2^53, and pg would otherwise return them as strings.
 */
export function memoryColumns(schema: string, m = 'm'): { select: string; join: string } {
  return {
    select: `${m}.id, ${m}.content, ${m}.metadata, ${m}.confidence, ${m}.memory_type, ${m}.tags,
      ${m}.observed_at::float8 AS observed_at, ${m}.suppressed, ${m}.episode, ${m}.consolidation,
      ${m}.stored_at::float8 AS stored_at, ${m}.updated_at::float8 AS updated_at,
      ${m}.lsn::float8 AS lsn, (${m}.embedding IS NOT NULL) AS has_vector,
      coalesce(a.count, 0)::float8 AS access_count, a.last_access::float8 AS last_access`,
    join: `LEFT JOIN ${schema}.access a ON a.space_id = ${m}.space_id AND a.id = ${m}.id AND a.since = ${m}.stored_at`,
  };
}

export interface MemoryRow {
  id: string;
  content: string;
  metadata: Record<string, unknown>;
  confidence: number;
  memory_type: MemoryType;
  tags: string[];
  observed_at: number;
  suppressed: boolean;
  episode: Episode | null;
  consolidation: { sources: string[]; strength: number } | null;
  stored_at: number;
  updated_at: number;
  lsn: number;
  has_vector: boolean;
  access_count: number;
  last_access: number | null;
}

export function recordOf(row: MemoryRow): MemoryRecord {
  return {
    id: row.id,
    content: row.content,
    metadata: row.metadata,
    confidence: row.confidence,
    memoryType: row.memory_type,
    tags: row.tags,
    observedAt: row.observed_at,
    suppressed: row.suppressed,
    ...(row.episode ? { episode: row.episode } : {}),
    ...(row.consolidation ? { consolidation: row.consolidation } : {}),
    storedAt: row.stored_at,
    updatedAt: row.updated_at,
    lsn: row.lsn,
    hasVector: row.has_vector,
  };
}

export function storedAccessOf(row: MemoryRow): AccessView {
  return {
    accessCount: row.access_count,
    lastAccess: row.access_count === 0 ? null : row.last_access,
  };
}
