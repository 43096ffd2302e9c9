/**
 * The storage conformance suite against the PostgreSQL backend on PGlite + pgvector, in process,
 * through the same pg code path a server uses: one schema per engine, reopen = a new engine on
 * the same schema (PGlite's data outlives the engine, as a server's database would).
 */
import type { PostgresEngine } from '../../engine/backends/index.ts';
import type { StorageEngine } from '../../engine/index.ts';
import { startPglite } from '../helpers/postgres-pglite.ts';
import { runStorageConformance } from './storage-conformance.ts';

const pglite = await startPglite();
const schemas = new WeakMap<StorageEngine, string>();

async function openOn(schema: string): Promise<PostgresEngine> {
  const engine = await pglite.open(schema);
  schemas.set(engine, schema);
  return engine;
}

runStorageConformance('PostgreSQL on PGlite + pgvector', {
  open: () => openOn(pglite.schema('conformance')),
  reopen: async (previous) => {
    const schema = schemas.get(previous);
    if (schema === undefined) throw new Error('reopen() was given an engine open() did not make');
    return openOn(schema);
  },
});
