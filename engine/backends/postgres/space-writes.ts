/**
 * The SQL of each write, run inside a write transaction (space-transactions.ts: the space row
 * is locked and `lsn` is this write's LSN). Each write changes the memory, keeps the space's
 * counters exact (memories, total tokens for BM25), records its event and sends the NOTIFY in
 * one statement: PostgreSQL delivers the notification only if the transaction commits.
 */
import type { SpaceEventType } from '../../events.ts';
import type { MemoryPatch, MemoryRecord } from '../../memory.ts';
import type { SpaceId } from '../../space-id.ts';
import { documentTerms } from './lexical-terms.ts';
import { memoryColumns, type MemoryRow } from './memory-rows.ts';
import { SqlParams } from './sql-params.ts';
import type { Tx } from './space-transactions.ts';
import type { VectorSql } from './vector-sql.ts';

export interface WriteContext {
  schema: string;
  channel: string;
  vectors: VectorSql;
}

interface EventInput {
  type: SpaceEventType;
  memoryId: string;
  detail: Record<string, unknown>;
}

/** The event row of this write and the notification, as the statement's last CTE and its SELECT. */
function eventTail(
  ctx: WriteContext,
  p: SqlParams,
  space: SpaceId,
  lsn: number,
  event: EventInput,
): string {
  const at = Date.now();
  return `event AS (
      INSERT INTO ${ctx.schema}.events (space_id, lsn, type, memory_id, at, detail)
      VALUES (${p.add(space)}, ${p.add(lsn)}, ${p.add(event.type)}, ${p.add(event.memoryId)}, ${p.add(at)}, ${p.add(JSON.stringify(event.detail))}::json)
    )
    SELECT pg_notify(${p.add(ctx.channel)}, ${p.add(JSON.stringify({ space, lsn }))})`;
}

export async function putMemory(
  tx: Tx,
  ctx: WriteContext,
  space: SpaceId,
  record: MemoryRecord,
  vector: Float32Array | null,
): Promise<void> {
  const p = new SqlParams();
  const s = p.add(space);
  const id = p.add(record.id);
  const terms = documentTerms(record.content);
  const tokens = `${p.add(terms.tokenCount)}::int`;
  const stored = p.add(record.storedAt);
  const S = ctx.schema;
  await tx.query(
    `WITH old AS (SELECT token_count FROM ${S}.memories WHERE space_id = ${s} AND id = ${id}),
    put AS (
      INSERT INTO ${S}.memories (space_id, id, content, metadata, confidence, memory_type, tags,
        observed_at, suppressed, episode, consolidation, cited, stored_at, updated_at, lsn, embedding,
        lexemes, token_count)
      VALUES (${s}, ${id}, ${p.add(record.content)}, ${p.add(JSON.stringify(record.metadata))}::json,
        ${p.add(record.confidence)}, ${p.add(record.memoryType)}, ${p.add(record.tags)}::text[],
        ${p.add(record.observedAt)}, ${p.add(record.suppressed)},
        ${p.add(record.episode === undefined ? null : JSON.stringify(record.episode))}::json,
        ${p.add(record.consolidation === undefined ? null : JSON.stringify(record.consolidation))}::json,
        ${p.add(record.consolidation?.sources ?? [])}::text[],
        ${stored}, ${p.add(record.updatedAt)}, ${p.add(record.lsn)},
        ${ctx.vectors.column(p.add(vector === null ? null : ctx.vectors.format(vector)))},
        ${p.add(terms.tsvector)}::tsvector, ${tokens})
      ON CONFLICT (space_id, id) DO UPDATE SET content = EXCLUDED.content, metadata = EXCLUDED.metadata,
        confidence = EXCLUDED.confidence, memory_type = EXCLUDED.memory_type, tags = EXCLUDED.tags,
        observed_at = EXCLUDED.observed_at, suppressed = EXCLUDED.suppressed, episode = EXCLUDED.episode,
        consolidation = EXCLUDED.consolidation, cited = EXCLUDED.cited,
        stored_at = EXCLUDED.stored_at, updated_at = EXCLUDED.updated_at, lsn = EXCLUDED.lsn,
        embedding = EXCLUDED.embedding, lexemes = EXCLUDED.lexemes, token_count = EXCLUDED.token_count
    ),
    reset AS (DELETE FROM ${S}.access WHERE space_id = ${s} AND id = ${id}),
    counts AS (
      UPDATE ${S}.spaces SET
        memories = memories + CASE WHEN EXISTS (SELECT 1 FROM old) THEN 0 ELSE 1 END,
        lexical_tokens = lexical_tokens + ${tokens} - coalesce((SELECT token_count FROM old), 0)
      WHERE space_id = ${s}
    ),
    ${eventTail(ctx, p, space, record.lsn, { type: 'stored', memoryId: record.id, detail: { content: record.content } })}`,
    p.values,
  );
}

