/**
 * Recall on PostgreSQL with the embedded backend's scoring (engine/space-recall.ts), inside one
 * read transaction (one snapshot):
 * - similarity: cosine distance ordered by the space's HNSW index (pgvector; exact scan for
 *   spaces of at most exactScanMaxMemories memories and for float4 arrays), with the filters in
 *   the WHERE clause. Like the embedded backend it asks for more rows until the top k is exact
 *   under confidence weighing, and re-runs the search exactly when the index returned fewer
 *   rows than asked (pgvector stops an HNSW scan after hnsw.max_scan_tuples).
 * - lexical: BM25 (k1 1.2, b 0.75) over full-text search: the GIN index finds the memories
 *   sharing a word with the query, and the term frequencies in their tsvectors, the number of
 *   memories and the space's total of tokens give the same BM25 as the embedded backend's.
 * - hybrid: 0.5 * max(0, cosine) + 0.5 * BM25 relative to the best, over the same candidates.
 * Then score = relevance * (0.7 + 0.3 * confidence), hits under the threshold are dropped and
 * ties are broken by id.
 */
import assert from 'node:assert/strict';
import {
  validateConfidence,
  validateMemoryType,
  validateTags,
  validateTime,
} from '../../memory-fields.ts';
import type { MemoryRecord, MemoryType } from '../../memory.ts';
import type { CheckedRecall } from '../../recall-options.ts';
import type { SpaceId } from '../../space-id.ts';
import { CONFIDENCE_WEIGHT } from '../../space-recall.ts';
import type { RecallFilter } from '../../storage.ts';
import { queryTerms } from './lexical-terms.ts';
import { memoryColumns, recordOf, storedAccessOf, type MemoryRow } from './memory-rows.ts';
import { SqlParams } from './sql-params.ts';
import type { SpaceRow, Tx } from './space-transactions.ts';
import type { VectorSql } from './vector-sql.ts';
import type { AccessView } from './access-counter.ts';

const K1 = 1.2;
const B = 0.75;

export interface RecallContext {
  schema: string;
  vectors: VectorSql;
  efSearch: number;
  exactScanMaxMemories: number;
}

export interface ScoredId {
  id: string;
  confidence: number;
  score: number;
  parts: { similarity?: number; lexical?: number };
}

export interface HydratedHit {
  record: MemoryRecord;
  stored: AccessView;
  score: number;
  parts: ScoredId['parts'];
}

interface FilterValues {
  tags: string[] | undefined;
  memoryTypes: MemoryType[] | undefined;
  observedAfter: number | undefined;
  observedBefore: number | undefined;
  minConfidence: number | undefined;
  includeSuppressed: boolean;
}

/** The filter as SQL values; run after checkRecallOptions, which has validated the same fields. */
export function filterValues(
  filter: RecallFilter | undefined,
  includeSuppressed: boolean,
): FilterValues {
  return {
    tags: filter?.tags === undefined ? undefined : validateTags(filter.tags),
    memoryTypes: filter?.memoryTypes?.map(validateMemoryType),
    observedAfter:
      filter?.observedAfter === undefined
        ? undefined
        : validateTime(filter.observedAfter, 'filter.observed_after'),
    observedBefore:
      filter?.observedBefore === undefined
        ? undefined
        : validateTime(filter.observedBefore, 'filter.observed_before'),
    minConfidence:
      filter?.minConfidence === undefined
        ? undefined
        : validateConfidence(filter.minConfidence, 'filter.min_confidence'),
    includeSuppressed,
  };
}

/** The same conditions as recall-options.ts's accept(), on the memories alias `m`. */
function filterSql(p: SqlParams, f: FilterValues): string {
  const out: string[] = [];
  if (!f.includeSuppressed) out.push('NOT m.suppressed');
  if (f.tags && f.tags.length > 0) out.push(`m.tags @> ${p.add(f.tags)}::text[]`);
  if (f.memoryTypes) out.push(`m.memory_type = ANY(${p.add(f.memoryTypes)}::text[])`);
  if (f.observedAfter !== undefined) out.push(`m.observed_at >= ${p.add(f.observedAfter)}`);
  if (f.observedBefore !== undefined) out.push(`m.observed_at <= ${p.add(f.observedBefore)}`);
  if (f.minConfidence !== undefined) out.push(`m.confidence >= ${p.add(f.minConfidence)}`);
  return out.map((c) => ` AND ${c}`).join('');
}

const weigh = (confidence: number, relevance: number): number =>
  relevance * (1 - CONFIDENCE_WEIGHT + CONFIDENCE_WEIGHT * confidence);

interface Candidate {
  id: string;
  confidence: number;
  relevance: number;
  parts: ScoredId['parts'];
}

/** Weighs, drops what is under the threshold, and keeps the best k (ties broken by id). */
function best(candidates: Candidate[], k: number, threshold: number): ScoredId[] {
  const out: ScoredId[] = [];
  for (const { id, confidence, relevance, parts } of candidates) {
    const score = weigh(confidence, relevance);
    if (score >= threshold) out.push({ id, confidence, score, parts });
  }
  return out.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(0, k);
}

