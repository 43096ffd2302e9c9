/**
 * Spreading recall on PostgreSQL: the engine's own spreadActivation (engine/spreading.ts) over
 * the part of the association graph it can reach. That part is read first, hop by hop: for
 * each memory only its `fanOut` strongest positive links can spread (the same choice
 * spreadActivation makes), so at most seeds * fanOut^hops links are read.
 */
import type { MemoryRecord } from '../../memory.ts';
import type { CheckedRecall } from '../../recall-options.ts';
import type { SpaceId } from '../../space-id.ts';
import { spreadActivation, type SpreadOptions } from '../../spreading.ts';
import { memoryColumns, recordOf, storedAccessOf, type MemoryRow } from './memory-rows.ts';
import type { HydratedHit, ScoredId } from './postgres-recall.ts';
import type { Tx } from './space-transactions.ts';

export async function spreadFrom(
  tx: Tx,
  schema: string,
  space: SpaceId,
  seeds: ScoredId[],
  options: SpreadOptions & { k: number; threshold: number; accept: CheckedRecall['accept'] },
): Promise<Array<HydratedHit & { path: string[] }>> {
  const edges = new Map<string, Array<{ to: string; weight: number }>>();
  let frontier = seeds.map((seed) => seed.id);
  for (let hop = 1; hop <= options.hops && frontier.length > 0; hop++) {
    const rows = await tx.query<{ from_id: string; to_id: string; weight: number }>(
      `SELECT from_id, to_id, weight FROM (
         SELECT from_id, to_id, weight,
           row_number() OVER (PARTITION BY from_id ORDER BY weight DESC, to_id) AS rank
         FROM ${schema}.associations
         WHERE space_id = $1 AND from_id = ANY($2::text[]) AND weight > 0
       ) e WHERE rank <= $3`,
      [space, frontier, options.fanOut],
    );
    for (const id of frontier) edges.set(id, []);
    for (const row of rows) edges.get(row.from_id)!.push({ to: row.to_id, weight: row.weight });
    frontier = [...new Set(rows.map((row) => row.to_id))].filter((id) => !edges.has(id));
  }
  const ids = new Set([...seeds.map((s) => s.id), ...[...edges.values()].flat().map((e) => e.to)]);
  const columns = memoryColumns(schema);
  const rows = await tx.query<MemoryRow>(
    `SELECT ${columns.select} FROM ${schema}.memories m ${columns.join}
     WHERE m.space_id = $1 AND m.id = ANY($2::text[])`,
    [space, [...ids]],
  );
  const records = new Map<string, { record: MemoryRecord; row: MemoryRow }>(
    rows.map((row) => [row.id, { record: recordOf(row), row }]),
  );
  const seeded = seeds.flatMap(({ id, score, parts }) => {
    const found = records.get(id);
    return found ? [{ memory: found.record, score, parts }] : [];
  });
  const reached = spreadActivation(
    seeded,
    {
      neighbours: (id) => edges.get(id) ?? [],
      record: (id) => records.get(id)?.record,
      accept: options.accept,
    },
    options,
  );
  return reached
    .filter((hit) => hit.score >= options.threshold)
    .sort((a, b) => b.score - a.score || (a.memory.id < b.memory.id ? -1 : 1))
    .slice(0, options.k)
    .map(({ memory, score, parts, path }) => ({
      record: memory,
      stored: storedAccessOf(records.get(memory.id)!.row),
      score,
      parts,
      path,
    }));
}
