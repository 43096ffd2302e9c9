/** What a space handle needs from its engine: shared state, the transactions and the caches. */
import type { RateMeter } from '../../consolidation.ts';
import type { Embedder } from '../../embed/embedder.ts';
import type { EngramError } from '../../errors.ts';
import type { SpaceId } from '../../space-id.ts';
import type { AccessCounter } from './access-counter.ts';
import type { EventFeed } from './event-feed.ts';
import type { PostgresEngineOptions } from './postgres-options.ts';
import type { RecallContext } from './postgres-recall.ts';
import type { SpaceTransactions, Tx } from './space-transactions.ts';
import type { WriteContext } from './space-writes.ts';
import type { VectorSql } from './vector-sql.ts';

export interface PostgresEngineContext {
  readonly options: Readonly<PostgresEngineOptions>;
  /** The schema as quoted in SQL. */
  readonly schema: string;
  readonly tx: SpaceTransactions;
  readonly writes: WriteContext;
  readonly recallContext: RecallContext;
  readonly vectors: VectorSql;
  readonly access: AccessCounter;
  readonly feed: EventFeed;
  /** The space's embedder (or why it has none here), for the incarnation `key` of the space. */
  embedderOf(space: SpaceId): Promise<{ key: number; embedder: Embedder | EngramError }>;
  forgetEmbedder(space: SpaceId): void;
  /** Builds the space's HNSW index for `dimension` (pgvector; a no-op for float4 arrays). */
  createVectorIndex(tx: Tx, space: SpaceId, dimension: number): Promise<void>;
  /** Consolidations made in this process, per space. */
  consolidationRate(space: SpaceId): RateMeter;
  /** Runs `fn` unless a run under the same key is in progress, whose result it then shares. */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Throws ENG_SPACE_CLOSED once the engine is closing. */
  assertOpen(): void;
  /** Writes the access counts gathered in this process (before a snapshot reads them). */
  flushAccess(): Promise<void>;
  /** Keeps `work` in the set close() waits for. */
  track<T>(work: Promise<T>): Promise<T>;
}
