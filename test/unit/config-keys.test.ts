/**
 * Every documented key is read: a file sets each key to a value other than its default, and
 * the effective configuration, the engine options, the HTTP settings and the embedders built
 * from it all carry that value. The same through every key's environment variable.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ENGINE_DEFAULTS } from '../../engine/index.ts';
import { HTTP_DEFAULTS } from '../../server/http/context.ts';
import { SERVER_DEFAULTS as SERVER_MAIN_DEFAULTS } from '../../server/main.ts';
import {
  CONFIG_KEYS,
  CONFIG_SCHEMA,
  SERVER_DEFAULTS,
  specOf,
  type ConfigKey,
} from '../../cli/config/config-schema.ts';
import { loadConfig } from '../../cli/config/load-config.ts';
import {
  toEngineOptions,
  toHttpSettings,
  toPostgresOptions,
  toSecurityOptions,
} from '../../cli/config/server-options.ts';
import { embedderSetup } from '../../cli/config/embedders.ts';

const dir = await mkdtemp(join(tmpdir(), 'engram-config-keys-'));
after(() => rm(dir, { recursive: true, force: true }));

/** A non-default value for every key: the TOML text and the effective value expected. */
const EVERY_KEY: Record<ConfigKey, [toml: string, effective: unknown]> = {
  'server.host': ['"0.0.0.0"', '0.0.0.0'],
  'server.grpc_host': ['"127.0.0.2"', '127.0.0.2'],
  'server.port': ['8001', 8001],
  'server.grpc_port': ['50052', 50052],
  'server.log_level': ['"debug"', 'debug'],
  'server.body_limit_bytes': ['2048', 2048],
  'server.max_connections': ['23', 23],
  'server.max_batch_items': ['17', 17],
  'server.max_stream_subscribers': ['18', 18],
  'server.max_stream_buffered_events': ['19', 19],
  'server.stream_heartbeat_ms': ['2000', 2000],
  'server.metrics_space_labels_max': ['21', 21],
  'persistence.backend': ['"postgres"', 'postgres'],
  'persistence.postgres_url': [
    '"postgres://engram@db.internal/engram"',
    'postgres://engram@db.internal/engram',
  ],
  'persistence.postgres_schema': ['"tenant_memories"', 'tenant_memories'],
  'persistence.postgres_role': ['"engram_app"', 'engram_app'],
  'persistence.postgres_pool_max': ['42', 42],
  'persistence.postgres_migrate': ['true', true],
  'persistence.data_root': ['"~/engram-data"', join('/home/tester', 'engram-data')],
  'persistence.durability': ['"interval"', 'interval'],
  'persistence.wal_sync_method': ['"fdatasync"', 'fdatasync'],
  'persistence.sync_interval_ms': ['22', 22],
  'persistence.wal_segment_bytes_max': ['8192', 8192],
  'persistence.wal_record_bytes_max': ['4096', 4096],
  'persistence.group_commit_records_max': ['23', 23],
  'persistence.max_pending_writes': ['24', 24],
  'persistence.max_unapplied_records': ['25', 25],
  'persistence.apply_batch_records': ['26', 26],
  'persistence.index_snapshot_every_records': ['27', 27],
  'persistence.hot_capacity': ['41', 41],
  'persistence.warm_capacity': ['42', 42],
  'persistence.cold_capacity': ['43', 43],
  'persistence.access_flush_ms': ['40', 40],
  'recall.activation_half_life_ms': ['86400000', 86_400_000],
  'consolidation.interval_ms': ['60000', 60_000],
  'limits.max_content_bytes': ['28', 28],
  'limits.max_metadata_bytes': ['29', 29],
  'limits.max_memory_id_chars': ['30', 30],
  'limits.max_dimensions': ['31', 31],
  'limits.max_k': ['32', 32],
  'limits.max_list_limit': ['33', 33],
  'index.hnsw_m': ['8', 8],
  'index.hnsw_ef_construction': ['34', 34],
  'index.hnsw_ef_search': ['35', 35],
  'index.threads': ['2', 2],
  'memory_spaces.default_space': ['"agents"', 'agents'],
  'memory_spaces.auto_create': ['false', false],
  'memory_spaces.max_spaces': ['36', 36],
  'memory_spaces.max_open_spaces': ['37', 37],
  'memory_spaces.bootstrap_spaces': ['["agents", "notes"]', ['agents', 'notes']],
  'embedder.default': ['"openai"', 'openai'],
  'embedder.hash.dimension': ['64', 64],
  'embedder.openai.enabled': ['true', true],
  'embedder.openai.base_url': ['"http://127.0.0.1:11434/v1"', 'http://127.0.0.1:11434/v1'],
  'embedder.openai.model': ['"nomic-embed-text"', 'nomic-embed-text'],
  'embedder.openai.dimension': ['768', 768],
  'embedder.openai.api_key_env': ['"MY_EMBEDDING_KEY"', 'MY_EMBEDDING_KEY'],
  'embedder.openai.batch_size': ['38', 38],
  'embedder.openai.timeout_ms': ['39', 39],
  'embedder.openai.retries': ['4', 4],
  'embedder.onnx.enabled': ['true', true],
  'embedder.onnx.model_dir': ['"~/models/minilm"', join('/home/tester', 'models', 'minilm')],
  'embedder.onnx.max_tokens': ['128', 128],
  'embedder.onnx.batch_size': ['16', 16],
  'security.auth_mode': ['"api_key"', 'api_key'],
  'security.cors_origins': ['["https://app.example"]', ['https://app.example']],
  'security.rate_limit_max': ['44', 44],
  'security.rate_limit_window_ms': ['45000', 45_000],
};

