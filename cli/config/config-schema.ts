/**
 * Every configuration key: its TOML path, type, default, environment variable and meaning. This
 * table is the single source: loading, `engram config show` and docs/cli.md (checked by a test)
 * all follow it. Engine keys take their defaults from ENGINE_DEFAULTS and are range-checked by
 * the engine's own validator; server keys take theirs from HTTP_DEFAULTS and SERVER_DEFAULTS.
 */
import {
  DEFAULT_DATA_ROOT,
  ENGINE_DEFAULTS,
  ONNX_DEFAULTS,
  ONNX_LIMITS,
  POSTGRES_DEFAULTS,
  type EngineOptions,
} from '../../engine/index.ts';
import { HTTP_DEFAULTS } from '../../server/http/context.ts';

/**
 * server/main.ts's SERVER_DEFAULTS, written out (test/unit/config-keys.test.ts checks they agree):
 * importing server/main.ts loads fastify and gRPC, which the client commands never need.
 */
export const SERVER_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 7432,
  grpcPort: 50051,
  logLevel: 'info',
});

interface CommonSpec {
  /** The ENGRAM_* variable that overrides the file. */
  env: string;
  doc: string;
  /** The engine option this key sets; the engine validates its range. */
  engine?: keyof EngineOptions;
  /** A URL that may carry a password: shown with the password masked. */
  credentialUrl?: true;
}

export interface StringSpec extends CommonSpec {
  type: 'string';
  default: string;
  choices?: readonly string[];
}

/** A file system path: `~` expands; a relative path in the file is relative to the file. */
export interface PathSpec extends CommonSpec {
  type: 'path';
  default: string;
}

export interface IntegerSpec extends CommonSpec {
  type: 'integer';
  default: number;
  /** Bounds checked here; keys with `engine` are bounded by the engine instead. */
  min?: number;
  max?: number;
}

export interface BooleanSpec extends CommonSpec {
  type: 'boolean';
  default: boolean;
}

/** A list of strings: a TOML array, or comma-separated in the environment and flags. */
export interface ListSpec extends CommonSpec {
  type: 'list';
  default: readonly string[];
}

export type KeySpec = StringSpec | PathSpec | IntegerSpec | BooleanSpec | ListSpec;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const EMBEDDER_CHOICES = ['hash', 'openai', 'onnx', 'none'] as const;
export const DEFAULT_HASH_DIMENSION = 384;

type EngineIntegerOption = {
  [K in keyof typeof ENGINE_DEFAULTS]: (typeof ENGINE_DEFAULTS)[K] extends number ? K : never;
}[keyof typeof ENGINE_DEFAULTS];

function engineInteger(option: EngineIntegerOption, env: string, doc: string): IntegerSpec {
  return { type: 'integer', default: ENGINE_DEFAULTS[option], env, doc, engine: option };
}

/** An [embedder.onnx] integer: the onnx embedder's default and bounds. */
function onnxInteger(option: keyof typeof ONNX_LIMITS, env: string, doc: string): IntegerSpec {
  const [min, max] = ONNX_LIMITS[option];
  return { type: 'integer', default: ONNX_DEFAULTS[option], min, max, env, doc };
}