/**
 * The `limit` memories nearest to `vector` (by the HNSW index, or every memory when `exact`),
 * with their cosine similarity, nearest first. `where` adds conditions over `m`.
 */
async function nearestRows(
  tx: Tx,
  ctx: RecallContext,
  space: { id: SpaceId; row: SpaceRow },
  vector: Float32Array,
  options: { limit: number; exact: boolean; where?: (p: SqlParams) => string },
): Promise<Array<{ id: string; confidence: number; similarity: number }>> {
  const p = new SqlParams();
  const s = p.add(space.id);
  const q = p.add(ctx.vectors.format(vector));
  const distance = ctx.vectors.distance('m.embedding', q, space.row.dimension!);
  const settings = ctx.vectors.searchSettings(options.limit, ctx.efSearch, options.exact);
  if (settings.length > 0) await tx.query(settings.join('; '));
  const rows = await tx.query<{ id: string; confidence: number; similarity: number }>(
    `SELECT m.id, m.confidence, 1 - ${distance} AS similarity FROM ${ctx.schema}.memories m
     WHERE m.space_id = ${s} AND m.embedding IS NOT NULL${options.where?.(p) ?? ''}
     ORDER BY ${distance} LIMIT ${p.add(options.limit)}`,
    p.values,
  );
  if (options.exact && ctx.vectors.storage === 'pgvector')
    await tx.query('SET LOCAL enable_indexscan TO DEFAULT; SET LOCAL enable_bitmapscan TO DEFAULT');
  return rows;
}

function exactFor(ctx: RecallContext, row: SpaceRow): boolean {
  return ctx.vectors.storage !== 'pgvector' || row.memories <= ctx.exactScanMaxMemories;
}

export async function similarityIds(
  tx: Tx,
  ctx: RecallContext,
  space: { id: SpaceId; row: SpaceRow },
  vector: Float32Array,
  recall: { k: number; threshold: number; filter: FilterValues },
): Promise<ScoredId[]> {
  const { k, threshold } = recall;
  let exact = exactFor(ctx, space.row);
  let want = 2 * k;
  for (;;) {
    const rows = await nearestRows(tx, ctx, space, vector, {
      limit: want,
      exact,
      where: (p) => filterSql(p, recall.filter),
    });
    const top = best(
      rows.map(({ id, confidence, similarity }) => ({
        id,
        confidence,
        relevance: similarity,
        parts: { similarity },
      })),
      k,
      threshold,
    );
    // As in the embedded backend (engine/space-recall.ts): the pool is ranked by the weighed
    // score, and only grows when filters or suppression leave fewer than k.
    const lowestFetched = rows.at(-1)?.similarity ?? -2;
    if (top.length === k || lowestFetched < threshold) return top;
    if (rows.length < want) {
      if (exact) return top; // every matching memory was seen
      exact = true; // the index gave up early: look at every memory of the space
      continue;
    }
    want *= 4;
  }
}

/**
 * Up to `count` memories at cosine >= `threshold` to `vector`, nearest first, suppressed ones
 * included: the candidates of dedup and auto-linking (space settings), as in the embedded backend.
 */
export async function nearestIds(
  tx: Tx,
  ctx: RecallContext,
  space: { id: SpaceId; row: SpaceRow },
  vector: Float32Array,
  count: number,
  threshold: number,
): Promise<Array<{ id: string; confidence: number; similarity: number }>> {
  if (space.row.dimension === null || space.row.memories === 0) return [];
  const rows = await nearestRows(tx, ctx, space, vector, {
    limit: count,
    exact: exactFor(ctx, space.row),
  });
  return rows.filter((row) => row.similarity >= threshold);
}

interface LexicalRow {
  id: string;
  bm25: number;
  top: number;
  confidence: number;
  similarity: number | null;
}

/**
 * BM25 of the memories sharing a word with `text`, best first (ties by id), with the best
 * score of all of them (filters aside) as `top`. `limit` keeps the first rows (plus any in
 * `include`); `vector` adds each row's cosine similarity.
 */