/** The TOML document: each key in its table ("embedder.openai.model" -> [embedder.openai] model). */
function tomlFor(entries: Record<string, [string, unknown]>): string {
  const tables = new Map<string, string[]>();
  for (const [key, [toml]] of Object.entries(entries)) {
    const dot = key.lastIndexOf('.');
    const table = key.slice(0, dot);
    tables.set(table, [...(tables.get(table) ?? []), `${key.slice(dot + 1)} = ${toml}`]);
  }
  return [...tables].map(([table, lines]) => `[${table}]\n${lines.join('\n')}\n`).join('\n');
}

test('the every-key file covers every key of the schema, each with a non-default value', () => {
  assert.deepEqual(Object.keys(EVERY_KEY).sort(), [...CONFIG_KEYS].sort());
  for (const key of CONFIG_KEYS) {
    assert.notDeepEqual(EVERY_KEY[key][1], CONFIG_SCHEMA[key].default, key);
  }
});

test('a file setting every key yields each value, from the file', async () => {
  const path = join(dir, 'every-key.toml');
  await writeFile(path, tomlFor(EVERY_KEY));
  const config = loadConfig({ configPath: path, env: {}, home: '/home/tester' });
  for (const key of CONFIG_KEYS) {
    assert.deepEqual(config.values[key], EVERY_KEY[key][1], key);
    assert.equal(config.origins[key].source, 'file', key);
  }
  assert.deepEqual(config.file, { path, origin: 'flag', loaded: true });
});

