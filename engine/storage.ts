/**
 * The storage interface every backend implements (the embedded LMDB one today, PostgreSQL
 * later), and the one the conformance suite in test/conformance/ exercises. A caller reaches
 * memories only through a SpaceHandle obtained for one space: no call takes an optional space,
 * and none searches several.
 */
import type {
  ListPage,
  MemoryPatch,
  MemoryType,
  MemoryView,
  RecallHit,
  RecallMode,
  RememberInput,
} from './memory.ts';
import type { SpaceEventListener } from './events.ts';
import type { SpaceId } from './space-id.ts';
import type { LoadReport } from './space-load.ts';
import type { SnapshotMemory, SpaceSnapshot } from './space-snapshot.ts';

export interface CallOptions {
  /** Checked before the call is queued; once a write is in the log it can no longer be aborted. */
  signal?: AbortSignal;
}

export interface RecallFilter {
  /** The memory has every one of these tags. */
  tags?: string[];
  /** The memory is of one of these types. */
  memoryTypes?: MemoryType[];
  /** Inclusive bounds on observedAt: ms since the epoch or ISO 8601. */
  observedAfter?: number | string;
  observedBefore?: number | string;
  minConfidence?: number;
}

export interface RecallOptions extends CallOptions {
  /** Results wanted, 1..maxK. */
  k: number;
  /** Drop hits whose score is below this (-1..1; default -1, nothing dropped). */
  threshold?: number;
  filter?: RecallFilter;
  /** Suppressed memories are hidden from recall unless this is true. */
  includeSuppressed?: boolean;
  /**
   * Also search the cold tier (it is searched anyway when the warmer tiers return fewer than k
   * hits above the threshold). Backends without a cold tier ignore it: all their memories are searched.
   */
  includeCold?: boolean;
  /** Default: hybrid for a text query, similarity for a vector. lexical and hybrid need text. */
  mode?: RecallMode;
  /**
   * spreading mode: seeds (the best direct hits that spread, 1-50, default 3), hops (1-4,
   * default 2), fan-out per memory (1-32, default 8), decay per hop ((0, 1], default 0.5).
   */
  spread?: { seeds?: number; hops?: number; fanOut?: number; decay?: number };
}

export interface ForgetOptions extends CallOptions {
  /** delete (default): gone from every tier, the index and associations. suppress: kept, hidden from recall. */
  mode?: 'delete' | 'suppress';
}

export interface ListOptions {
  /** Cursor: the id after which to continue (ids are listed in ascending order). */
  after?: string;
  limit: number;
  /**
   * Only memories in this tier: hot (the in-memory copies), warm (LMDB) or cold (the compressed
   * archive). Without it: every live memory, across warm and cold.
   */
  tier?: 'hot' | 'warm' | 'cold';
}

export interface CreateSpaceOptions {
  /** Vector dimension; when absent it is the embedder's, or fixed by the first vector stored. */
  dimension?: number;
  /** Embedder name ("hash", or one the server configures); none: the space takes client vectors only. */
  embedder?: string;
  /** Auto-linking and dedup (see engine/space-settings.ts); fixed at creation. */
  settings?: { autoLinkThreshold?: number; autoLinkMax?: number; dedupThreshold?: number };
}

export type SpaceState = 'open' | 'closed' | 'quarantined';

export interface SpaceStats {
  id: SpaceId;
  state: SpaceState;
  memories: number;
  dimension: number | null;
  /** LSN of the last record appended to the log. */
  lastLsn: number;
  /** LSN up to which the warm tier has applied the log. */
  appliedLsn: number;
  /** LSN up to which the vector index has applied the log. */
  indexedLsn: number;
  /** LSN covered by the last index snapshot on disk. */
  snapshotLsn: number;
  /** Log records durable but not yet in the warm tier and index. */
  pendingApply: number;
  /**
   * Index writes searchable (staged on the index thread) that the HNSW graph has not applied
   * yet: the graph's own catch-up (0 on a backend without one).
   */
  indexBacklog: number;
  /** The space's embedder, or null when it takes client vectors only. */
  embedder: string | null;
  /** Memories in the hot tier, its capacity, and their ratio (the space's memory pressure; null for a backend without a hot tier). */
  hotMemories: number;
  hotCapacity: number;
  pressure: number | null;
  /**
   * Tier occupancy (absent for a backend without tiers). pressure is then the fullest tier's
   * occupancy: max(hot, warm / warmCapacity, cold / coldCapacity).
   */
  warmMemories?: number;
  warmCapacity?: number;
  coldMemories?: number;
  coldCapacity?: number;
  /** Bytes in the cold segments, space no longer referenced included. */
  coldBytes?: number;
  /** Consolidations made per second, over the last 10 minutes, in this process. */
  consolidationRate: number;
  /** True while the background applier runs (applying records or writing a checkpoint). */
  applying: boolean;
  /** Age in ms of the oldest log record not yet applied (0 when caught up). */
  applyLagMs: number;
  walSegments: number;
  walBytes: number;
}

