/**
 * Backups and exports of a PostgreSQL space read it through one REPEATABLE READ transaction
 * (every statement sees the same snapshot: the state at the space's last LSN when it began),
 * page by page in id order, so a space of any size streams with bounded memory while writes go
 * on. Restores and imports write each memory as it was (ids, timestamps, suppression, citations,
 * access counts) through the same put as remember().
 */
import type { MemoryRecord } from '../../memory.ts';
import type { SpaceId } from '../../space-id.ts';
import type { SnapshotMemory } from '../../space-snapshot.ts';
import { memoryColumns, recordOf, type MemoryRow } from './memory-rows.ts';
import type { Tx } from './space-transactions.ts';
import type { VectorSql } from './vector-sql.ts';

const PAGE_ROWS = 500;

interface SnapshotRow extends MemoryRow {
  embedding: string | null;
  links: Array<{ to: string; weight: number }> | null;
}

/** Every memory of the space in id order, with its vector, access counts and outgoing links. */
export async function* snapshotMemories(
  tx: Tx,
  schema: string,
  vectors: VectorSql,
  space: SpaceId,
): AsyncGenerator<SnapshotMemory> {
  const columns = memoryColumns(schema);
  let after = '';
  for (;;) {
    const rows = await tx.query<SnapshotRow>(
      `SELECT ${columns.select}, m.embedding::text AS embedding,
         (SELECT json_agg(json_build_object('to', l.to_id, 'weight', l.weight) ORDER BY l.to_id)
          FROM ${schema}.associations l WHERE l.space_id = m.space_id AND l.from_id = m.id) AS links
       FROM ${schema}.memories m ${columns.join}
       WHERE m.space_id = $1 AND m.id > $2 ORDER BY m.id LIMIT ${PAGE_ROWS}`,
      [space, after],
    );
    for (const row of rows) {
      const { lsn: _lsn, ...record } = recordOf(row);
      yield {
        record,
        vector: row.embedding === null ? null : vectors.parse(row.embedding),
        access:
          row.access_count > 0 && row.last_access !== null
            ? { count: row.access_count, last: row.last_access, since: row.stored_at }
            : null,
        associations: row.links ?? [],
      };
    }
    if (rows.length < PAGE_ROWS) return;
    after = rows.at(-1)!.id;
  }
}

/** The loaded access counts of a memory just put (counted from its storedAt, as live ones are). */
export async function putAccess(
  tx: Tx,
  schema: string,
  space: SpaceId,
  record: Pick<MemoryRecord, 'id' | 'storedAt'>,
  access: { count: number; last: number },
): Promise<void> {
  await tx.query(
    `INSERT INTO ${schema}.access (space_id, id, count, last_access, since)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (space_id, id) DO UPDATE SET count = EXCLUDED.count,
       last_access = EXCLUDED.last_access, since = EXCLUDED.since`,
    [space, record.id, access.count, access.last, record.storedAt],
  );
}
