/**
 * Recall in one open space, in three modes:
 * - similarity: cosine over the vector index, plus an exact scan of the memtable (the durable
 *   records the index has not applied yet), so an acknowledged write is recallable at once;
 * - lexical: BM25 over the memories' words;
 * - hybrid (the default for a text query): both, fused as 0.5 * max(0, cosine) + 0.5 * BM25
 *   relative to the best BM25 of the query.
 * Every hit passes the filters and suppression check; the threshold applies to the final score.
 */
import { EngramError } from './errors.ts';
import type { LexicalIndex } from './lexical-index.ts';
import { cosineSimilarity, type MemoryRecord, type RecallHit } from './memory.ts';
import type { Memtable } from './memtable.ts';
import type { CheckedRecall } from './recall-options.ts';
import type { HnswIndex } from './vector/hnsw-index.ts';
import type { WarmStore } from './warm/warm-store.ts';

export interface RecallSources {
  memtable: Memtable;
  warm: WarmStore;
  index: HnswIndex | undefined;
}

/** The current version of a memory (memtable first), undefined if deleted or absent. */
function current(sources: RecallSources, id: string): MemoryRecord | undefined {
  const entry = sources.memtable.get(id);
  return entry ? entry.record : sources.warm.getRecord(id);
}

function currentVector(sources: RecallSources, id: string): Float32Array | undefined {
  const entry = sources.memtable.get(id);
  return entry ? entry.vector : sources.warm.getVector(id);
}

function byScore(a: RecallHit, b: RecallHit): number {
  return b.score - a.score || (a.memory.id < b.memory.id ? -1 : 1);
}

export function similarityHits(
  sources: RecallSources,
  vector: Float32Array,
  k: number,
  threshold: number,
  accept: CheckedRecall['accept'],
): RecallHit[] {
  const { memtable, warm, index } = sources;
  const hits: RecallHit[] = [];
  for (const [, entry] of memtable.entriesView()) {
    if (entry.record && entry.vector && accept(entry.record)) {
      const score = cosineSimilarity(vector, entry.vector);
      if (score >= threshold)
        hits.push({ memory: entry.record, score, parts: { similarity: score } });
    }
  }
  // Over-fetch from the index by what the memtable shadows; when filters or suppression
  // reject candidates, search again for more (up to the whole index) until k are found.
  const indexSize = index?.size ?? 0;
  let want = k + memtable.shadowCount;
  for (;;) {
    const found: RecallHit[] = [];
    const results = index?.search(vector, want) ?? [];
    for (const { label, score } of results) {
      if (score < threshold) break; // results come best first
      const id = warm.idOfLabel(label);
      if (id === undefined || memtable.has(id)) continue;
      const memory = warm.getRecord(id);
      if (memory && accept(memory)) found.push({ memory, score, parts: { similarity: score } });
    }
    const exhausted =
      results.length < want || want >= indexSize || (results.at(-1)?.score ?? -2) < threshold;
    if (found.length + hits.length >= k || exhausted) {
      hits.push(...found);
      break;
    }
    want = Math.min(indexSize, want * 4);
  }
  return hits.sort(byScore).slice(0, k);
}

export function lexicalHits(
  sources: RecallSources,
  lexical: LexicalIndex,
  text: string,
  k: number,
  threshold: number,
  accept: CheckedRecall['accept'],
): RecallHit[] {
  const results = lexical.search(text);
  const top = results[0]?.score ?? 0;
  const hits: RecallHit[] = [];
  for (const { id, score } of results) {
    const memory = current(sources, id);
    if (!memory || !accept(memory)) continue;
    const relative = score / top;
    if (relative < threshold) break;
    hits.push({ memory, score: relative, parts: { lexical: score } });
    if (hits.length >= k) break;
  }
  return hits;
}

export function hybridHits(
  sources: RecallSources,
  lexical: LexicalIndex,
  query: { text: string; vector: Float32Array },
  k: number,
  threshold: number,
  accept: CheckedRecall['accept'],
): RecallHit[] {
  const pool = Math.max(4 * k, 50);
  const candidates = new Map<
    string,
    { memory: MemoryRecord; similarity?: number; lexical?: number }
  >();
  for (const hit of similarityHits(sources, query.vector, pool, -1, accept)) {
    candidates.set(hit.memory.id, { memory: hit.memory, similarity: hit.score });
  }
  const lexicalResults = lexical.search(query.text);
  const top = lexicalResults[0]?.score ?? 0;
  for (const { id, score } of lexicalResults) {
    const known = candidates.get(id);
    if (known) {
      known.lexical = score;
      continue;
    }
    if (candidates.size >= 2 * pool) continue; // keep the lexical side bounded too
    const memory = current(sources, id);
    if (!memory || !accept(memory)) continue;
    const vector = currentVector(sources, id);
    candidates.set(id, {
      memory,
      lexical: score,
      ...(vector ? { similarity: cosineSimilarity(query.vector, vector) } : {}),
    });
  }
  const hits: RecallHit[] = [];
  for (const { memory, similarity, lexical: bm25 } of candidates.values()) {
    const score = 0.5 * Math.max(0, similarity ?? 0) + 0.5 * (top > 0 ? (bm25 ?? 0) / top : 0);
    if (score < threshold) continue;
    hits.push({
      memory,
      score,
      parts: {
        ...(similarity === undefined ? {} : { similarity }),
        ...(bm25 === undefined ? {} : { lexical: bm25 }),
      },
    });
  }
  return hits.sort(byScore).slice(0, k);
}

export function modeNeedsText(mode: string): never {
  throw new EngramError('ENG_QUERY_INVALID', `Recall mode "${mode}" needs a text query`);
}