export const CONFIG_SCHEMA = {
  'server.host': {
    type: 'string',
    default: SERVER_DEFAULTS.host,
    env: 'ENGRAM_HOST',
    doc: 'address the HTTP server listens on (also where client commands connect)',
  },
  'server.port': {
    type: 'integer',
    default: SERVER_DEFAULTS.port,
    min: 0,
    max: 65_535,
    env: 'ENGRAM_PORT',
    doc: 'HTTP port (0 picks a free one)',
  },
  'server.grpc_host': {
    type: 'string',
    default: '',
    env: 'ENGRAM_GRPC_HOST',
    doc: 'address the gRPC server listens on (empty: the same as server.host)',
  },
  'server.grpc_port': {
    type: 'integer',
    default: SERVER_DEFAULTS.grpcPort,
    min: 0,
    max: 65_535,
    env: 'ENGRAM_GRPC_PORT',
    doc: 'gRPC port (0 picks a free one)',
  },
  'server.log_level': {
    type: 'string',
    default: SERVER_DEFAULTS.logLevel,
    choices: LOG_LEVELS,
    env: 'ENGRAM_LOG_LEVEL',
    doc: 'pino log level of the server (logs go to stderr)',
  },
  'server.body_limit_bytes': {
    type: 'integer',
    default: HTTP_DEFAULTS.bodyLimitBytes,
    min: 1024,
    max: 1024 * 1024 * 1024,
    env: 'ENGRAM_BODY_LIMIT_BYTES',
    doc: 'largest HTTP request body (larger: 413 ENG_BODY_TOO_LARGE)',
  },
  'server.max_connections': {
    type: 'integer',
    default: HTTP_DEFAULTS.maxConnections,
    min: 1,
    max: 1_000_000,
    env: 'ENGRAM_MAX_CONNECTIONS',
    doc: 'open TCP connections per front end (HTTP and gRPC each); more are closed on accept',
  },
  'server.max_batch_items': {
    type: 'integer',
    default: HTTP_DEFAULTS.maxBatchItems,
    min: 1,
    max: 100_000,
    env: 'ENGRAM_MAX_BATCH_ITEMS',
    doc: 'memories in one POST /memories/remember/batch',
  },
  'server.max_stream_subscribers': {
    type: 'integer',
    default: HTTP_DEFAULTS.maxStreamSubscribers,
    min: 1,
    max: 1_000_000,
    env: 'ENGRAM_MAX_STREAM_SUBSCRIBERS',
    doc: 'open event streams across all spaces',
  },
  'server.max_stream_buffered_events': {
    type: 'integer',
    default: HTTP_DEFAULTS.maxStreamBufferedEvents,
    min: 1,
    max: 10_000_000,
    env: 'ENGRAM_MAX_STREAM_BUFFERED_EVENTS',
    doc: 'events a slow stream subscriber may have waiting before it is dropped',
  },
  'server.stream_heartbeat_ms': {
    type: 'integer',
    default: HTTP_DEFAULTS.streamHeartbeatMs,
    min: 100,
    max: 3_600_000,
    env: 'ENGRAM_STREAM_HEARTBEAT_MS',
    doc: 'period of event-stream heartbeats',
  },
  'server.metrics_space_labels_max': {
    type: 'integer',
    default: HTTP_DEFAULTS.metricsSpaceLabelsMax,
    min: 0,
    max: 100_000,
    env: 'ENGRAM_METRICS_SPACE_LABELS_MAX',
    doc: 'spaces with their own label in /metrics (the rest are summed under "_other")',
  },

  'persistence.backend': {
    type: 'string',
    default: 'lmdb',
    choices: ['lmdb', 'postgres'],
    env: 'ENGRAM_BACKEND',
    doc: 'storage backend: "lmdb" (embedded, under data_root) or "postgres" (PostgreSQL + pgvector at postgres_url)',
  },
  'persistence.postgres_url': {
    type: 'string',
    default: '',
    env: 'ENGRAM_POSTGRES_URL',
    credentialUrl: true,
    doc: 'postgres:// connection string of the "postgres" backend (prefer the variable: it holds a password)',
  },
  'persistence.postgres_schema': {
    type: 'string',
    default: POSTGRES_DEFAULTS.schema,
    env: 'ENGRAM_POSTGRES_SCHEMA',
    doc: 'schema holding the tables of the "postgres" backend',
  },
  'persistence.postgres_role': {
    type: 'string',
    default: '',
    env: 'ENGRAM_POSTGRES_ROLE',
    doc: 'role taken with SET LOCAL ROLE in every transaction ("": the connecting role is the application role)',
  },
  'persistence.postgres_pool_max': {
    type: 'integer',
    default: POSTGRES_DEFAULTS.poolMax,
    min: 1,
    max: 1000,
    env: 'ENGRAM_POSTGRES_POOL_MAX',
    doc: 'connections in the "postgres" backend\'s pool',
  },
  'persistence.postgres_migrate': {
    type: 'boolean',
    default: POSTGRES_DEFAULTS.migrate,
    env: 'ENGRAM_POSTGRES_MIGRATE',
    doc: 'run pending schema migrations at start (otherwise `engram migrate` does)',
  },
  'persistence.data_root': {
    type: 'path',
    default: DEFAULT_DATA_ROOT,
    env: 'ENGRAM_DATA_ROOT',
    doc: 'data directory, one sub-directory per space',
    engine: 'dataRoot',
  },
  'persistence.durability': {
    type: 'string',
    default: ENGINE_DEFAULTS.durability,
    choices: ['fsync', 'interval', 'none'],
    env: 'ENGRAM_DURABILITY',
    doc: 'when a write is acknowledged: once synced, after an interval sync, or never synced',
    engine: 'durability',
  },
  'persistence.wal_sync_method': {
    type: 'string',
    default: ENGINE_DEFAULTS.walSyncMethod,
    choices: ['dsync', 'fdatasync'],
    env: 'ENGRAM_WAL_SYNC_METHOD',
    doc: 'how "fsync" durability syncs the log: O_DSYNC writes (Linux only), or a write then fdatasync',
    engine: 'walSyncMethod',
  },
  'persistence.sync_interval_ms': engineInteger(
    'syncIntervalMs',
    'ENGRAM_SYNC_INTERVAL_MS',
    'sync period in "interval" durability',
  ),
  'persistence.wal_segment_bytes_max': engineInteger(
    'walSegmentBytesMax',
    'ENGRAM_WAL_SEGMENT_BYTES_MAX',
    'a log segment is closed and a new one started at this size',
  ),
  'persistence.wal_record_bytes_max': engineInteger(
    'walRecordBytesMax',
    'ENGRAM_WAL_RECORD_BYTES_MAX',
    'largest payload of one log record',
  ),
  'persistence.group_commit_records_max': engineInteger(
    'groupCommitRecordsMax',
    'ENGRAM_GROUP_COMMIT_RECORDS_MAX',
    'most records in one commit group (one write and its sync)',
  ),
  'persistence.max_pending_writes': engineInteger(
    'maxPendingWrites',
    'ENGRAM_MAX_PENDING_WRITES',
    'writes waiting for the log per space (then ENG_WRITE_QUEUE_FULL)',
  ),
  'persistence.max_unapplied_records': engineInteger(
    'maxUnappliedRecords',
    'ENGRAM_MAX_UNAPPLIED_RECORDS',
    'durable records waiting for the warm tier and index per space (then ENG_WRITE_QUEUE_FULL)',
  ),
  'persistence.apply_batch_records': engineInteger(
    'applyBatchRecords',
    'ENGRAM_APPLY_BATCH_RECORDS',
    'records applied to the warm tier in one LMDB transaction',
  ),
  'persistence.index_snapshot_every_records': engineInteger(
    'indexSnapshotEveryRecords',
    'ENGRAM_INDEX_SNAPSHOT_EVERY_RECORDS',
    'applied records between vector index snapshots (checkpoints)',
  ),
  'persistence.hot_capacity': engineInteger(
    'hotCapacity',
    'ENGRAM_HOT_CAPACITY',
    'memories the hot tier (in-memory copies of recently recalled memories) holds per space',
  ),
  'persistence.warm_capacity': engineInteger(
    'warmCapacity',
    'ENGRAM_WARM_CAPACITY',
    'live memories the warm tier holds per space; past it the least activated are demoted to the cold tier',
  ),
  'persistence.cold_capacity': engineInteger(
    'coldCapacity',
    'ENGRAM_COLD_CAPACITY',
    'memories the cold tier holds per space; with warm and cold full, new memories fail (ENG_SPACE_FULL)',
  ),
  'persistence.access_flush_ms': engineInteger(
    'accessFlushMs',
    'ENGRAM_ACCESS_FLUSH_MS',
    'recall access counts are written to the warm tier this often (and at close)',
  ),

  'limits.max_content_bytes': engineInteger(
    'maxContentBytes',
    'ENGRAM_MAX_CONTENT_BYTES',
    "size of a memory's content",
  ),
  'limits.max_metadata_bytes': engineInteger(
    'maxMetadataBytes',
    'ENGRAM_MAX_METADATA_BYTES',
    "size of a memory's metadata JSON",
  ),
  'limits.max_memory_id_chars': engineInteger(
    'maxMemoryIdChars',
    'ENGRAM_MAX_MEMORY_ID_CHARS',
    'length of a memory id',
  ),
  'limits.max_dimensions': engineInteger(
    'maxDimensions',
    'ENGRAM_MAX_DIMENSIONS',
    'length of a vector',
  ),
  'limits.max_k': engineInteger('maxK', 'ENGRAM_MAX_K', 'recall k'),
  'limits.max_list_limit': engineInteger(
    'maxListLimit',
    'ENGRAM_MAX_LIST_LIMIT',
    'page size of GET /memories',
  ),

  'index.hnsw_m': engineInteger('hnswM', 'ENGRAM_HNSW_M', 'HNSW links per node'),
  'index.hnsw_ef_construction': engineInteger(
    'hnswEfConstruction',
    'ENGRAM_HNSW_EF_CONSTRUCTION',
    'HNSW candidate list size while building',
  ),
  'index.hnsw_ef_search': engineInteger(
    'hnswEfSearch',
    'ENGRAM_HNSW_EF_SEARCH',
    'HNSW candidate list size at query time (at least k)',
  ),
  'index.threads': engineInteger(
    'indexThreads',
    'ENGRAM_INDEX_THREADS',
    'threads the vector indexes of all spaces run on',
  ),

  'recall.activation_half_life_ms': engineInteger(
    'activationHalfLifeMs',
    'ENGRAM_ACTIVATION_HALF_LIFE_MS',
    "a memory's activation halves after this long without a recall",
  ),

  'consolidation.interval_ms': engineInteger(
    'consolidationIntervalMs',
    'ENGRAM_CONSOLIDATION_INTERVAL_MS',
    'consolidation runs this often in every open space (0: only on demand)',
  ),

  'memory_spaces.default_space': {
    type: 'string',
    default: HTTP_DEFAULTS.defaultSpace,
    env: 'ENGRAM_DEFAULT_SPACE',
    doc: "space of a request that names none; also the CLI's space when neither --space nor ENGRAM_MEMORY_SPACE is set",
  },
  'memory_spaces.auto_create': {
    type: 'boolean',
    default: HTTP_DEFAULTS.autoCreateSpaces,
    env: 'ENGRAM_AUTO_CREATE',
    doc: 'a write to a space that does not exist creates it (with the default embedder)',
  },
  'memory_spaces.max_spaces': engineInteger(
    'maxSpaces',
    'ENGRAM_MAX_SPACES',
    'spaces that may exist',
  ),
  'memory_spaces.max_open_spaces': engineInteger(
    'maxOpenSpaces',
    'ENGRAM_MAX_OPEN_SPACES',
    'spaces open at once; idle ones beyond this close and reopen on demand',
  ),
  'memory_spaces.bootstrap_spaces': {
    type: 'list',
    default: [],
    env: 'ENGRAM_BOOTSTRAP_SPACES',
    doc: 'spaces created (with the default embedder) if missing and opened at start',
  },

  'embedder.default': {
    type: 'string',
    default: HTTP_DEFAULTS.defaultEmbedder ?? 'none',
    choices: EMBEDDER_CHOICES,
    env: 'ENGRAM_EMBEDDER',
    doc: 'embedder of spaces created without one named: "hash", "openai", "onnx" or "none" (client vectors only)',
  },
  'embedder.hash.dimension': {
    type: 'integer',
    default: DEFAULT_HASH_DIMENSION,
    min: 8,
    max: 65_536,
    env: 'ENGRAM_HASH_DIMENSION',
    doc: 'dimension of new spaces using the built-in "hash" embedder (existing spaces keep theirs)',
  },
  'embedder.openai.enabled': {
    type: 'boolean',
    default: false,
    env: 'ENGRAM_OPENAI_ENABLED',
    doc: 'offer the "openai" embedder (any OpenAI-compatible /embeddings endpoint)',
  },
  'embedder.openai.base_url': {
    type: 'string',
    default: 'https://api.openai.com/v1',
    env: 'ENGRAM_OPENAI_BASE_URL',
    doc: 'base URL up to the API version, e.g. http://127.0.0.1:11434/v1 for Ollama',
  },
  'embedder.openai.model': {
    type: 'string',
    default: 'text-embedding-3-small',
    env: 'ENGRAM_OPENAI_MODEL',
    doc: 'model name sent with each request',
  },
  'embedder.openai.dimension': {
    type: 'integer',
    default: 1536,
    min: 1,
    max: 65_536,
    env: 'ENGRAM_OPENAI_DIMENSION',
    doc: 'dimension the model answers (checked on every answer)',
  },
  'embedder.openai.api_key_env': {
    type: 'string',
    default: 'OPENAI_API_KEY',
    env: 'ENGRAM_OPENAI_API_KEY_ENV',
    doc: 'name of the environment variable holding the API key (the key itself never goes in the file)',
  },
  'embedder.openai.batch_size': {
    type: 'integer',
    default: 64,
    min: 1,
    max: 10_000,
    env: 'ENGRAM_OPENAI_BATCH_SIZE',
    doc: 'texts per request',
  },
  'embedder.openai.timeout_ms': {
    type: 'integer',
    default: 30_000,
    min: 1,
    max: 600_000,
    env: 'ENGRAM_OPENAI_TIMEOUT_MS',
    doc: 'time limit of one request',
  },
  'embedder.openai.retries': {
    type: 'integer',
    default: 3,
    min: 0,
    max: 20,
    env: 'ENGRAM_OPENAI_RETRIES',
    doc: 'retries of a request that timed out or answered 429/5xx',
  },
  'embedder.onnx.enabled': {
    type: 'boolean',
    default: false,
    env: 'ENGRAM_ONNX_ENABLED',
    doc: 'offer the "onnx" embedder (a local model; loaded at start, a broken one fails the start)',
  },
  'embedder.onnx.model_dir': {
    type: 'path',
    default: '~/.cache/engram/onnx',
    env: 'ENGRAM_ONNX_MODEL_DIR',
    doc: 'directory holding model.onnx and tokenizer.json (e.g. an exported all-MiniLM-L6-v2)',
  },
  'embedder.onnx.max_tokens': onnxInteger(
    'maxTokens',
    'ENGRAM_ONNX_MAX_TOKENS',
    'tokens per text, special tokens included; longer texts are cut',
  ),
  'embedder.onnx.batch_size': onnxInteger(
    'batchSize',
    'ENGRAM_ONNX_BATCH_SIZE',
    'texts per inference run',
  ),

  'security.auth_mode': {
    type: 'string',
    default: 'none',
    choices: ['none', 'api_key'],
    env: 'ENGRAM_AUTH_MODE',
    doc: '"api_key": every call but /health needs Authorization: Bearer <key> (engram keys create); "none": no authentication, loopback only unless --insecure',
  },
  'security.cors_origins': {
    type: 'list',
    default: [],
    env: 'ENGRAM_CORS_ORIGINS',
    doc: 'browser origins allowed to call the HTTP API, e.g. https://app.example ("*": any; empty: CORS off)',
  },
  'security.rate_limit_max': {
    type: 'integer',
    default: 0,
    min: 0,
    max: 10_000_000,
    env: 'ENGRAM_RATE_LIMIT_MAX',
    doc: 'requests per key and space per window, on each front end (0: no limit); over it: 429 / RESOURCE_EXHAUSTED',
  },
  'security.rate_limit_window_ms': {
    type: 'integer',
    default: 60_000,
    min: 100,
    max: 86_400_000,
    env: 'ENGRAM_RATE_LIMIT_WINDOW_MS',
    doc: 'the rate limit window',
  },
} satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_SCHEMA;

