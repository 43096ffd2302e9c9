/** Engine records <-> engram.v1 messages (proto field names, enum names, Timestamps, Structs). */
import {
  EngramError,
  type MemoryView,
  type MemoryType,
  type RecallFilter,
  type RecallHit,
  type RecallMode,
  type RecallOptions,
  type RememberInput,
  type SpaceEvent,
  type SpaceEventType,
  type SpaceState,
  type SpaceStats,
  type SpaceSummary,
} from '../../engine/index.ts';
import type {
  Episode,
  EventTypeName,
  ForgetModeName,
  Memory,
  MemoryTypeName,
  RecallHit as WireRecallHit,
  RecallModeName,
  RecallRequest,
  RememberRequest,
  SpaceEventMessage,
  SpaceInfo,
  SpaceStateName,
  SpaceSummary as WireSpaceSummary,
  StoreRequest,
  TierName,
  Timestamp,
} from '../../proto/engram/v1/messages.ts';
import {
  fromStruct,
  fromTimestamp,
  toStruct,
  toTimestamp,
} from '../../proto/engram/v1/well-known.ts';

/** Results wanted when a recall asks for k = 0 (not given), as over HTTP. */
export const DEFAULT_K = 10;

const MEMORY_TYPE_TO_WIRE: Readonly<Record<MemoryType, MemoryTypeName>> = {
  episodic: 'MEMORY_TYPE_EPISODIC',
  semantic: 'MEMORY_TYPE_SEMANTIC',
  procedural: 'MEMORY_TYPE_PROCEDURAL',
};

const RECALL_MODE_FROM_WIRE: Readonly<Record<string, RecallMode>> = {
  RECALL_MODE_SIMILARITY: 'similarity',
  RECALL_MODE_LEXICAL: 'lexical',
  RECALL_MODE_HYBRID: 'hybrid',
  RECALL_MODE_SPREADING: 'spreading',
};

const EVENT_TYPE_TO_WIRE: Readonly<Record<SpaceEventType, EventTypeName>> = {
  stored: 'EVENT_TYPE_STORED',
  updated: 'EVENT_TYPE_UPDATED',
  forgotten: 'EVENT_TYPE_FORGOTTEN',
  associated: 'EVENT_TYPE_ASSOCIATED',
  consolidated: 'EVENT_TYPE_CONSOLIDATED',
};

const TIER_TO_WIRE: Readonly<Record<RecallHit['tier'], TierName>> = {
  hot: 'TIER_HOT',
  warm: 'TIER_WARM',
  cold: 'TIER_COLD',
};

const SPACE_STATE_TO_WIRE: Readonly<Record<SpaceState, SpaceStateName>> = {
  open: 'SPACE_STATE_OPEN',
  closed: 'SPACE_STATE_CLOSED',
  quarantined: 'SPACE_STATE_QUARANTINED',
};

/**
 * An enum value read from the wire: undefined when not given. A name this build does not know
 * (or a number protobufjs could not name) is passed on as text, so the engine's validation
 * rejects it with its usual message instead of it being silently ignored.
 */
function memoryTypeFromWire(value: MemoryTypeName | number | undefined): MemoryType | undefined {
  if (value === undefined || value === 'MEMORY_TYPE_UNSPECIFIED' || value === 0) return undefined;
  const known = Object.entries(MEMORY_TYPE_TO_WIRE).find(([, name]) => name === value);
  return (known?.[0] ?? String(value)) as MemoryType;
}

function recallModeFromWire(value: RecallModeName | number | undefined): RecallMode | undefined {
  if (value === undefined || value === 'RECALL_MODE_UNSPECIFIED' || value === 0) return undefined;
  return RECALL_MODE_FROM_WIRE[value] ?? (String(value) as RecallMode);
}

export function forgetModeFromWire(
  value: ForgetModeName | number | undefined,
): 'delete' | 'suppress' {
  if (value === undefined || value === 'FORGET_MODE_UNSPECIFIED' || value === 0) return 'delete';
  if (value === 'FORGET_MODE_DELETE') return 'delete';
  if (value === 'FORGET_MODE_SUPPRESS') return 'suppress';
  throw new EngramError('ENG_QUERY_INVALID', `Unknown forget mode ${JSON.stringify(value)}`);
}

export function forgetModeToWire(mode: 'delete' | 'suppress'): ForgetModeName {
  return mode === 'delete' ? 'FORGET_MODE_DELETE' : 'FORGET_MODE_SUPPRESS';
}