async function lexicalRows(
  tx: Tx,
  ctx: RecallContext,
  space: { id: SpaceId; row: SpaceRow },
  text: string,
  options: {
    filter: FilterValues;
    limit?: number;
    include?: string[];
    vector?: Float32Array;
  },
): Promise<LexicalRow[]> {
  const { terms, tsquery } = queryTerms(text);
  const documents = space.row.memories;
  if (terms.length === 0 || documents === 0) return [];
  const p = new SqlParams();
  const s = p.add(space.id);
  const averageLength = space.row.lexicalTokens / documents || 1;
  const S = ctx.schema;
  const similarity = options.vector
    ? `CASE WHEN m.embedding IS NULL THEN NULL ELSE 1 - ${ctx.vectors.distance('m.embedding', p.add(ctx.vectors.format(options.vector)), space.row.dimension!)} END`
    : 'NULL::float8';
  const ranked = `SELECT sc.id, sc.bm25, top.top, m.confidence, ${similarity} AS similarity,
      row_number() OVER (ORDER BY sc.bm25 DESC, sc.id) AS rank
    FROM scored sc CROSS JOIN top
    JOIN ${S}.memories m ON m.space_id = ${s} AND m.id = sc.id
    WHERE true${filterSql(p, options.filter)}`;
  const keep =
    options.limit === undefined
      ? ''
      : `WHERE rank <= ${p.add(options.limit)} OR id = ANY(${p.add(options.include ?? [])}::text[])`;
  return tx.query<LexicalRow>(
    `WITH hits AS (
       SELECT m.id, u.lexeme AS term, cardinality(u.positions)::float8 AS tf, m.token_count::float8 AS len
       FROM ${S}.memories m CROSS JOIN LATERAL unnest(m.lexemes) AS u
       WHERE m.space_id = ${s} AND m.lexemes @@ ${p.add(tsquery)}::tsquery
         AND u.lexeme = ANY(${p.add(terms)}::text[])
     ),
     df AS (SELECT term, count(*)::float8 AS df FROM hits GROUP BY term),
     scored AS (
       SELECT h.id, sum(
         ln(1 + (${p.add(documents)}::float8 - df.df + 0.5) / (df.df + 0.5)) * h.tf * ${p.add(K1 + 1)}::float8
         / (h.tf + ${p.add(K1)}::float8 * (${p.add(1 - B)}::float8 + ${p.add(B)}::float8 * h.len / ${p.add(averageLength)}::float8))
       ) AS bm25
       FROM hits h JOIN df USING (term) GROUP BY h.id
     ),
     top AS (SELECT max(bm25) AS top FROM scored)
     SELECT id, bm25, top, confidence, similarity FROM (${ranked}) r ${keep} ORDER BY rank`,
    p.values,
  );
}

export async function lexicalIds(
  tx: Tx,
  ctx: RecallContext,
  space: { id: SpaceId; row: SpaceRow },
  text: string,
  recall: { k: number; threshold: number; filter: FilterValues },
): Promise<ScoredId[]> {
  const rows = await lexicalRows(tx, ctx, space, text, { filter: recall.filter });
  return best(
    rows.map(({ id, bm25, top, confidence }) => ({
      id,
      confidence,
      relevance: bm25 / top,
      parts: { lexical: bm25 },
    })),
    recall.k,
    recall.threshold,
  );
}

export async function hybridIds(
  tx: Tx,
  ctx: RecallContext,
  space: { id: SpaceId; row: SpaceRow },
  query: { text: string; vector: Float32Array },
  recall: { k: number; threshold: number; filter: FilterValues },
): Promise<ScoredId[]> {
  const pool = Math.max(4 * recall.k, 50);
  const candidates = new Map<
    string,
    { confidence: number; similarity?: number; lexical?: number }
  >();
  const similar = await similarityIds(tx, ctx, space, query.vector, {
    ...recall,
    k: pool,
    threshold: -1,
  });
  // similarityIds weighed by confidence; the candidates keep their raw similarity.
  for (const hit of similar) candidates.set(hit.id, { confidence: hit.confidence, ...hit.parts });
  const rows = await lexicalRows(tx, ctx, space, query.text, {
    filter: recall.filter,
    limit: 3 * pool,
    include: [...candidates.keys()],
    vector: query.vector,
  });
  const top = rows[0]?.top ?? 0;
  for (const row of rows) {
    const known = candidates.get(row.id);
    if (known) {
      known.lexical = row.bm25;
      continue;
    }
    if (candidates.size >= 2 * pool) continue; // keep the lexical side bounded too
    candidates.set(row.id, {
      confidence: row.confidence,
      lexical: row.bm25,
      ...(row.similarity === null ? {} : { similarity: row.similarity }),
    });
  }
  return best(
    [...candidates].map(([id, { confidence, similarity, lexical }]) => ({
      id,
      confidence,
      relevance: 0.5 * Math.max(0, similarity ?? 0) + 0.5 * (top > 0 ? (lexical ?? 0) / top : 0),
      parts: {
        ...(similarity === undefined ? {} : { similarity }),
        ...(lexical === undefined ? {} : { lexical }),
      },
    })),
    recall.k,
    recall.threshold,
  );
}

/** Reads the memories behind scored ids (same snapshot), checking each still passes `accept`. */
export async function hydrate(
  tx: Tx,
  schema: string,
  space: SpaceId,
  scored: ScoredId[],
  accept: CheckedRecall['accept'],
): Promise<HydratedHit[]> {
  if (scored.length === 0) return [];
  const columns = memoryColumns(schema);
  const rows = await tx.query<MemoryRow>(
    `SELECT ${columns.select} FROM ${schema}.memories m ${columns.join}
     WHERE m.space_id = $1 AND m.id = ANY($2::text[])`,
    [space, scored.map((s) => s.id)],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  return scored.map(({ id, score, parts }) => {
    const row = byId.get(id);
    assert.ok(row, `recall scored memory ${JSON.stringify(id)} but cannot read it`);
    const record = recordOf(row);
    // Pair check: the SQL filters and the engine's own filter must agree.
    assert.ok(accept(record), `recall's SQL filter let ${JSON.stringify(id)} through`);
    return { record, stored: storedAccessOf(row), score, parts };
  });
}
