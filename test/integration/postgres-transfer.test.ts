/**
 * Moving memories between backends: an export from the embedded backend imported into a
 * PostgreSQL space (PGlite + pgvector, the same pg code path as a server) and back again keeps
 * every field and vector; importing twice changes nothing; and a backup of a PostgreSQL space,
 * taken while writes go on, restores to exactly the source at its LSN.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import type { SpaceHandle } from '../../engine/index.ts';
import { apiOver, testApi, type EngineApi } from '../helpers/http.ts';
import { startPglite } from '../helpers/postgres-pglite.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const DIM = 8;
const random = seededRandom(23);
const pglite = await startPglite();
const lmdb = await testApi({}, { durability: 'none' });
const postgres = apiOver(await pglite.open(pglite.schema('transfer')), {
  backupRoot: await tempDir(),
});

async function exportText(api: EngineApi, space: string): Promise<string> {
  const response = await api.app.inject({
    method: 'GET',
    url: `/api/v1/export?space=${space}&vectors=true`,
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.body;
}

async function importText(api: EngineApi, space: string, text: string): Promise<any> {
  const response = await api.app.inject({
    method: 'POST',
    url: '/api/v1/import',
    payload: text,
    headers: { 'content-type': 'application/x-ndjson', 'x-memory-space': space },
  });
  assert.equal(response.statusCode, 200, response.body);
  return JSON.parse(response.body);
}

async function seed(space: SpaceHandle, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await space.remember({
      id: `m-${String(i).padStart(3, '0')}`,
      content: `memory number ${i} about CRISPR`,
      vector: randomVector(random, DIM),
      tags: [`t${i % 3}`],
      metadata: { i, nested: { ok: true } },
      confidence: (i % 10) / 10,
      ...(i % 4 === 0 ? { episode: { what: `episode ${i}`, where: 'lab' } } : {}),
    });
  }
  await space.associate('m-001', 'm-002', 0.5);
  await space.associate('m-009', 'm-000', 0.25);
  await space.forget('m-003', { mode: 'suppress' });
}

test('an export moves from LMDB to PostgreSQL and back with every field, vector and link', async (t) => {
  t.after(() => postgres.engine.close());
  await lmdb.engine.createSpace('origin', { dimension: DIM });
  await seed(await lmdb.engine.space('origin'), 20);
  const exported = await exportText(lmdb, 'origin');

  await postgres.engine.createSpace('moved', { dimension: DIM });
  const answer = await importText(postgres, 'moved', exported);
  assert.deepEqual(
    [answer.imported, answer.failed, answer.unresolved_associations],
    [20, 0, 0],
    JSON.stringify(answer),
  );
  assert.equal(await exportText(postgres, 'moved'), exported, 'PostgreSQL exports the same lines');
  const moved = await postgres.engine.space('moved');
  assert.deepEqual(
    await moved.getVector('m-017'),
    await (await lmdb.engine.space('origin')).getVector('m-017'),
  );
  assert.deepEqual(await moved.associations('m-009'), [{ to: 'm-000', weight: 0.25 }]);
  assert.equal((await moved.get('m-003'))?.suppressed, true);

  // Twice: the same state.
  await importText(postgres, 'moved', exported);
  assert.equal(await exportText(postgres, 'moved'), exported);
  assert.equal((await moved.stats()).memories, 20);

  // And back to the embedded backend.
  await lmdb.engine.createSpace('returned', { dimension: DIM });
  await importText(lmdb, 'returned', await exportText(postgres, 'moved'));
  assert.equal(await exportText(lmdb, 'returned'), exported);

  // A backup of the PostgreSQL space under concurrent writes restores to the source at its LSN.
  let writing = true;
  const acked: Array<{ id: string; lsn: number }> = [];
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const view = await moved.remember({
        id: `w-${i}`,
        content: `write ${i}`,
        vector: randomVector(random, DIM),
      });
      acked.push({ id: view.id, lsn: view.lsn });
      // PGlite answers in process: without a yield this loop would starve every timer.
      await tick();
    }
  })();
  while (acked.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
  const created = await postgres.call('POST', '/api/v1/backups?space=moved');
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const after = acked.length;
  while (acked.length < after + 5) await new Promise((resolve) => setTimeout(resolve, 5));
  writing = false;
  await writer;
  const { name, lsn } = created.body.backup as { name: string; lsn: number };
  const restored = await postgres.call('POST', `/api/v1/backups/${name}/restore`, {
    body: { as: 'restored' },
  });
  assert.equal(restored.status, 200, JSON.stringify(restored.body));
  const expected = exportText(postgres, 'moved').then((text) =>
    text
      .trim()
      .split('\n')
      .filter((line) => {
        const write = acked.find((w) => w.id === JSON.parse(line).id);
        return write === undefined || write.lsn <= lsn;
      }),
  );
  const actual = (await exportText(postgres, 'restored')).trim().split('\n');
  assert.deepEqual(actual, await expected);
  assert.ok(actual.length > 20, 'writes made before the backup are in it');
  assert.ok(actual.length < 20 + acked.length, 'writes made after it are not');
});