/** Applies a validated patch; resolves the updated row, or undefined when there is no such memory. */
export async function patchMemory(
  tx: Tx,
  ctx: WriteContext,
  space: SpaceId,
  id: string,
  patch: MemoryPatch,
  at: { lsn: number; updatedAt: number },
): Promise<MemoryRow | undefined> {
  const p = new SqlParams();
  const s = p.add(space);
  const mid = p.add(id);
  const S = ctx.schema;
  const sets = [`updated_at = ${p.add(at.updatedAt)}`, `lsn = ${p.add(at.lsn)}`];
  let tokens: string | undefined;
  if (patch.content !== undefined) {
    const terms = documentTerms(patch.content);
    tokens = `${p.add(terms.tokenCount)}::int`;
    sets.push(
      `content = ${p.add(patch.content)}`,
      `lexemes = ${p.add(terms.tsvector)}::tsvector`,
      `token_count = ${tokens}`,
    );
  }
  if (patch.metadata !== undefined)
    sets.push(`metadata = ${p.add(JSON.stringify(patch.metadata))}::json`);
  if (patch.confidence !== undefined) sets.push(`confidence = ${p.add(patch.confidence)}`);
  if (patch.memoryType !== undefined) sets.push(`memory_type = ${p.add(patch.memoryType)}`);
  if (patch.tags !== undefined) sets.push(`tags = ${p.add(patch.tags)}::text[]`);
  if (patch.suppressed !== undefined) sets.push(`suppressed = ${p.add(patch.suppressed)}`);
  if (patch.consolidation !== undefined)
    sets.push(
      `consolidation = ${p.add(JSON.stringify(patch.consolidation))}::json`,
      `cited = ${p.add(patch.consolidation.sources)}::text[]`,
    );
  const columns = memoryColumns(S);
  const rows = await tx.query<MemoryRow>(
    `WITH old AS (SELECT token_count FROM ${S}.memories WHERE space_id = ${s} AND id = ${mid}),
    m AS (
      UPDATE ${S}.memories SET ${sets.join(', ')} WHERE space_id = ${s} AND id = ${mid} RETURNING *
    ),
    counts AS (
      UPDATE ${S}.spaces SET lexical_tokens = lexical_tokens
        + coalesce((SELECT ${tokens ?? 'token_count'} FROM m), 0) - coalesce((SELECT token_count FROM old), 0)
      WHERE space_id = ${s}
    ),
    ${eventTail(ctx, p, space, at.lsn, { type: 'updated', memoryId: id, detail: { fields: Object.keys(patch) } })}
    , ${columns.select} FROM m ${columns.join}`,
    p.values,
  );
  return rows[0];
}

