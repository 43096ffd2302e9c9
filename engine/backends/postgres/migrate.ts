/**
 * Applies the missing schema migrations, in version order, each in its own transaction with its
 * row in schema_migrations, and logs one line per step. Several servers starting at once are
 * serialised by a session advisory lock, so each step runs once. Run it as the role that owns
 * the schema (it creates tables, the application role's grants and SECURITY DEFINER functions);
 * `engram migrate` calls this.
 */
import pg from 'pg';
import { EngramError } from '../../errors.ts';
import { SILENT_LOGGER, type Logger } from '../../logger.ts';
import { databaseError } from './postgres-errors.ts';
import { SQL_NAME } from './postgres-options.ts';
import {
  MIGRATIONS,
  SCHEMA_VERSION,
  type MigrationContext,
  type VectorStorage,
} from './schema-migrations.ts';

export interface PostgresMigrateOptions {
  url?: string;
  /** A pool the caller owns (left open). */
  pool?: pg.Pool;
  schema?: string;
  /** The role the servers run as (created NOLOGIN if missing), granted what the engine needs. */
  appRole?: string;
  /** pgvector (default), or float4 arrays searched exactly, for servers without pgvector. */
  vectorStorage?: VectorStorage;
}

export interface MigrationReport {
  schema: string;
  from: number;
  to: number;
  applied: Array<{ version: number; name: string; ms: number }>;
}

export const DEFAULT_APP_ROLE = 'engram_app';

interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

function checkName(what: string, value: string): string {
  if (!SQL_NAME.test(value))
    throw new EngramError(
      'ENG_OPTIONS_INVALID',
      `${what} must match ${String(SQL_NAME)}, got ${JSON.stringify(value)}`,
    );
  return value;
}

export async function migratePostgres(
  options: PostgresMigrateOptions,
  deps: { logger?: Logger } = {},
): Promise<MigrationReport> {
  const logger = (deps.logger ?? SILENT_LOGGER).child({ component: 'postgres-migrate' });
  const schemaName = checkName('schema', options.schema ?? 'engram');
  const appRoleName = checkName('appRole', options.appRole ?? DEFAULT_APP_ROLE);
  const vectorStorage = options.vectorStorage ?? 'pgvector';
  if (vectorStorage !== 'pgvector' && vectorStorage !== 'float4-array')
    throw new EngramError(
      'ENG_OPTIONS_INVALID',
      `vectorStorage must be "pgvector" or "float4-array", got ${JSON.stringify(vectorStorage)}`,
    );
  if ((options.url === undefined) === (options.pool === undefined))
    throw new EngramError(
      'ENG_OPTIONS_INVALID',
      'Give migratePostgres exactly one of url and pool',
    );
  const pool = options.pool ?? new pg.Pool({ connectionString: options.url, max: 1 });
  const context = `Cannot migrate schema "${schemaName}"`;
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    if (!options.pool) await pool.end().catch(() => undefined);
    throw databaseError(context, error);
  }
  let broken: Error | undefined;
  try {
    return await migrateWith(client, { schemaName, appRoleName, vectorStorage }, logger);
  } catch (error) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw databaseError(context, error);
  } finally {
    await client.query(`SELECT pg_advisory_unlock_all()`).catch((e: Error) => (broken = e));
    client.release(broken);
    if (!options.pool) await pool.end().catch(() => undefined);
  }
}

async function migrateWith(
  client: Queryable,
  names: { schemaName: string; appRoleName: string; vectorStorage: VectorStorage },
  logger: Logger,
): Promise<MigrationReport> {
  const { schemaName, appRoleName } = names;
  const schema = `"${schemaName}"`;
  const who = await client.query(`SELECT current_user AS name`);
  if ((who.rows[0] as { name: string }).name === appRoleName)
    throw new EngramError(
      'ENG_OPTIONS_INVALID',
      `Run migrations as the schema owner, not as the application role "${appRoleName}" (it must own nothing, so row-level security holds for it)`,
    );
  await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [`engram-migrate:${schemaName}`]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  // Bookkeeping, not tenant data: no space_id, so no space policy; the application role may only read it.
  await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const done = new Set(
    (await client.query(`SELECT version FROM ${schema}.schema_migrations`)).rows.map(
      (row) => (row as { version: number }).version,
    ),
  );
  const from = done.size === 0 ? 0 : Math.max(...done);
  if (from > SCHEMA_VERSION)
    throw new EngramError(
      'ENG_OPTIONS_INVALID',
      `Schema "${schemaName}" is at version ${from}, newer than this build knows (${SCHEMA_VERSION}); upgrade Engram`,
    );
  const applied: MigrationReport['applied'] = [];
  for (const migration of MIGRATIONS) {
    if (done.has(migration.version)) continue;
    const started = performance.now();
    const ctx: MigrationContext = {
      schema,
      schemaName,
      appRole: `"${appRoleName}"`,
      appRoleName,
      vectorStorage: names.vectorStorage,
      vectorSchema: await vectorSchemaOf(client, names.vectorStorage),
    };
    await client.query('BEGIN');
    for (const statement of migration.statements(ctx)) {
      try {
        await client.query(statement);
      } catch (error) {
        throw explain(error, migration.version, names.vectorStorage);
      }
    }
    await client.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, $2)`, [
      migration.version,
      migration.name,
    ]);
    await client.query('COMMIT');
    const ms = Math.round(performance.now() - started);
    applied.push({ version: migration.version, name: migration.name, ms });
    logger.info(
      { schema: schemaName, version: migration.version, name: migration.name, ms },
      'migration applied',
    );
  }
  logger.info(
    { schema: schemaName, from, to: SCHEMA_VERSION, applied: applied.length },
    applied.length === 0 ? 'schema already up to date' : 'schema migrated',
  );
  return { schema: schemaName, from, to: SCHEMA_VERSION, applied };
}

/** Where the vector type lives: the extension's schema once created, else where it will be. */
async function vectorSchemaOf(client: Queryable, storage: VectorStorage): Promise<string> {
  if (storage !== 'pgvector') return '';
  const { rows } = await client.query(
    `SELECT coalesce(
       (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'),
       current_schema()
     ) AS name`,
  );
  const name = (rows[0] as { name: string }).name;
  return name.startsWith('"') ? name : `"${name}"`;
}

function explain(error: unknown, version: number, storage: VectorStorage): unknown {
  const message = (error as Error).message ?? '';
  if (storage === 'pgvector' && /extension "vector"|type "?vector"? does not exist/.test(message)) {
    return new EngramError(
      'ENG_OPTIONS_INVALID',
      `Migration ${version} needs the pgvector extension, which this PostgreSQL server lacks (${message}); install pgvector, or migrate with vectorStorage "float4-array" (exact search only)`,
      { cause: error },
    );
  }
  return error;
}
