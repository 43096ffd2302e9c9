/**
 * Options of the PostgreSQL backend: one DEFAULTS object, one validate() that rejects unknown
 * keys (with a hint for the embedded backend's names) and returns a frozen value.
 */
import type pg from 'pg';
import { EngramError } from '../../errors.ts';
import { ENGINE_DEFAULTS, type EngineOptions } from '../../options.ts';
import type { NotificationConnection } from './notification-connection.ts';

/** The limits the PostgreSQL backend shares, by name and default, with the embedded one. */
export const SHARED_LIMIT_OPTIONS = [
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
] as const satisfies ReadonlyArray<keyof EngineOptions>;

type SharedLimits = Pick<EngineOptions, (typeof SHARED_LIMIT_OPTIONS)[number]>;

export interface PostgresEngineOptions extends SharedLimits {
  /** postgres:// URL. The engine builds (and at close ends) a pool and a LISTEN connection on it. */
  url: string | undefined;
  /**
   * A pool the caller owns (the engine never ends it), instead of `url`. PGlite in process goes
   * here: one pool over its one session, shared by every engine on it.
   */
  pool: pg.Pool | undefined;
  /** Builds the connection that LISTENs for events; default: a pg.Client on `url`. */
  notifications: (() => NotificationConnection) | undefined;
  /** Schema holding the tables (one engine, one schema). */
  schema: string;
  /**
   * Role taken with SET LOCAL ROLE in every transaction, for a login role that owns the schema
   * or is a superuser (PGlite, tests). null: the connecting role is the application role.
   */
  role: string | null;
  /** Connections in the pool built from `url`. */
  poolMax: number;
  /** Run pending migrations at open, as the connecting role (which must own the schema). */
  migrate: boolean;
  /** SET LOCAL statement_timeout of every transaction; 0: none. */
  statementTimeoutMs: number;
  /** SET LOCAL lock_timeout of the transactions that change a space's tables (create, delete, index). */
  ddlLockTimeoutMs: number;
  /** Events older than this are removed; a resume from before them fails with ENG_EVENTS_EXPIRED. */
  eventRetentionMs: number;
  /** Spaces with subscribers are also polled this often, in case a notification was lost. */
  eventPollMs: number;
  /** Spaces with at most this many memories are searched exactly (no HNSW index scan). */
  exactScanMaxMemories: number;
  /** Write transactions retried after a deadlock or serialization failure. */
  maxTransactionRetries: number;
}

export const POSTGRES_DEFAULTS: Readonly<
  Omit<PostgresEngineOptions, 'url' | 'pool' | 'notifications'>
> = Object.freeze({
  maxSpaces: ENGINE_DEFAULTS.maxSpaces,
  maxContentBytes: ENGINE_DEFAULTS.maxContentBytes,
  maxMetadataBytes: ENGINE_DEFAULTS.maxMetadataBytes,
  maxMemoryIdChars: ENGINE_DEFAULTS.maxMemoryIdChars,
  maxDimensions: ENGINE_DEFAULTS.maxDimensions,
  maxK: ENGINE_DEFAULTS.maxK,
  maxListLimit: ENGINE_DEFAULTS.maxListLimit,
  accessFlushMs: ENGINE_DEFAULTS.accessFlushMs,
  activationHalfLifeMs: ENGINE_DEFAULTS.activationHalfLifeMs,
  hnswM: ENGINE_DEFAULTS.hnswM,
  hnswEfConstruction: ENGINE_DEFAULTS.hnswEfConstruction,
  hnswEfSearch: ENGINE_DEFAULTS.hnswEfSearch,
  schema: 'engram',
  role: null,
  poolMax: 10,
  migrate: false,
  statementTimeoutMs: 30_000,
  ddlLockTimeoutMs: 10_000,
  eventRetentionMs: 24 * 3600 * 1000,
  eventPollMs: 5000,
  exactScanMaxMemories: 1000,
  maxTransactionRetries: 3,
});

const INTEGER_RANGES: Record<string, readonly [number, number]> = {
  maxSpaces: [1, 1_000_000],
  maxContentBytes: [1, 16 * 1024 * 1024],
  maxMetadataBytes: [2, 16 * 1024 * 1024],
  maxMemoryIdChars: [1, 4096],
  maxDimensions: [1, 16_000], // pgvector's vector type holds at most 16,000 dimensions
  maxK: [1, 100_000],
  maxListLimit: [1, 100_000],
  accessFlushMs: [10, 3_600_000],
  activationHalfLifeMs: [1000, 100 * 365 * 24 * 3600 * 1000],
  hnswM: [2, 100], // pgvector's range
  hnswEfConstruction: [4, 1000],
  hnswEfSearch: [1, 1000],
  poolMax: [1, 1000],
  statementTimeoutMs: [0, 24 * 3600 * 1000],
  ddlLockTimeoutMs: [0, 3_600_000],
  eventRetentionMs: [1000, 365 * 24 * 3600 * 1000],
  eventPollMs: [10, 3_600_000],
  exactScanMaxMemories: [0, 100_000_000],
  maxTransactionRetries: [0, 100],
};

const RENAMED: Record<string, string> = {
  dataRoot: 'url (the PostgreSQL backend keeps no data directory)',
  postgres_url: 'url',
  postgresUrl: 'url',
  connectionString: 'url',
};

/** Schema and role names are interpolated into SQL as identifiers: keep them plain. */
export const SQL_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

function invalid(message: string): EngramError {
  return new EngramError('ENG_OPTIONS_INVALID', message);
}

export function validatePostgresOptions(
  input: Partial<PostgresEngineOptions>,
): Readonly<PostgresEngineOptions> {
  for (const key of Object.keys(input)) {
    if (key === 'url' || key === 'pool' || key === 'notifications' || key in POSTGRES_DEFAULTS)
      continue;
    const hint = RENAMED[key];
    throw invalid(
      `Unknown PostgreSQL engine option "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
    );
  }
  const merged: PostgresEngineOptions = {
    url: undefined,
    pool: undefined,
    notifications: undefined,
    ...POSTGRES_DEFAULTS,
    ...input,
  };
  if ((merged.url === undefined) === (merged.pool === undefined))
    throw invalid('Give the PostgreSQL engine exactly one of "url" and "pool"');
  if (merged.url !== undefined && (typeof merged.url !== 'string' || merged.url.trim() === ''))
    throw invalid('Option "url" must be a postgres:// connection string');
  for (const [key, [min, max]] of Object.entries(INTEGER_RANGES)) {
    const value = (merged as unknown as Record<string, unknown>)[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(
        `Option "${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (typeof merged.schema !== 'string' || !SQL_NAME.test(merged.schema))
    throw invalid(
      `Option "schema" must match ${String(SQL_NAME)}, got ${JSON.stringify(merged.schema)}`,
    );
  if (merged.role !== null && (typeof merged.role !== 'string' || !SQL_NAME.test(merged.role)))
    throw invalid(
      `Option "role" must be null or match ${String(SQL_NAME)}, got ${JSON.stringify(merged.role)}`,
    );
  if (typeof merged.migrate !== 'boolean') throw invalid('Option "migrate" must be true or false');
  if (merged.notifications !== undefined && typeof merged.notifications !== 'function')
    throw invalid('Option "notifications" must be a function building a NotificationConnection');
  return Object.freeze(merged);
}
