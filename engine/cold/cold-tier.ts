/**
 * The cold tier of one space: memories whose activation decayed, kept compressed with int8
 * vectors in append-only segments (cold-segments.ts), outside the HNSW graph. The catalog
 * (id -> location) lives in the warm tier's LMDB environment, so a move between tiers commits
 * in the same transaction as the warm records it adds or removes; this class keeps the int8
 * vectors of the cataloged memories in RAM for brute-force search (100k x 384 = 38 MB) and
 * reads records from the segments on demand. The RAM copy follows the catalog: it is loaded at
 * open (every record checksum-verified) and re-synced for the ids each applied batch touched.
 */
import type { FileSystem } from '../file-system.ts';
import type { LexicalIndex } from '../lexical-index.ts';
import { cosineSimilarity, type MemoryRecord, type RecallMode } from '../memory.ts';
import type { CheckedRecall } from '../recall-options.ts';
import { rankScored, type ScoredRecord } from '../space-recall.ts';
import type { ColdReader, WarmStore } from '../warm/warm-store.ts';
import {
  ColdSegments,
  dequantize,
  type ColdEntry,
  type ColdLocation,
  type QuantizedVector,
} from './cold-segments.ts';

/** Cold segments are closed and a new one started past this size. */
export const COLD_SEGMENT_BYTES_MAX = 64 * 1024 * 1024;

interface ColdVector extends QuantizedVector {
  lsn: number;
  /** Euclidean norm of the int8 values (the scale cancels out of a cosine). */
  norm: number;
}

export interface ColdQuery {
  mode: RecallMode;
  vector: Float32Array | undefined;
  text: string | undefined;
  lexical: LexicalIndex | undefined;
  /** False for ids whose newest version is not the cataloged one (a pending change). */
  isCold: (id: string) => boolean;
}

export class ColdTier implements ColdReader {
  private readonly vectors = new Map<string, ColdVector>();

  private constructor(
    private readonly segments: ColdSegments,
    private readonly warm: WarmStore,
  ) {}

  /** Opens the segments and loads every cataloged vector; a damaged record is ENG_COLD_CORRUPT. */
  static async open(fs: FileSystem, dir: string, warm: WarmStore): Promise<ColdTier> {
    const segments = await ColdSegments.open(fs, dir, { segmentBytesMax: COLD_SEGMENT_BYTES_MAX });
    const tier = new ColdTier(segments, warm);
    try {
      for (const { id, location } of warm.coldCatalog()) tier.load(id, segments.read(location));
    } catch (error) {
      await segments.close();
      throw error;
    }
    return tier;
  }

  private load(id: string, entry: ColdEntry): void {
    if (!entry.vector) {
      this.vectors.delete(id);
      return;
    }
    let sum = 0;
    for (const q of entry.vector.values) sum += q * q;
    this.vectors.set(id, { ...entry.vector, lsn: entry.record.lsn, norm: Math.sqrt(sum) });
  }

  get count(): number {
    return this.warm.coldCount();
  }

  get bytes(): number {
    return this.segments.bytes;
  }

  has(id: string): boolean {
    return this.warm.coldLocation(id) !== undefined;
  }

  read(location: ColdLocation): ColdEntry {
    return this.segments.read(location);
  }

  getRecord(id: string): MemoryRecord | undefined {
    const location = this.warm.coldLocation(id);
    return location && this.segments.read(location).record;
  }

  /** The dequantized (lossy) vector of a cold memory. */
  getVector(id: string): Float32Array | undefined {
    const location = this.warm.coldLocation(id);
    const vector = location && this.segments.read(location).vector;
    return vector ? dequantize(vector) : undefined;
  }

  /** Copies memories into a segment, durably; the demote log record may then name the locations. */
  write(
    items: ReadonlyArray<{ record: MemoryRecord; vector: Float32Array | null }>,
  ): Promise<ColdLocation[]> {
    return this.segments.append(items);
  }

