/** The effective configuration -> the options of the engine and the server. */
import {
  SHARED_LIMIT_OPTIONS,
  type EngineOptions,
  type PostgresEngineOptions,
} from '../../engine/index.ts';
import type { HttpSettings } from '../../server/http/context.ts';
import { CONFIG_KEYS, specOf, type ConfigValues } from './config-schema.ts';

/** Every key with an `engine` option in the schema, under that option's name. */
export function toEngineOptions(v: ConfigValues): Partial<EngineOptions> {
  const options: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const option = specOf(key).engine;
    if (option !== undefined) options[option] = v[key];
  }
  // Bootstrap spaces are created and opened by `engram start` itself (with a progress bar), so
  // the engine is not asked to open any eagerly.
  return { ...(options as Partial<EngineOptions>), eagerSpaces: [] };
}

/** The PostgreSQL engine's options, or undefined when the configured backend is the embedded one. */
export function toPostgresOptions(v: ConfigValues): Partial<PostgresEngineOptions> | undefined {
  if (v['persistence.backend'] !== 'postgres') return undefined;
  // validateConfig has checked the URL when the configuration was loaded.
  const url = v['persistence.postgres_url'];
  const engine = toEngineOptions(v);
  const options: Partial<PostgresEngineOptions> = {
    url,
    schema: v['persistence.postgres_schema'],
    role: v['persistence.postgres_role'] === '' ? null : v['persistence.postgres_role'],
    poolMax: v['persistence.postgres_pool_max'],
    migrate: v['persistence.postgres_migrate'],
  };
  // The limits both backends share keep their names (postgres-options.ts).
  for (const key of SHARED_LIMIT_OPTIONS) {
    if (engine[key] !== undefined) (options as Record<string, unknown>)[key] = engine[key];
  }
  return options;
}

export function toHttpSettings(v: ConfigValues): Partial<HttpSettings> {
  const embedder = v['embedder.default'];
  return {
    defaultSpace: v['memory_spaces.default_space'],
    autoCreateSpaces: v['memory_spaces.auto_create'],
    defaultEmbedder: embedder === 'none' ? null : embedder,
    bodyLimitBytes: v['server.body_limit_bytes'],
    maxConnections: v['server.max_connections'],
    maxBatchItems: v['server.max_batch_items'],
    maxStreamSubscribers: v['server.max_stream_subscribers'],
    maxStreamBufferedEvents: v['server.max_stream_buffered_events'],
    streamHeartbeatMs: v['server.stream_heartbeat_ms'],
    metricsSpaceLabelsMax: v['server.metrics_space_labels_max'],
    // Backups made by the server go under <data_root>/.backups, whichever the backend.
    backupRoot: v['persistence.data_root'],
  };
}

/** The [security] keys -> startServer's security options (the key store defaults to the data root's). */
export function toSecurityOptions(v: ConfigValues): {
  authMode: 'none' | 'api_key';
  corsOrigins: readonly string[];
  rateLimitMax: number;
  rateLimitWindowMs: number;
} {
  return {
    authMode: v['security.auth_mode'] === 'api_key' ? 'api_key' : 'none',
    corsOrigins: v['security.cors_origins'],
    rateLimitMax: v['security.rate_limit_max'],
    rateLimitWindowMs: v['security.rate_limit_window_ms'],
  };
}
