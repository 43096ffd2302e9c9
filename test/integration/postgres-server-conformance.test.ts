/**
 * The storage conformance suite on a real PostgreSQL 15 server, over a pool of several
 * connections and a LISTEN connection, connecting as the application role (no SUPERUSER, no
 * BYPASSRLS, owns nothing), as a production server does. Debian's PostgreSQL has no pgvector,
 * so vectors are float4 arrays searched exactly; the HNSW side runs on PGlite
 * (test/conformance/postgres.test.ts).
 */
import { describe } from 'node:test';
import {
  migratePostgres,
  openPostgresEngine,
  type PostgresEngine,
} from '../../engine/backends/index.ts';
import type { StorageEngine } from '../../engine/index.ts';
import { runStorageConformance } from '../conformance/storage-conformance.ts';
import { postgresServer, roleName } from '../helpers/postgres-server.ts';

const { server, skip } = await postgresServer();
const name = 'PostgreSQL 15 server (float4 arrays, no pgvector)';

if (!server) {
  describe(name, { skip }, () => undefined);
} else {
  const appRole = roleName('engram_conformance');
  await server.admin(`CREATE ROLE ${appRole} LOGIN NOBYPASSRLS`);
  const schemas = new WeakMap<StorageEngine, string>();
  let count = 0;
  const openOn = async (schema: string): Promise<PostgresEngine> => {
    const engine = await openPostgresEngine({
      url: server.urlAs(appRole),
      schema,
      poolMax: 4,
      // 4 servers' worth of connections per engine at most; conformance tests open one at a time.
    });
    schemas.set(engine, schema);
    return engine;
  };
  runStorageConformance(name, {
    open: async () => {
      const schema = `conformance_${++count}`;
      await migratePostgres(
        { url: server.adminUrl, schema, appRole, vectorStorage: 'float4-array' },
        {},
      );
      return openOn(schema);
    },
    reopen: async (previous) => {
      const schema = schemas.get(previous);
      if (schema === undefined) throw new Error('reopen() was given an engine open() did not make');
      return openOn(schema);
    },
  });
}