/** A Timestamp read from the wire as ms since the epoch (the engine checks the range). */
function time(value: Timestamp | undefined): number | undefined {
  return value === undefined ? undefined : fromTimestamp(value);
}

/** An empty string is "not given" in proto3. */
function text(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function list<T>(value: T[] | undefined): T[] | undefined {
  return value === undefined || value.length === 0 ? undefined : value;
}

export function memoryToWire(record: MemoryView, space: string): Memory {
  const wire: Memory = {
    id: record.id,
    memory_space_id: space,
    content: record.content,
    confidence: record.confidence,
    memory_type: MEMORY_TYPE_TO_WIRE[record.memoryType],
    tags: record.tags,
    metadata: toStruct(record.metadata),
    observed_at: toTimestamp(record.observedAt),
    stored_at: toTimestamp(record.storedAt),
    updated_at: toTimestamp(record.updatedAt),
    suppressed: record.suppressed,
    has_embedding: record.hasVector,
    lsn: record.lsn,
    access_count: record.accessCount,
  };
  if (record.lastAccess !== null) wire.last_access = toTimestamp(record.lastAccess);
  if (record.consolidation) {
    wire.consolidation = {
      sources: [...record.consolidation.sources],
      strength: record.consolidation.strength,
    };
  }
  const episode = record.episode;
  if (episode) {
    const parts: Episode = { memory_space_id: space, what: episode.what };
    if (episode.when !== undefined) parts.when = toTimestamp(episode.when);
    if (episode.where !== undefined) parts.where = episode.where;
    if (episode.who !== undefined) parts.who = episode.who;
    if (episode.why !== undefined) parts.why = episode.why;
    if (episode.how !== undefined) parts.how = episode.how;
    if (episode.importance !== undefined) parts.importance = episode.importance;
    wire.episode = parts;
  }
  return wire;
}

export function hitToWire(hit: RecallHit, space: string): WireRecallHit {
  const parts: WireRecallHit['parts'] = {
    confidence: hit.parts.confidence,
    activation: hit.parts.activation,
  };
  if (hit.parts.similarity !== undefined) parts.similarity = hit.parts.similarity;
  if (hit.parts.lexical !== undefined) parts.lexical = hit.parts.lexical;
  const wire: WireRecallHit = {
    memory: memoryToWire(hit.memory, space),
    score: hit.score,
    parts,
    tier: TIER_TO_WIRE[hit.tier],
  };
  if (hit.path) wire.path = [...hit.path];
  return wire;
}

/** The fields a memory and an episode share. */
function commonInput(
  req: Pick<RememberRequest, 'id' | 'content' | 'embedding' | 'confidence' | 'tags' | 'metadata'>,
): RememberInput {
  const input: RememberInput = {};
  const id = text(req.id);
  if (id !== undefined) input.id = id;
  const content = text(req.content);
  if (content !== undefined) input.content = content;
  const embedding = list(req.embedding);
  if (embedding !== undefined) input.vector = embedding;
  if (req.confidence !== undefined) input.confidence = req.confidence;
  const tags = list(req.tags);
  if (tags !== undefined) input.tags = tags;
  if (req.metadata !== undefined) input.metadata = fromStruct(req.metadata);
  return input;
}

export function rememberFromWire(req: RememberRequest): RememberInput {
  const input = commonInput(req);
  if (input.content === undefined) {
    // As over HTTP, content is required (the engine would accept none only for an episode).
    throw new EngramError('ENG_CONTENT_INVALID', 'Memory content must be a non-empty string');
  }
  const memoryType = memoryTypeFromWire(req.memory_type);
  if (memoryType !== undefined) input.memoryType = memoryType;
  const observedAt = time(req.observed_at);
  if (observedAt !== undefined) input.observedAt = observedAt;
  return input;
}

export function storeFromWire(req: StoreRequest): RememberInput {
  const episode = req.episode;
  if (episode === undefined) {
    throw new EngramError('ENG_REQUEST_INVALID', 'episode is required');
  }
  const input = commonInput(req);
  const parts: NonNullable<RememberInput['episode']> = { what: episode.what ?? '' };
  const when = time(episode.when);
  if (when !== undefined) parts.when = when;
  for (const key of ['where', 'why', 'how'] as const) {
    const value = text(episode[key]);
    if (value !== undefined) parts[key] = value;
  }
  const who = list(episode.who);
  if (who !== undefined) parts.who = who;
  if (episode.importance !== undefined) parts.importance = episode.importance;
  input.episode = parts;
  return input;
}

export interface WireRecall {
  query: string | number[];
  options: RecallOptions;
}

/** A recall request as the engine's query and options. */
export function recallFromWire(req: RecallRequest): WireRecall {
  const query = text(req.query);
  const embedding = list(req.embedding);
  if ((query === undefined) === (embedding === undefined)) {
    throw new EngramError(
      'ENG_REQUEST_INVALID',
      'Give exactly one of "query" (text) or "embedding" (vector)',
    );
  }
  const options: RecallOptions = {
    k: req.k === undefined || req.k === 0 ? DEFAULT_K : req.k,
    includeSuppressed: req.include_suppressed === true,
    includeCold: req.include_cold === true,
  };
  const mode = recallModeFromWire(req.mode);
  if (mode !== undefined) options.mode = mode;
  if (req.threshold !== undefined) options.threshold = req.threshold;
  const f = req.filters;
  if (f) {
    const filter: RecallFilter = {};
    const tags = list(f.tags);
    if (tags) filter.tags = tags;
    const types = list(f.memory_types);
    if (types) filter.memoryTypes = types.map((t) => memoryTypeFromWire(t) ?? ('' as MemoryType));
    const after = time(f.observed_after);
    if (after !== undefined) filter.observedAfter = after;
    const before = time(f.observed_before);
    if (before !== undefined) filter.observedBefore = before;
    if (f.min_confidence !== undefined) filter.minConfidence = f.min_confidence;
    options.filter = filter;
  }
  const spread = req.spread;
  if (spread) {
    options.spread = {
      ...(spread.seeds === undefined ? {} : { seeds: spread.seeds }),
      ...(spread.hops === undefined ? {} : { hops: spread.hops }),
      ...(spread.fan_out === undefined ? {} : { fanOut: spread.fan_out }),
      ...(spread.decay === undefined ? {} : { decay: spread.decay }),
    };
  }
  return { query: query ?? embedding!, options };
}

export function spaceStatsToWire(stats: SpaceStats): SpaceInfo {
  const info: SpaceInfo = {
    memory_space_id: stats.id,
    state: SPACE_STATE_TO_WIRE[stats.state],
    memories: stats.memories,
    last_lsn: stats.lastLsn,
    applied_lsn: stats.appliedLsn,
    indexed_lsn: stats.indexedLsn,
    snapshot_lsn: stats.snapshotLsn,
    pending_apply: stats.pendingApply,
    wal_lag_ms: stats.applyLagMs,
    index_lag_records: stats.lastLsn - stats.indexedLsn,
    index_backlog: stats.indexBacklog,
    wal_segments: stats.walSegments,
    wal_bytes: stats.walBytes,
    hot_memories: stats.hotMemories,
    hot_capacity: stats.hotCapacity,
    consolidation_rate: stats.consolidationRate,
  };
  if (stats.pressure !== null) info.pressure = stats.pressure;
  if (stats.dimension !== null) info.dimension = stats.dimension;
  const tiers = {
    warm_memories: stats.warmMemories,
    warm_capacity: stats.warmCapacity,
    cold_memories: stats.coldMemories,
    cold_capacity: stats.coldCapacity,
    cold_bytes: stats.coldBytes,
  };
  for (const [key, value] of Object.entries(tiers))
    if (value !== undefined) info[key as keyof typeof tiers] = value;
  return info;
}

export function spaceSummaryToWire(summary: SpaceSummary): WireSpaceSummary {
  const wire: WireSpaceSummary = {
    memory_space_id: summary.id,
    state: SPACE_STATE_TO_WIRE[summary.state],
  };
  if (summary.memories !== null) wire.memories = summary.memories;
  if (summary.dimension !== null) wire.dimension = summary.dimension;
  if (summary.reason) wire.reason = summary.reason;
  return wire;
}

export function spaceStateToWire(state: SpaceState): SpaceStateName {
  return SPACE_STATE_TO_WIRE[state];
}

/** The same event the HTTP SSE stream sends, as a SpaceEvent message. */
export function eventToWire(event: SpaceEvent): SpaceEventMessage {
  return {
    lsn: event.lsn,
    type: EVENT_TYPE_TO_WIRE[event.type],
    memory_space_id: event.space,
    memory_id: event.memoryId,
    at: toTimestamp(event.at),
    detail: toStruct(event.detail),
  };
}