type SpecValue<S> = S extends { type: 'list' }
  ? readonly string[]
  : S extends { type: 'integer' }
    ? number
    : S extends { type: 'boolean' }
      ? boolean
      : string;

/** The effective configuration: one value per key, by its TOML path. */
export type ConfigValues = { readonly [K in ConfigKey]: SpecValue<(typeof CONFIG_SCHEMA)[K]> };

export type ConfigValue = ConfigValues[ConfigKey];

export const CONFIG_KEYS = Object.keys(CONFIG_SCHEMA) as ConfigKey[];

export function specOf(key: ConfigKey): KeySpec {
  return CONFIG_SCHEMA[key];
}

/** A value as it may be printed: the password of a credential URL is masked. */
export function displayValue(key: ConfigKey, value: unknown): unknown {
  if (!specOf(key).credentialUrl || typeof value !== 'string' || value === '') return value;
  if (!URL.canParse(value)) return '(not a URL: hidden)';
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

/**
 * Keys (or whole sections) that are refused with an explanation instead of a plain "unknown key":
 * a section with no settings yet, features not built, and secrets that never go in the file.
 */
export const REFUSED_KEYS: Readonly<Record<string, string>> = Object.freeze({
  'security.api_keys':
    'API keys never go in the file: create them with `engram keys create` (stored hashed in <data_root>/.keys)',
  'embedder.openai.api_key':
    'the key never goes in the file: set embedder.openai.api_key_env to the name of the environment variable holding it',
});

/** Old or commonly guessed names, with the key meant. Near misses are found by edit distance too. */
export const KEY_ALIASES: Readonly<Record<string, ConfigKey>> = Object.freeze({
  'persistence.data_dir': 'persistence.data_root',
  'persistence.datadir': 'persistence.data_root',
  'server.data_root': 'persistence.data_root',
  'server.http_port': 'server.port',
  'server.bind': 'server.host',
  'server.address': 'server.host',
  'server.durability': 'persistence.durability',
  'memory_spaces.default': 'memory_spaces.default_space',
  'memory_spaces.eager_spaces': 'memory_spaces.bootstrap_spaces',
  'embedder.name': 'embedder.default',
});
