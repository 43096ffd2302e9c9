/**
 * PostgreSQL + pgvector in process (PGlite), behind a real pg.Pool through PGlite's
 * node-postgres adapter, so the backend runs its own pg code path. PGlite is ONE session: the
 * pool has one connection, every engine on it shares that pool (two pools would interleave
 * their transactions on the one session), and the engines take their role and space with
 * SET LOCAL inside each transaction. Never serve it over a socket to several clients.
 */
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { vector } from '@electric-sql/pglite-pgvector';
import { after } from 'node:test';
import pg from 'pg';
import {
  openPostgresEngine,
  type NotificationConnection,
  type PostgresEngine,
  type PostgresEngineOptions,
} from '../../engine/backends/index.ts';

export interface PgliteHarness {
  db: PGlite;
  pool: pg.Pool;
  /** NOTIFY reaches PGlite.listen() callbacks whichever connection object sent it. */
  notifications: () => NotificationConnection;
  /** A new schema name, unique in this harness. */
  schema(prefix?: string): string;
  /** Opens an engine on `schema` (migrating it first) as the application role. */
  open(schema: string, options?: Partial<PostgresEngineOptions>): Promise<PostgresEngine>;
}

export const PGLITE_APP_ROLE = 'engram_app';

/** One PGlite per test file (the first start compiles the WebAssembly: ~10 s), closed after it. */
export async function startPglite(): Promise<PgliteHarness> {
  const db = await PGlite.create({ extensions: { vector } });
  const pool = new pg.Pool(createPgConfig(db));
  after(async () => {
    await pool.end();
    await db.close();
  });
  let schemas = 0;
  const notifications = (): NotificationConnection => {
    let stop: (() => Promise<void>) | undefined;
    return {
      async listen(channel, onNotify) {
        stop = await db.listen(channel, onNotify);
      },
      async close() {
        await stop?.();
      },
    };
  };
  return {
    db,
    pool,
    notifications,
    schema: (prefix = 'test') => `${prefix}_${++schemas}`,
    open: (schema, options = {}) =>
      openPostgresEngine({
        pool,
        notifications,
        schema,
        role: PGLITE_APP_ROLE,
        migrate: true,
        ...options,
      }),
  };
}
