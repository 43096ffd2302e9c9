/**
 * The HTTP space matrix on the PostgreSQL backend: PGlite + pgvector in process, behind the same
 * pg code path a real server uses (test/helpers/postgres-pglite.ts). Each test gets its own schema.
 */
import type { HttpSettings } from '../../server/http/context.ts';
import { apiOver, type TestApi } from '../helpers/http.ts';
import { spaceMatrixTests } from '../helpers/http-space-matrix.ts';
import { startPglite } from '../helpers/postgres-pglite.ts';

const pglite = await startPglite();

async function pgliteApi(settings: Partial<HttpSettings> = {}): Promise<TestApi> {
  const engine = await pglite.open(pglite.schema('http'));
  // The matrix only uses the engine-neutral part of TestApi; `registry` is the LMDB backend's.
  return { ...apiOver(engine, settings), registry: undefined as never };
}

spaceMatrixTests('postgres', pgliteApi);
