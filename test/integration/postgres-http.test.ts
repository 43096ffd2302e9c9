/**
 * The HTTP space matrix on the PostgreSQL backend: PGlite + pgvector in process, behind the same
 * pg code path a real server uses (test/helpers/postgres-pglite.ts). Each test gets its own schema.
 */
import type { HttpSettings } from '../../server/http/context.ts';
import { apiOver, type EngineApi } from '../helpers/http.ts';
import { spaceMatrixTests } from '../helpers/http-space-matrix.ts';
import { startPglite } from '../helpers/postgres-pglite.ts';

const pglite = await startPglite();

async function pgliteApi(settings: Partial<HttpSettings> = {}): Promise<EngineApi> {
  return apiOver(await pglite.open(pglite.schema('http')), settings);
}

spaceMatrixTests('postgres', pgliteApi);
