/**
 * Recall in one open space, in three modes:
 * - similarity: cosine over the vector index, plus an exact scan of the memtable (the durable
 *   records the index has not applied yet), so an acknowledged write is recallable at once;
 * - lexical: BM25 over the memories' words, relative to the query's best BM25 (so the best is 1);
 * - hybrid (the default for a text query): 0.5 * max(0, cosine) + 0.5 * relative BM25.
 * That relevance is then weighed by confidence:
 *   score = relevance * (1 - CONFIDENCE_WEIGHT + CONFIDENCE_WEIGHT * confidence)
 * so a memory trusted fully keeps its relevance and one not trusted at all keeps 70% of it.
 * Every hit passes the filters and suppression check; the threshold applies to the final score.
 */
import { EngramError } from './errors.ts';
import type { LexicalIndex } from './lexical-index.ts';
import { cosineSimilarity, cosineWithNorms, squaredNorm, type MemoryRecord } from './memory.ts';
import type { HotTier } from './hot-tier.ts';
import type { Memtable } from './memtable.ts';
import type { CheckedRecall } from './recall-options.ts';
import type { RemoteIndex } from './vector/index-host.ts';
import type { WarmStore } from './warm/warm-store.ts';

export const CONFIDENCE_WEIGHT = 0.3;

export interface RecallSources {
  memtable: Memtable;
  warm: WarmStore;
  /** In-memory copies of current versions of applied memories (read before the warm tier). */
  hot: HotTier;
  index: RemoteIndex | undefined;
  /**
   * Applied memories the memtable does not hold that the index thread has not staged yet (cold
   * memories promoted back to the warm tier): scanned exactly, like the memtable.
   */
  indexing: ReadonlyMap<string, Float32Array>;
}

/** A recall result before access statistics and activation are attached. */
export interface ScoredRecord {
  memory: MemoryRecord;
  score: number;
  parts: { similarity?: number; lexical?: number };
  path?: string[];
}

type Accept = CheckedRecall['accept'];
type Candidate = { memory: MemoryRecord; relevance: number; parts: ScoredRecord['parts'] };

const confidenceFactor = (confidence: number): number =>
  1 - CONFIDENCE_WEIGHT + CONFIDENCE_WEIGHT * confidence;

const weigh = (memory: MemoryRecord, relevance: number): number =>
  relevance * confidenceFactor(memory.confidence);

/** The highest weighed score a memory of this relevance can have, at confidence <= ceiling. */
const bestWeighed = (relevance: number, ceiling: number): number =>
  relevance >= 0 ? relevance * confidenceFactor(ceiling) : relevance * (1 - CONFIDENCE_WEIGHT);

/** An applied memory's record: the hot tier's copy when it has one (no LMDB read and decode). */
function applied(sources: RecallSources, id: string): MemoryRecord | undefined {
  return sources.hot.get(id) ?? sources.warm.getRecord(id);
}

function current(sources: RecallSources, id: string): MemoryRecord | undefined {
  const entry = sources.memtable.get(id);
  return entry ? entry.record : applied(sources, id);
}

function currentVector(sources: RecallSources, id: string): Float32Array | undefined {
  const entry = sources.memtable.get(id);
  return entry ? entry.vector : sources.warm.getVector(id);
}

/** Weighs, drops what is under the threshold, and keeps the best k (ties broken by id). */
export function rankScored(
  candidates: Array<{ memory: MemoryRecord; relevance: number; parts: ScoredRecord['parts'] }>,
  k: number,
  threshold: number,
): ScoredRecord[] {
  const out: ScoredRecord[] = [];
  for (const { memory, relevance, parts } of candidates) {
    const score = weigh(memory, relevance);
    if (score >= threshold) out.push({ memory, score, parts });
  }
  return out.sort((a, b) => b.score - a.score || (a.memory.id < b.memory.id ? -1 : 1)).slice(0, k);
}

