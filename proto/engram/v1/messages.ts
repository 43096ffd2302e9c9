/**
 * TypeScript shapes of the engram.v1 messages as @grpc/proto-loader presents them with
 * LOADER_OPTIONS (engram-proto.ts): proto field names, enums as their names, uint64 as number,
 * absent fields undefined, repeated fields always arrays when read. The .proto files are the
 * contract and document every field; these types follow them one to one. Every field is
 * optional here because proto3 lets a sender leave any field out.
 */

// ---- well-known types ------------------------------------------------------------------------

export interface Timestamp {
  seconds?: number;
  nanos?: number;
}

/** google.protobuf.Value: exactly one of the fields is set (protobufjs keeps camelCase here). */
export interface Value {
  nullValue?: 'NULL_VALUE';
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: Struct;
  listValue?: { values?: Value[] };
}

export interface Struct {
  fields?: Record<string, Value>;
}

// ---- enums -----------------------------------------------------------------------------------

export type MemoryTypeName =
  | 'MEMORY_TYPE_UNSPECIFIED'
  | 'MEMORY_TYPE_EPISODIC'
  | 'MEMORY_TYPE_SEMANTIC'
  | 'MEMORY_TYPE_PROCEDURAL';
export type RecallModeName =
  | 'RECALL_MODE_UNSPECIFIED'
  | 'RECALL_MODE_SIMILARITY'
  | 'RECALL_MODE_LEXICAL'
  | 'RECALL_MODE_HYBRID'
  | 'RECALL_MODE_SPREADING';
export type TierName = 'TIER_UNSPECIFIED' | 'TIER_HOT' | 'TIER_WARM' | 'TIER_COLD';
export type ForgetModeName =
  'FORGET_MODE_UNSPECIFIED' | 'FORGET_MODE_DELETE' | 'FORGET_MODE_SUPPRESS';
export type EventTypeName =
  | 'EVENT_TYPE_UNSPECIFIED'
  | 'EVENT_TYPE_STORED'
  | 'EVENT_TYPE_UPDATED'
  | 'EVENT_TYPE_FORGOTTEN'
  | 'EVENT_TYPE_ASSOCIATED'
  | 'EVENT_TYPE_CONSOLIDATED';
export type SpaceStateName =
  'SPACE_STATE_UNSPECIFIED' | 'SPACE_STATE_OPEN' | 'SPACE_STATE_CLOSED' | 'SPACE_STATE_QUARANTINED';
export type HealthStatusName =
  'HEALTH_STATUS_UNSPECIFIED' | 'HEALTH_STATUS_OK' | 'HEALTH_STATUS_DEGRADED';

// ---- memory.proto ----------------------------------------------------------------------------

export interface Episode {
  memory_space_id?: string;
  when?: Timestamp;
  what?: string;
  where?: string;
  who?: string[];
  why?: string;
  how?: string;
  importance?: number;
}

export interface Memory {
  id?: string;
  memory_space_id?: string;
  content?: string;
  confidence?: number;
  memory_type?: MemoryTypeName;
  tags?: string[];
  metadata?: Struct;
  observed_at?: Timestamp;
  stored_at?: Timestamp;
  updated_at?: Timestamp;
  suppressed?: boolean;
  has_embedding?: boolean;
  episode?: Episode;
  lsn?: number;
  access_count?: number;
  last_access?: Timestamp;
  consolidation?: Consolidation;
}

export interface Consolidation {
  sources?: string[];
  strength?: number;
}

export interface SpreadOptions {
  seeds?: number;
  hops?: number;
  fan_out?: number;
  decay?: number;
}

export interface RecallFilter {
  tags?: string[];
  memory_types?: MemoryTypeName[];
  observed_after?: Timestamp;
  observed_before?: Timestamp;
  min_confidence?: number;
}

export interface ScoreParts {
  similarity?: number;
  lexical?: number;
  confidence?: number;
  activation?: number;
}

export interface RecallHit {
  memory?: Memory;
  score?: number;
  parts?: ScoreParts;
  tier?: TierName;
  path?: string[];
}

export interface ErrorResult {
  code?: string;
  message?: string;
  status?: number;
  details?: Struct;
}

// ---- space.proto -----------------------------------------------------------------------------

export interface SpaceSummary {
  memory_space_id?: string;
  state?: SpaceStateName;
  memories?: number;
  dimension?: number;
  reason?: string;
}

export interface SpaceInfo {
  memory_space_id?: string;
  state?: SpaceStateName;
  memories?: number;
  dimension?: number;
  last_lsn?: number;
  applied_lsn?: number;
  indexed_lsn?: number;
  snapshot_lsn?: number;
  pending_apply?: number;
  wal_lag_ms?: number;
  index_lag_records?: number;
  index_backlog?: number;
  wal_segments?: number;
  wal_bytes?: number;
  hot_memories?: number;
  hot_capacity?: number;
  pressure?: number;
  consolidation_rate?: number;
  warm_memories?: number;
  warm_capacity?: number;
  cold_memories?: number;
  cold_capacity?: number;
  cold_bytes?: number;
}

