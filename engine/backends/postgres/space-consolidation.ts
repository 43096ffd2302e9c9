/**
 * Consolidation on PostgreSQL, planned by the engine's own planConsolidations
 * (engine/consolidation.ts): the candidates are the space's uncited episodic memories with a
 * vector; each seed's neighbours come from the same weighed similarity search recall uses
 * (episodic, not suppressed, at or above the similarity), read for every seed up front
 * because the planner asks for them synchronously. The plans are written by the caller, one
 * memory per write transaction.
 */
import {
  planConsolidations,
  type ConsolidationOptions,
  type PlannedConsolidation,
} from '../../consolidation.ts';
import { memoryColumns, recordOf, type MemoryRow } from './memory-rows.ts';
import { filterValues, similarityIds, type RecallContext } from './postgres-recall.ts';
import type { SpaceRow, Tx } from './space-transactions.ts';
import type { SpaceId } from '../../space-id.ts';

export async function planSpaceConsolidations(
  tx: Tx,
  ctx: RecallContext,
  space: { id: SpaceId; row: SpaceRow },
  options: ConsolidationOptions,
): Promise<PlannedConsolidation[]> {
  if (space.row.dimension === null) return [];
  const S = ctx.schema;
  const columns = memoryColumns(S);
  const rows = await tx.query<MemoryRow & { embedding: string }>(
    `SELECT ${columns.select}, m.embedding::text AS embedding FROM ${S}.memories m ${columns.join}
     WHERE m.space_id = $1 AND m.memory_type = 'episodic' AND NOT m.suppressed
       AND m.embedding IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM ${S}.memories c WHERE c.space_id = $1 AND c.cited @> ARRAY[m.id])
     ORDER BY m.id`,
    [space.id],
  );
  const candidates = rows.map((row) => ({
    record: recordOf(row),
    vector: ctx.vectors.parse(row.embedding),
  }));
  const seeds = [...candidates]
    .sort((a, b) => b.record.observedAt - a.record.observedAt)
    .slice(0, options.candidatesMax);
  const neighbours = new Map<Float32Array, string[]>();
  const filter = filterValues({ memoryTypes: ['episodic'] }, false);
  for (const seed of seeds) {
    const hits = await similarityIds(tx, ctx, space, seed.vector, {
      k: options.maxSources * 4,
      threshold: options.similarity,
      filter,
    });
    neighbours.set(
      seed.vector,
      hits.map((hit) => hit.id),
    );
  }
  return planConsolidations(candidates, (vector) => neighbours.get(vector) ?? [], options);
}