export async function similarityHits(
  sources: RecallSources,
  vector: Float32Array,
  k: number,
  threshold: number,
  accept: Accept,
): Promise<ScoredRecord[]> {
  const { memtable, warm, index } = sources;
  const tail: Candidate[] = [];
  // The ids in the memtable now are answered from it alone. The index answers later, and by
  // then the memtable may have let some of them go: their index hits are this same version (or
  // an older one), never something the scan below missed.
  const scanned = new Set<string>();
  // Only a tail entry among the tail's own best k can be in the top k: the rest are not kept
  // (the tail is large while the index catches up with a burst of writes).
  const best = new KthBest(k);
  const queryNorm = squaredNorm(vector);
  for (const [id, entry] of memtable.entriesView()) {
    scanned.add(id);
    if (entry.record && entry.vector && accept(entry.record)) {
      const similarity = cosineWithNorms(vector, queryNorm, entry.vector, entry.squaredNorm);
      const score = weigh(entry.record, similarity);
      if (score < best.kth()) continue;
      best.add(score);
      tail.push({ memory: entry.record, relevance: similarity, parts: { similarity } });
    }
  }
  // Ask the index for a pool larger than k and rank the pool by the weighed score: the memtable
  // shadows some index entries, and confidence can lift a hit that is lower by similarity
  // alone. No memory outside the pool has a higher similarity than the pool's lowest, nor a
  // higher confidence than the warm tier's ceiling, so none can score above the bound below:
  // search again with a larger pool until the k-th score is above it (or filters and
  // suppression left fewer than k).
  let want = 2 * k + memtable.shadowCount;
  for (;;) {
    const results = index ? await index.search(vector, want) : [];
    const found = [...tail];
    // Read after the search, with no await before the caller's cold search: a promoted memory
    // is either still cold (and left to that search) or warm and scanned here, until the index
    // thread has staged it (and then this search's answer, which came after, has it too).
    const moving = new Set<string>();
    for (const [id, stored] of sources.indexing) {
      const memory = scanned.has(id) ? undefined : applied(sources, id);
      if (!memory) continue;
      moving.add(id);
      if (!accept(memory)) continue;
      const similarity = cosineSimilarity(vector, stored);
      found.push({ memory, relevance: similarity, parts: { similarity } });
    }
    const indexSize = index?.size ?? 0;
    const ceiling = warm.confidenceCeiling();
    // The index answers best first, and no applied memory outscores its similarity weighed by
    // the ceiling: once that is under the k-th best weighed score so far (or the threshold), the
    // rest of the pool cannot enter the top k and is not read (a read decodes a warm record).
    const kth = new KthBest(k);
    for (const { memory, relevance } of found) kth.add(weigh(memory, relevance));
    for (const { label, score: similarity } of results) {
      const bound = bestWeighed(similarity, ceiling);
      if (bound < threshold || bound < kth.kth()) break;
      const id = warm.idOfLabel(label);
      if (id === undefined || scanned.has(id) || moving.has(id) || memtable.has(id)) continue;
      const memory = applied(sources, id);
      if (!memory || !accept(memory)) continue;
      found.push({ memory, relevance: similarity, parts: { similarity } });
      kth.add(weigh(memory, similarity));
    }
    const top = rankScored(found, k, threshold);
    const outsideBound = bestWeighed(results.at(-1)?.score ?? -2, ceiling);
    if (
      results.length < want ||
      want >= indexSize ||
      outsideBound < threshold ||
      (top.length === k && outsideBound < top[k - 1]!.score)
    )
      return top;
    want = Math.min(indexSize, want * 4);
  }
}

/** The k-th largest of the numbers added so far (-Infinity until there are k). */
class KthBest {
  private readonly top: number[] = [];

  constructor(private readonly k: number) {}

  add(value: number): void {
    const { top } = this;
    if (top.length === this.k && value <= top[top.length - 1]!) return;
    let at = top.findIndex((v) => v < value);
    if (at === -1) at = top.length;
    top.splice(at, 0, value);
    if (top.length > this.k) top.pop();
  }

  kth(): number {
    return this.top.length < this.k ? Number.NEGATIVE_INFINITY : this.top[this.k - 1]!;
  }
}

export function lexicalHits(
  sources: RecallSources,
  lexical: LexicalIndex,
  text: string,
  k: number,
  threshold: number,
  accept: Accept,
): ScoredRecord[] {
  const results = lexical.search(text);
  const top = results[0]?.score ?? 0;
  const candidates = [];
  // Results come best first, and weighing only lowers a relevance (by at most 30%): once a
  // result's relevance is under the k-th best weighed score so far (or the threshold), no later
  // one can enter the top k, so the rest are never loaded from the warm tier.
  const best = new KthBest(k);
  for (const { id, score } of results) {
    const relevance = score / top;
    if (relevance < threshold || relevance < best.kth()) break;
    const memory = current(sources, id);
    if (!memory || !accept(memory)) continue;
    candidates.push({ memory, relevance, parts: { lexical: score } });
    best.add(weigh(memory, relevance));
  }
  return rankScored(candidates, k, threshold);
}

export async function hybridHits(
  sources: RecallSources,
  lexical: LexicalIndex,
  query: { text: string; vector: Float32Array },
  k: number,
  threshold: number,
  accept: Accept,
): Promise<ScoredRecord[]> {
  const pool = Math.max(4 * k, 50);
  const candidates = new Map<
    string,
    { memory: MemoryRecord; similarity?: number; lexical?: number }
  >();
  for (const hit of await similarityHits(sources, query.vector, pool, -1, accept)) {
    candidates.set(hit.memory.id, { memory: hit.memory, ...hit.parts });
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
  return rankScored(
    [...candidates.values()].map(({ memory, similarity, lexical: bm25 }) => ({
      memory,
      relevance: 0.5 * Math.max(0, similarity ?? 0) + 0.5 * (top > 0 ? (bm25 ?? 0) / top : 0),
      parts: {
        ...(similarity === undefined ? {} : { similarity }),
        ...(bm25 === undefined ? {} : { lexical: bm25 }),
      },
    })),
    k,
    threshold,
  );
}

export function modeNeedsText(mode: string): never {
  throw new EngramError('ENG_QUERY_INVALID', `Recall mode "${mode}" needs a text query`);
}