export interface SpaceHealth {
  memory_space_id?: string;
  state?: SpaceStateName;
  memories?: number;
  pressure?: number;
  wal_lag_ms?: number;
  consolidation_rate?: number;
  reason?: string;
}

// ---- event.proto -----------------------------------------------------------------------------

export interface SpaceEventMessage {
  lsn?: number;
  type?: EventTypeName;
  memory_space_id?: string;
  memory_id?: string;
  at?: Timestamp;
  detail?: Struct;
}

// ---- engram_service.proto --------------------------------------------------------------------

export interface RememberRequest {
  memory_space_id?: string;
  id?: string;
  content?: string;
  embedding?: number[];
  confidence?: number;
  memory_type?: MemoryTypeName;
  tags?: string[];
  metadata?: Struct;
  observed_at?: Timestamp;
}

export interface RememberResponse {
  memory_id?: string;
  memory_space_id?: string;
  lsn?: number;
  stored_at?: Timestamp;
  memory?: Memory;
}

export interface StoreRequest {
  memory_space_id?: string;
  episode?: Episode;
  id?: string;
  content?: string;
  embedding?: number[];
  confidence?: number;
  tags?: string[];
  metadata?: Struct;
}

export interface RecallRequest {
  memory_space_id?: string;
  query?: string;
  embedding?: number[];
  k?: number;
  threshold?: number;
  mode?: RecallModeName;
  filters?: RecallFilter;
  include_suppressed?: boolean;
  include_cold?: boolean;
  spread?: SpreadOptions;
}

export interface RecallResponse {
  memory_space_id?: string;
  memories?: RecallHit[];
}

export interface ForgetRequest {
  memory_space_id?: string;
  memory_id?: string;
  mode?: ForgetModeName;
}

export interface ForgetResponse {
  memory_id?: string;
  memory_space_id?: string;
  mode?: ForgetModeName;
  deleted?: boolean;
  suppressed?: boolean;
}

export interface GetMemoryRequest {
  memory_space_id?: string;
  memory_id?: string;
}

export interface GetMemoryResponse {
  memory?: Memory;
}

export interface StreamingRememberRequest {
  memory_space_id?: string;
  correlation_id?: string;
  memory?: RememberRequest;
  episode?: StoreRequest;
}

export interface RememberAck {
  memory_id?: string;
  lsn?: number;
  stored_at?: Timestamp;
}

export interface StreamingRememberResponse {
  correlation_id?: string;
  memory_space_id?: string;
  stored?: RememberAck;
  error?: ErrorResult;
}

export interface StreamingRecallRequest {
  memory_space_id?: string;
  correlation_id?: string;
  recall?: RecallRequest;
}

export interface StreamingRecallResponse {
  correlation_id?: string;
  memory_space_id?: string;
  recalled?: RecallResponse;
  error?: ErrorResult;
}

export interface StreamRequest {
  memory_space_id?: string;
  after_lsn?: number;
}

export interface CreateSpaceRequest {
  memory_space_id?: string;
  dimension?: number;
  embedder?: string;
}

export interface CreateSpaceResponse {
  created?: boolean;
  space?: SpaceInfo;
}

export interface ListSpacesRequest {
  memory_space_id?: string;
}

export interface ListSpacesResponse {
  spaces?: SpaceSummary[];
}

export interface DeleteSpaceRequest {
  memory_space_id?: string;
}

export interface DeleteSpaceResponse {
  memory_space_id?: string;
  deleted?: boolean;
}

export interface HealthRequest {
  memory_space_id?: string;
}

export interface HealthResponse {
  status?: HealthStatusName;
  spaces?: SpaceHealth[];
}

// ---- API keys (key.proto) --------------------------------------------------------------------

export interface ApiKey {
  id?: string;
  name?: string;
  spaces?: string[];
  permissions?: string[];
  created_at?: Timestamp;
  expires_at?: Timestamp;
  revoked_at?: Timestamp;
}

export interface CreateApiKeyRequest {
  name?: string;
  spaces?: string[];
  permissions?: string[];
  expires_in?: string;
  expires_at?: Timestamp;
}

export interface CreateApiKeyResponse {
  key?: string;
  api_key?: ApiKey;
}

export type ListApiKeysRequest = Record<string, never>;

export interface ListApiKeysResponse {
  keys?: ApiKey[];
}

export interface RevokeApiKeyRequest {
  id?: string;
}

export interface RevokeApiKeyResponse {
  api_key?: ApiKey;
}
