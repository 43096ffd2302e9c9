/** Engine records <-> the JSON the HTTP API speaks (snake_case, ISO 8601 times). */
import type {
  MemoryView,
  RecallHit,
  RememberInput,
  SpaceStats,
  SpaceSummary,
} from '../../engine/index.ts';

export interface WireMemory {
  id: string;
  memory_space: string;
  content: string;
  confidence: number;
  memory_type: string;
  tags: string[];
  metadata: Record<string, unknown>;
  observed_at: string;
  stored_at: string;
  updated_at: string;
  suppressed: boolean;
  has_embedding: boolean;
  access_count: number;
  last_access: string | null;
  episode?: Record<string, unknown>;
  consolidation?: { sources: string[]; strength: number };
  /** The write was merged into this existing memory (space dedup). */
  deduplicated?: true;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function memoryToWire(record: MemoryView, space: string): WireMemory {
  const wire: WireMemory = {
    id: record.id,
    memory_space: space,
    content: record.content,
    confidence: record.confidence,
    memory_type: record.memoryType,
    tags: record.tags,
    metadata: record.metadata,
    observed_at: iso(record.observedAt),
    stored_at: iso(record.storedAt),
    updated_at: iso(record.updatedAt),
    suppressed: record.suppressed,
    has_embedding: record.hasVector,
    access_count: record.accessCount,
    last_access: record.lastAccess === null ? null : iso(record.lastAccess),
  };
  if (record.consolidation) wire.consolidation = { ...record.consolidation };
  if (record.deduplicated) wire.deduplicated = true;
  if (record.episode) {
    const { when, ...rest } = record.episode;
    wire.episode = { ...rest, ...(when === undefined ? {} : { when: iso(when) }) };
  }
  return wire;
}

export function hitToWire(
  hit: RecallHit,
  space: string,
): WireMemory & {
  score: number;
  parts: RecallHit['parts'];
  tier: RecallHit['tier'];
  path?: string[];
} {
  return {
    ...memoryToWire(hit.memory, space),
    score: hit.score,
    parts: hit.parts,
    tier: hit.tier,
    ...(hit.path ? { path: hit.path } : {}),
  };
}

export interface WireRemember {
  id?: string;
  memory_id?: string;
  content?: string;
  embedding?: number[];
  confidence?: number;
  memory_type?: RememberInput['memoryType'];
  tags?: string[];
  metadata?: Record<string, unknown>;
  observed_at?: string | number;
}

export function rememberFromWire(body: WireRemember): RememberInput {
  const input: RememberInput = {};
  const id = body.id ?? body.memory_id;
  if (id !== undefined) input.id = id;
  if (body.content !== undefined) input.content = body.content;
  if (body.embedding !== undefined) input.vector = body.embedding;
  if (body.confidence !== undefined) input.confidence = body.confidence;
  if (body.memory_type !== undefined) input.memoryType = body.memory_type;
  if (body.tags !== undefined) input.tags = body.tags;
  if (body.metadata !== undefined) input.metadata = body.metadata;
  if (body.observed_at !== undefined) input.observedAt = body.observed_at;
  return input;
}

export function spaceStatsToWire(stats: SpaceStats): Record<string, unknown> {
  return {
    id: stats.id,
    state: stats.state,
    memories: stats.memories,
    dimension: stats.dimension,
    last_lsn: stats.lastLsn,
    applied_lsn: stats.appliedLsn,
    indexed_lsn: stats.indexedLsn,
    snapshot_lsn: stats.snapshotLsn,
    pending_apply: stats.pendingApply,
    wal_lag_ms: stats.applyLagMs,
    embedder: stats.embedder,
    pressure: stats.pressure,
    tiers: {
      hot: stats.hotMemories,
      warm: stats.warmMemories ?? stats.memories,
      cold: stats.coldMemories ?? null,
    },
    warm_capacity: stats.warmCapacity ?? null,
    cold_capacity: stats.coldCapacity ?? null,
    cold_bytes: stats.coldBytes ?? null,
    hot_memories: stats.hotMemories,
    hot_capacity: stats.hotCapacity,
    consolidation_rate: stats.consolidationRate,
    index_lag_records: stats.lastLsn - stats.indexedLsn,
    index_backlog: stats.indexBacklog,
    wal_segments: stats.walSegments,
    wal_bytes: stats.walBytes,
  };
}

export function spaceSummaryToWire(summary: SpaceSummary): Record<string, unknown> {
  return {
    id: summary.id,
    state: summary.state,
    memories: summary.memories,
    dimension: summary.dimension,
    ...(summary.reason ? { reason: summary.reason } : {}),
  };
}