/** Deletes a memory with its links in both directions and its access counts; false when absent. */
export async function deleteMemory(
  tx: Tx,
  ctx: WriteContext,
  space: SpaceId,
  id: string,
  lsn: number,
): Promise<boolean> {
  const p = new SqlParams();
  const s = p.add(space);
  const mid = p.add(id);
  const S = ctx.schema;
  const rows = await tx.query<{ deleted: number }>(
    `WITH gone AS (DELETE FROM ${S}.memories WHERE space_id = ${s} AND id = ${mid} RETURNING token_count),
    links AS (DELETE FROM ${S}.associations WHERE space_id = ${s} AND (from_id = ${mid} OR to_id = ${mid})),
    reset AS (DELETE FROM ${S}.access WHERE space_id = ${s} AND id = ${mid}),
    counts AS (
      UPDATE ${S}.spaces SET memories = memories - (SELECT count(*) FROM gone),
        lexical_tokens = lexical_tokens - coalesce((SELECT sum(token_count) FROM gone), 0)
      WHERE space_id = ${s}
    ),
    ${eventTail(ctx, p, space, lsn, { type: 'forgotten', memoryId: id, detail: {} })}
    , (SELECT count(*) FROM gone)::int AS deleted`,
    p.values,
  );
  return rows[0]!.deleted > 0;
}

/** Sets (or replaces) the weight of the link from -> to; the caller checked both exist. */
export async function linkMemories(
  tx: Tx,
  ctx: WriteContext,
  space: SpaceId,
  link: { from: string; to: string; weight: number },
  lsn: number,
): Promise<void> {
  const p = new SqlParams();
  const s = p.add(space);
  const from = p.add(link.from);
  const to = p.add(link.to);
  await tx.query(
    `WITH link AS (
      INSERT INTO ${ctx.schema}.associations (space_id, from_id, to_id, weight)
      VALUES (${s}, ${from}, ${to}, ${p.add(link.weight)})
      ON CONFLICT (space_id, from_id, to_id) DO UPDATE SET weight = EXCLUDED.weight
    ),
    ${eventTail(ctx, p, space, lsn, { type: 'associated', memoryId: link.from, detail: { target_id: link.to, weight: link.weight } })}`,
    p.values,
  );
}

/** Removes events older than the retention; a resume from before them then fails as expired. */
export async function pruneEvents(
  tx: Tx,
  ctx: WriteContext,
  space: SpaceId,
  before: number,
): Promise<void> {
  await tx.query(
    `WITH gone AS (DELETE FROM ${ctx.schema}.events WHERE space_id = $1 AND at < $2 RETURNING lsn)
    UPDATE ${ctx.schema}.spaces SET events_pruned_through =
      greatest(events_pruned_through, coalesce((SELECT max(lsn) FROM gone), 0))
    WHERE space_id = $1`,
    [space, before],
  );
}

/**
 * A hard delete leaves no trace: consolidated memories citing `id` drop it from their sources,
 * each change an update with its own LSN and event, in the deleting transaction.
 */
export async function purgeCitations(
  tx: Tx,
  ctx: WriteContext,
  space: SpaceId,
  id: string,
): Promise<void> {
  const citers = await tx.query<{
    id: string;
    consolidation: { sources: string[]; strength: number } | null;
  }>(
    `SELECT id, consolidation FROM ${ctx.schema}.memories
     WHERE space_id = $1 AND cited @> ARRAY[$2::text] ORDER BY id`,
    [space, id],
  );
  for (const citer of citers) {
    if (!citer.consolidation) continue;
    const [next] = await tx.query<{ lsn: number }>(
      `UPDATE ${ctx.schema}.spaces SET last_lsn = last_lsn + 1 WHERE space_id = $1 RETURNING last_lsn::float8 AS lsn`,
      [space],
    );
    const sources = citer.consolidation.sources.filter((source) => source !== id);
    await patchMemory(
      tx,
      ctx,
      space,
      citer.id,
      { consolidation: { sources, strength: citer.consolidation.strength } },
      { lsn: next!.lsn, updatedAt: Date.now() },
    );
  }
}