  /**
   * Loads the RAM vectors of memories a demotion is about to catalog, before its batch commits
   * (the commit can be visible before the apply call returns). Search skips an id until the
   * catalog names it, and sync drops the vector if the demotion turns out to be a no-op.
   */
  prepareDemotions(items: ReadonlyArray<{ id: string } & ColdLocation>): void {
    for (const { id, ...location } of items) if (!this.has(id)) this.load(id, this.read(location));
  }

  /** Brings the RAM vectors of these ids in line with the catalog (after a batch committed). */
  sync(ids: Iterable<string>): void {
    for (const id of ids) {
      const location = this.warm.coldLocation(id);
      if (!location) this.vectors.delete(id);
      else if (this.vectors.get(id)?.lsn !== location.lsn) this.load(id, this.read(location));
    }
  }

  /** Every cold memory by cosine to `vector`, best first (brute force over int8 vectors). */
  nearest(vector: Float32Array): Array<{ id: string; similarity: number }> {
    let sum = 0;
    for (const v of vector) sum += v * v;
    const queryNorm = Math.sqrt(sum);
    const out: Array<{ id: string; similarity: number }> = [];
    for (const [id, { values, norm }] of this.vectors) {
      if (values.length !== vector.length) continue;
      let dot = 0;
      for (let i = 0; i < values.length; i++) dot += values[i]! * vector[i]!;
      const denominator = norm * queryNorm;
      out.push({ id, similarity: denominator === 0 ? 0 : dot / denominator });
    }
    return out.sort((a, b) => b.similarity - a.similarity || (a.id < b.id ? -1 : 1));
  }

  /**
   * The best k cold memories for a recall, scored like warm ones (recall modes in
   * space-recall.ts): similarity over the int8 vectors, BM25 from the space's lexical index
   * (cold memories stay in it), or both for hybrid. Filters and suppression apply the same.
   */
  search(query: ColdQuery, checked: CheckedRecall): ScoredRecord[] {
    const { k, threshold, accept } = checked;
    const pool = Math.max(4 * k, 50);
    const found = new Map<
      string,
      { memory: MemoryRecord; similarity?: number; lexical?: number }
    >();
    const hydrate = (id: string): MemoryRecord | undefined => {
      if (!query.isCold(id)) return undefined;
      const memory = this.getRecord(id);
      return memory && accept(memory) ? memory : undefined;
    };
    if (query.vector && query.mode !== 'lexical') {
      for (const { id, similarity } of this.nearest(query.vector)) {
        if (found.size >= pool) break;
        const memory = hydrate(id);
        if (memory) found.set(id, { memory, similarity });
      }
    }
    const lexical =
      query.text !== undefined && query.mode !== 'similarity' && query.lexical
        ? query.lexical.search(query.text)
        : [];
    const top = lexical[0]?.score ?? 0;
    for (const { id, score } of lexical) {
      const known = found.get(id);
      if (known) known.lexical = score;
      else if (found.size < 2 * pool && this.has(id)) {
        const memory = hydrate(id);
        const vector = memory && query.vector ? this.getVector(id) : undefined;
        if (memory)
          found.set(id, {
            memory,
            lexical: score,
            ...(vector && query.vector
              ? { similarity: cosineSimilarity(query.vector, vector) }
              : {}),
          });
      }
    }
    const relevance = (s: number | undefined, l: number | undefined): number => {
      const bm25 = top > 0 ? (l ?? 0) / top : 0;
      if (query.mode === 'similarity') return s ?? 0;
      if (query.mode === 'lexical') return bm25;
      return 0.5 * Math.max(0, s ?? 0) + 0.5 * bm25;
    };
    return rankScored(
      [...found.values()].map(({ memory, similarity, lexical: bm25 }) => ({
        memory,
        relevance: relevance(similarity, bm25),
        parts: {
          ...(similarity === undefined ? {} : { similarity }),
          ...(bm25 === undefined ? {} : { lexical: bm25 }),
        },
      })),
      k,
      threshold,
    );
  }

  close(): Promise<void> {
    return this.segments.close();
  }
}
