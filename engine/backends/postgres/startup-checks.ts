/**
 * What open() checks before serving: the schema is at this build's version, how vectors are
 * stored, and that row-level security holds for the role the transactions run as: not a
 * superuser, no BYPASSRLS, not the tables' owner (who could switch RLS off), and a query without
 * a space sees no row at all.
 */
import type pg from 'pg';
import { EngramError } from '../../errors.ts';
import type { PostgresEngineOptions } from './postgres-options.ts';
import { VectorSql } from './vector-sql.ts';

function refuse(message: string): EngramError {
  return new EngramError('ENG_OPTIONS_INVALID', message);
}

async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (error) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw error;
  } finally {
    client.release(broken);
  }
}

export async function detectVectors(
  pool: pg.Pool,
  schemaName: string,
  expectedVersion: number,
): Promise<VectorSql> {
  const schema = `"${schemaName}"`;
  return withClient(pool, async (client) => {
    let version: number;
    try {
      const { rows } = await client.query(
        `SELECT coalesce(max(version), 0) AS version FROM ${schema}.schema_migrations`,
      );
      version = (rows[0] as { version: number }).version;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '42P01' || code === '3F000')
        throw refuse(
          `Schema "${schemaName}" has not been migrated: run "engram migrate" (or open with migrate: true)`,
        );
      throw error;
    }
    if (version < expectedVersion)
      throw refuse(
        `Schema "${schemaName}" is at version ${version}, this build needs ${expectedVersion}: run "engram migrate"`,
      );
    if (version > expectedVersion)
      throw refuse(
        `Schema "${schemaName}" is at version ${version}, newer than this build knows (${expectedVersion}); upgrade Engram`,
      );
    const { rows } = await client.query(
      `SELECT t.typname AS type, tn.nspname AS type_schema,
         (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_namespace tn ON tn.oid = t.typnamespace
       WHERE a.attrelid = $1::regclass AND a.attname = 'embedding'`,
      [`${schema}.memories`],
    );
    const column = rows[0] as { type: string; type_schema: string; pgvector: string | null };
    if (column.type === '_float4') return new VectorSql('float4-array', schema, false);
    const [major = 0, minor = 0] = (column.pgvector ?? '0').split('.').map(Number);
    return new VectorSql('pgvector', `"${column.type_schema}"`, major > 0 || minor >= 8);
  });
}

/** Returns the role transactions run as, after checking row-level security holds for it. */
export async function checkRole(
  pool: pg.Pool,
  options: Pick<PostgresEngineOptions, 'schema' | 'role'>,
): Promise<string> {
  const schema = `"${options.schema}"`;
  return withClient(pool, async (client) => {
    // Deliberately no set_config: this transaction has no space.
    await client.query(
      `BEGIN READ ONLY${options.role ? `; SET LOCAL ROLE "${options.role}"` : ''}`,
    );
    const { rows } = await client.query(
      `SELECT current_user AS name, r.rolsuper AS super, r.rolbypassrls AS bypass,
         pg_has_role(current_user, c.relowner, 'USAGE') AS owner
       FROM pg_roles r, pg_class c
       WHERE r.rolname = current_user AND c.oid = $1::regclass`,
      [`${schema}.memories`],
    );
    const role = rows[0] as { name: string; super: boolean; bypass: boolean; owner: boolean };
    const how = options.role
      ? `Option "role" is "${options.role}"`
      : `The engine connects as "${role.name}"`;
    if (role.super || role.bypass)
      throw refuse(
        `${how}, a role that bypasses row-level security (${role.super ? 'SUPERUSER' : 'BYPASSRLS'}); connect as, or set "role" to, the application role (engram migrate creates "engram_app")`,
      );
    if (role.owner)
      throw refuse(
        `${how}, which owns schema "${options.schema}"'s tables and could turn row-level security off; use the application role`,
      );
    const seen = await client.query(
      `SELECT (SELECT count(*) FROM ${schema}.spaces) + (SELECT count(*) FROM ${schema}.memories)
         + (SELECT count(*) FROM ${schema}.associations) + (SELECT count(*) FROM ${schema}.access)
         + (SELECT count(*) FROM ${schema}.events) AS rows`,
    );
    const visible = Number((seen.rows[0] as { rows: string }).rows);
    if (visible !== 0)
      throw refuse(
        `Row-level security is not in force for "${role.name}": a query without a space sees ${visible} rows`,
      );
    await client.query('ROLLBACK');
    return role.name;
  });
}