test('each value reaches the engine options, the HTTP settings and the embedders', async () => {
  const path = join(dir, 'every-key-mapped.toml');
  await writeFile(path, tomlFor(EVERY_KEY));
  const v = loadConfig({ configPath: path, env: {}, home: '/home/tester' }).values;
  const engine = toEngineOptions(v);
  const engineKeys = CONFIG_KEYS.filter((key) => specOf(key).engine !== undefined);
  for (const key of engineKeys) {
    assert.deepEqual(engine[specOf(key).engine!], EVERY_KEY[key][1], key);
  }
  assert.deepEqual(toHttpSettings(v), {
    defaultSpace: 'agents',
    autoCreateSpaces: false,
    defaultEmbedder: 'openai',
    bodyLimitBytes: 2048,
    maxConnections: 23,
    maxBatchItems: 17,
    maxStreamSubscribers: 18,
    maxStreamBufferedEvents: 19,
    streamHeartbeatMs: 2000,
    metricsSpaceLabelsMax: 21,
    backupRoot: join('/home/tester', 'engram-data'),
  });
  const { factories, onnx } = embedderSetup(v, { MY_EMBEDDING_KEY: 'k' });
  assert.equal(factories.hash!(undefined).dimension, 64);
  const openai = factories.openai!(undefined);
  assert.deepEqual([openai.name, openai.dimension], ['openai:nomic-embed-text', 768]);
  // The model itself loads at start (test/unit/config-embedders.test.ts loads a real one).
  assert.deepEqual(onnx, {
    modelDir: join('/home/tester', 'models', 'minilm'),
    maxTokens: 128,
    batchSize: 16,
  });
  assert.deepEqual(toPostgresOptions(v), {
    url: 'postgres://engram@db.internal/engram',
    schema: 'tenant_memories',
    role: 'engram_app',
    poolMax: 42,
    migrate: true,
    ...Object.fromEntries(
      (
        [
          'maxSpaces',
          'maxContentBytes',
          'maxMetadataBytes',
          'maxMemoryIdChars',
          'maxDimensions',
          'maxK',
          'maxListLimit',
          'accessFlushMs',
          'activationHalfLifeMs',
          'hnswM',
          'hnswEfConstruction',
          'hnswEfSearch',
        ] as const
      ).map((option) => [option, engine[option]]),
    ),
  });
  assert.deepEqual(toSecurityOptions(v), {
    authMode: 'api_key',
    corsOrigins: ['https://app.example'],
    rateLimitMax: 44,
    rateLimitWindowMs: 45_000,
  });
  // The rest (host, ports, log level, bootstrap spaces) is read by `engram start`
  // itself; test/integration/cli-start-stop.test.ts starts a server from a file.
});

test('every key can be set through its own ENGRAM_* variable', () => {
  const env: NodeJS.ProcessEnv = {};
  for (const key of CONFIG_KEYS) {
    const [toml, effective] = EVERY_KEY[key];
    const text = Array.isArray(effective) ? effective.join(',') : toml.replace(/^"|"$/g, '');
    env[CONFIG_SCHEMA[key].env] = text;
  }
  const config = loadConfig({ env, home: '/home/tester', cwd: '/work' });
  for (const key of CONFIG_KEYS) {
    const expected =
      key === 'persistence.data_root' ? '/home/tester/engram-data' : EVERY_KEY[key][1];
    assert.deepEqual(config.values[key], expected, key);
    assert.equal(config.origins[key].source, 'env', key);
  }
});

test('every variable name is distinct and starts with ENGRAM_', () => {
  const names = CONFIG_KEYS.map((key) => CONFIG_SCHEMA[key].env);
  assert.equal(new Set(names).size, names.length);
  for (const name of names) assert.match(name, /^ENGRAM_[A-Z0-9_]+$/);
});

test("defaults are the engine's, the HTTP server's and the server's own defaults", () => {
  assert.deepEqual(SERVER_DEFAULTS, SERVER_MAIN_DEFAULTS);
  const config = loadConfig({ env: {}, home: '/home/tester', configPath: undefined });
  assert.equal(config.file.loaded, false);
  const engine = toEngineOptions(config.values);
  for (const [option, value] of Object.entries(ENGINE_DEFAULTS)) {
    if (option === 'eagerSpaces') continue; // bootstrap_spaces, opened by `engram start`
    assert.deepEqual(engine[option as keyof typeof engine], value, option);
  }
  // The one HTTP setting the CLI always fills: backups go under the configured data root.
  assert.deepEqual(toHttpSettings(config.values), {
    ...HTTP_DEFAULTS,
    backupRoot: config.values['persistence.data_root'],
  });
  assert.equal(config.values['persistence.data_root'], '/home/tester/.local/share/engram');
});

test('every engine option has a configuration key', () => {
  const mapped = new Set(CONFIG_KEYS.map((key) => specOf(key).engine));
  for (const option of [...Object.keys(ENGINE_DEFAULTS), 'dataRoot']) {
    if (option === 'eagerSpaces') continue;
    assert.ok(mapped.has(option as never), `engine option "${option}" has no configuration key`);
  }
});