export interface SpaceSummary {
  id: SpaceId;
  state: SpaceState;
  /** Exact count, or null when the listing was asked not to open spaces or the space is quarantined. */
  memories: number | null;
  dimension: number | null;
  /** Why the space is quarantined. */
  reason?: string;
}

export interface SpaceHandle {
  readonly id: SpaceId;
  remember(input: RememberInput, options?: CallOptions): Promise<MemoryView>;
  get(id: string): Promise<MemoryView | undefined>;
  getVector(id: string): Promise<Float32Array | undefined>;
  update(id: string, patch: MemoryPatch, options?: CallOptions): Promise<MemoryView>;
  /** Hard delete (or suppress). Resolves false when the memory did not exist. */
  forget(id: string, options?: ForgetOptions): Promise<boolean>;
  associate(from: string, to: string, weight: number, options?: CallOptions): Promise<void>;
  associations(id: string): Promise<Array<{ to: string; weight: number }>>;
  /** By vector, or by text through the space's embedder. */
  recall(
    query: string | Float32Array | readonly number[],
    options: RecallOptions,
  ): Promise<RecallHit[]>;
  list(options: ListOptions): Promise<ListPage>;
  stats(): Promise<SpaceStats>;
  /** Runs consolidation now (it also runs every consolidationIntervalMs). */
  consolidate(
    options?: Partial<ConsolidationSettings>,
  ): Promise<Array<{ memoryId: string; sources: string[]; strength: number }>>;
  /** Semantic memories made by consolidation, newest first. */
  consolidations(limit: number): Promise<MemoryView[]>;
  /**
   * Runs `fn` over a consistent snapshot holding every write acknowledged before the call
   * (engine/space-snapshot.ts); writes go on meanwhile. Backups and exports read this way.
   */
  snapshot<T>(fn: (snapshot: SpaceSnapshot) => Promise<T>): Promise<T>;
  /** Stores validated memories as they are (restore, import); per-item errors. */
  load(items: readonly SnapshotMemory[], options?: CallOptions): Promise<LoadReport>;
  /** Associations left unresolved by load(), retried once their ends exist. */
  loadLinks(
    links: ReadonlyArray<{ from: string; to: string; weight: number }>,
  ): Promise<{ unresolved: LoadReport['unresolved']; lsn: number }>;
}

export interface ConsolidationSettings {
  /** Cosine a memory needs to join a group (default 0.8). */
  similarity: number;
  /** Smallest group that becomes a consolidation (default 3). */
  minSources: number;
  maxSources: number;
  /** Most episodes considered per run (newest first; default 2000). */
  candidatesMax: number;
}

export interface StorageEngine {
  /** Idempotent: `created` is false when the space already existed. */
  createSpace(id: string, options?: CreateSpaceOptions): Promise<{ id: SpaceId; created: boolean }>;
  /** A handle for one existing space; ENG_SPACE_NOT_FOUND otherwise. */
  space(id: string): Promise<SpaceHandle>;
  listSpaces(options?: { counts?: boolean }): Promise<SpaceSummary[]>;
  /** Durable delete. Resolves false when the space did not exist. */
  deleteSpace(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** What a backend found when it opened: spaces, entries it passed over, and how long it took. */
export interface DiscoveryReport {
  spaces: number;
  skipped: Array<{ name: string; reason: string }>;
  ms: number;
}

/**
 * What the HTTP and gRPC front ends and the CLI need from a backend, beyond the storage
 * interface: existence checks, event streams and the shared limits. The embedded Registry and
 * the PostgreSQL engine both implement it, so the servers never know which one they run on.
 */
export interface ServedEngine extends StorageEngine {
  /** "lmdb" (the embedded backend) or "postgres". */
  readonly backend: 'lmdb' | 'postgres';
  /** Where the data lives, for logs and start-up lines (never a password). */
  readonly location: string;
  readonly discovery: DiscoveryReport;
  readonly options: Readonly<{ maxK: number }>;
  /** Whether the space exists; creates and opens nothing. */
  hasSpace(id: string): Promise<boolean>;
  /**
   * Live events of one space and, with `afterLsn`, the retained ones after that id first, each
   * delivered once and in order. ENG_SPACE_NOT_FOUND when the space does not exist.
   */
  subscribe(
    id: string,
    listener: SpaceEventListener,
    options?: { afterLsn?: number; replayLimit?: number },
  ): Promise<() => void>;
  /** Subscribers across all spaces (for limits and metrics). */
  subscriberCount(): number;
}
