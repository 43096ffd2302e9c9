/**
 * Row-level security and several connections on a real PostgreSQL 15 server (Debian's: no
 * pgvector, so vectors are float4 arrays; nothing here needs the vector type). Two engines on
 * one database stand for two stateless servers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  migratePostgres,
  openPostgresEngine,
  type PostgresEngine,
} from '../../engine/backends/index.ts';
import { isEngramError, type SpaceEvent } from '../../engine/index.ts';
import { postgresServer, roleName, type PostgresServer } from '../helpers/postgres-server.ts';

const { server, skip } = await postgresServer();
const TABLES = ['spaces', 'memories', 'associations', 'access', 'events'];

describe('PostgreSQL 15: row-level security per space', { skip: skip ?? false }, () => {
  const srv = server as PostgresServer;
  const appRole = roleName('engram_rls_app');
  const schema = 'rls';
  let engine: PostgresEngine;
  let raw: pg.Client;

  before(async () => {
    await srv.admin(`CREATE ROLE ${appRole} LOGIN NOBYPASSRLS`);
    await migratePostgres(
      { url: srv.adminUrl, schema, appRole, vectorStorage: 'float4-array' },
      {},
    );
    engine = await openPostgresEngine({ url: srv.urlAs(appRole), schema });
    for (const space of ['alpha', 'beta']) {
      await engine.createSpace(space);
      const handle = await engine.space(space);
      await handle.remember({ id: 'm1', content: `${space} secret`, vector: [1, 0, 0] });
      await handle.remember({ id: 'm2', content: `${space} other`, vector: [0, 1, 0] });
      await handle.associate('m1', 'm2', 0.5);
      await handle.recall([1, 0, 0], { k: 2 });
    }
    await engine.flushAccess();
    raw = new pg.Client({ connectionString: srv.urlAs(appRole) });
    await raw.connect();
  });
  after(async () => {
    await raw?.end();
    await engine?.close();
  });

  const count = async (table: string): Promise<number> =>
    Number((await raw.query(`SELECT count(*) AS n FROM ${schema}.${table}`)).rows[0].n);

  test('a deliberately unscoped query as the application role sees zero rows in every table', async () => {
    // The rows exist: the superuser sees them.
    const all = await srv.admin(`SELECT count(*)::int AS n FROM ${schema}.memories`);
    assert.equal(all.rows[0].n, 4);
    for (const table of TABLES) assert.equal(await count(table), 0, `${table}, no transaction`);
    await raw.query('BEGIN');
    for (const table of TABLES) assert.equal(await count(table), 0, `${table}, in a transaction`);
    await raw.query('COMMIT');
  });

  test('a transaction scoped to one space sees that space only, and the scope ends with it', async () => {
    await raw.query('BEGIN');
    await raw.query(`SELECT set_config('app.current_space', 'alpha', true)`);
    const rows = await raw.query(
      `SELECT space_id, id, content FROM ${schema}.memories ORDER BY id`,
    );
    assert.deepEqual(
      rows.rows.map((r) => [r.space_id, r.content]),
      [
        ['alpha', 'alpha secret'],
        ['alpha', 'alpha other'],
      ],
    );
    assert.equal(await count('associations'), 1);
    assert.equal(await count('spaces'), 1);
    await raw.query('COMMIT');
    for (const table of TABLES) assert.equal(await count(table), 0, `${table} after COMMIT`);
  });

  test('a row for another space cannot be written (WITH CHECK), nor another space changed', async () => {
    await raw.query('BEGIN');
    await raw.query(`SELECT set_config('app.current_space', 'alpha', true)`);
    await assert.rejects(
      raw.query(
        `INSERT INTO ${schema}.associations (space_id, from_id, to_id, weight) VALUES ('beta', 'm1', 'm2', 9)`,
      ),
      /row-level security/,
    );
    await raw.query('ROLLBACK');
    await raw.query('BEGIN');
    await raw.query(`SELECT set_config('app.current_space', 'alpha', true)`);
    const changed = await raw.query(
      `UPDATE ${schema}.memories SET content = 'hijacked' WHERE space_id = 'beta'`,
    );
    assert.equal(changed.rowCount, 0);
    const deleted = await raw.query(`DELETE FROM ${schema}.events WHERE space_id <> 'alpha'`);
    assert.equal(deleted.rowCount, 0);
    await raw.query('COMMIT');
    assert.equal((await (await engine.space('beta')).get('m1'))?.content, 'beta secret');
  });

  test('the catalogue scope lists spaces but reads no memory, link, count or event', async () => {
    await raw.query('BEGIN');
    await raw.query(`SELECT set_config('app.current_space', '*', true)`);
    assert.equal(await count('spaces'), 2);
    for (const table of TABLES.slice(1)) assert.equal(await count(table), 0, table);
    await assert.rejects(
      raw.query(`UPDATE ${schema}.spaces SET memories = 0 RETURNING 1`).then((r) => {
        if (r.rowCount === 0) throw new Error('row-level security: nothing updated');
      }),
      /row-level security/,
    );
    await raw.query('ROLLBACK');
  });

  test('the space DDL functions act only on the transaction’s own space', async () => {
    await raw.query('BEGIN');
    await raw.query(`SELECT set_config('app.current_space', 'alpha', true)`);
    await assert.rejects(
      raw.query(`SELECT ${schema}.drop_space_storage('beta', 2)`),
      /not the space of this transaction/,
    );
    await raw.query('ROLLBACK');
    await assert.rejects(
      raw.query(`ALTER TABLE ${schema}.memories DISABLE ROW LEVEL SECURITY`),
      /must be owner/,
    );
  });

  test('pooled connections never carry a space from one transaction to the next', async () => {
    const handles = await Promise.all(['alpha', 'beta'].map((s) => engine.space(s)));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        handles[i % 2]!.recall([1, 0, 0], { k: 1 }).then(([hit]) =>
          assert.equal(hit?.memory.content, `${handles[i % 2]!.id} secret`),
        ),
      ),
    );
    const pool = new pg.Pool({ connectionString: srv.urlAs(appRole), max: 3 });
    try {
      for (let i = 0; i < 6; i++) {
        const client = await pool.connect();
        await client.query('BEGIN');
        await client.query(`SELECT set_config('app.current_space', 'alpha', true)`);
        await client.query('COMMIT');
        const left = await client.query(`SELECT current_setting('app.current_space', true) AS s`);
        assert.ok(!left.rows[0].s, `setting left on a connection: ${left.rows[0].s}`);
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  test('the engine refuses to run as a role that bypasses row-level security or owns the tables', async () => {
    const refused = (error: unknown) => isEngramError(error, 'ENG_OPTIONS_INVALID');
    // The superuser (the cluster's bootstrap role) bypasses RLS.
    await assert.rejects(openPostgresEngine({ url: srv.adminUrl, schema }), refused);
    const bypass = roleName('engram_bypass');
    await srv.admin(`CREATE ROLE ${bypass} LOGIN BYPASSRLS`);
    await srv.admin(`GRANT USAGE ON SCHEMA ${schema} TO ${bypass}`);
    await srv.admin(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${bypass}`);
    await assert.rejects(
      openPostgresEngine({ url: srv.urlAs(bypass), schema }),
      (error: unknown) => refused(error) && /BYPASSRLS/.test((error as Error).message),
    );
    const owner = roleName('engram_owner');
    await srv.admin(`CREATE ROLE ${owner} LOGIN`);
    await migratePostgres(
      { url: srv.adminUrl, schema: 'owned', appRole, vectorStorage: 'float4-array' },
      {},
    );
    await srv.admin(`ALTER TABLE owned.memories OWNER TO ${owner}`);
    await srv.admin(`GRANT USAGE ON SCHEMA owned TO ${owner}`);
    await srv.admin(`GRANT SELECT ON owned.schema_migrations TO ${owner}`);
    await assert.rejects(
      openPostgresEngine({ url: srv.urlAs(owner), schema: 'owned' }),
      (error: unknown) => refused(error) && /owns/.test((error as Error).message),
    );
  });

  test('a superuser login taking the application role with SET LOCAL ROLE is held to the same policies', async () => {
    const viaRole = await openPostgresEngine({ url: srv.adminUrl, schema, role: appRole });
    try {
      const alpha = await viaRole.space('alpha');
      assert.equal((await alpha.get('m1'))?.content, 'alpha secret');
      assert.deepEqual(
        (await viaRole.listSpaces()).map((s) => s.id),
        ['alpha', 'beta'],
      );
    } finally {
      await viaRole.close();
    }
  });
});

describe('PostgreSQL 15: several servers on one database', { skip: skip ?? false }, () => {
  const srv = server as PostgresServer;
  const appRole = roleName('engram_multi_app');
  const schema = 'multi';
  let one: PostgresEngine;
  let two: PostgresEngine;

  before(async () => {
    await srv.admin(`CREATE ROLE ${appRole} LOGIN NOBYPASSRLS`);
    await migratePostgres(
      { url: srv.adminUrl, schema, appRole, vectorStorage: 'float4-array' },
      {},
    );
    // A poll period far beyond the test: events must come through LISTEN/NOTIFY.
    const options = { url: srv.urlAs(appRole), schema, eventPollMs: 3_600_000, poolMax: 4 };
    one = await openPostgresEngine(options);
    two = await openPostgresEngine(options);
  });
  after(async () => {
    await one?.close();
    await two?.close();
  });

  test('concurrent creations of one space on two servers: exactly one creates it', async () => {
    const results = await Promise.all([
      one.createSpace('shared'),
      two.createSpace('shared'),
      one.createSpace('shared'),
      two.createSpace('shared'),
    ]);
    assert.equal(results.filter((r) => r.created).length, 1);
  });

  test('a write through one server is read, listed and recalled through the other at once', async () => {
    const a = await one.space('shared');
    const b = await two.space('shared');
    await a.remember({ id: 'x', content: 'written on one', vector: [0.5, 0.5] });
    assert.equal((await b.get('x'))?.content, 'written on one');
    assert.equal((await b.recall([0.5, 0.5], { k: 1 }))[0]?.memory.id, 'x');
    await b.update('x', { content: 'updated on two' });
    assert.equal((await a.get('x'))?.content, 'updated on two');
  });

  test('concurrent writes to one space from two servers get distinct, increasing LSNs and exact counts', async () => {
    await one.createSpace('busy');
    const handles = [await one.space('busy'), await two.space('busy')];
    const written = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        handles[i % 2]!.remember({ id: `w${i}`, content: `write ${i}`, vector: [1, i] }),
      ),
    );
    const lsns = written.map((m) => m.lsn).sort((x, y) => x - y);
    assert.equal(new Set(lsns).size, 60, 'every write has its own LSN');
    assert.deepEqual(
      lsns,
      Array.from({ length: 60 }, (_, i) => lsns[0]! + i),
      'LSNs have no gaps',
    );
    assert.equal((await handles[1]!.stats()).memories, 60);
    assert.equal((await one.listSpaces()).find((s) => s.id === 'busy')?.memories, 60);
  });

  test('a subscriber on one server receives, in order and once, the events written through the other (LISTEN/NOTIFY)', async () => {
    await one.createSpace('streamed');
    await one.createSpace('elsewhere');
    const seen: SpaceEvent[] = [];
    const unsubscribe = await two.subscribe('streamed', (event) => seen.push(event));
    const writer = await one.space('streamed');
    const other = await one.space('elsewhere');
    await writer.remember({ id: 'e1', content: 'first' });
    await other.remember({ id: 'no', content: 'not for this stream' });
    await writer.remember({ id: 'e2', content: 'second' });
    await writer.associate('e1', 'e2', 0.3);
    await writer.forget('e1');
    const deadline = Date.now() + 5000;
    while (seen.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    unsubscribe();
    assert.deepEqual(
      seen.map((e) => [e.type, e.memoryId, e.space]),
      [
        ['stored', 'e1', 'streamed'],
        ['stored', 'e2', 'streamed'],
        ['associated', 'e1', 'streamed'],
        ['forgotten', 'e1', 'streamed'],
      ],
    );
    assert.ok(seen.every((e, i) => i === 0 || e.lsn > seen[i - 1]!.lsn));
    // A resume from the first event replays the rest from the events table.
    const replayed: SpaceEvent[] = [];
    const again = await one.subscribe('streamed', (event) => replayed.push(event), {
      afterLsn: seen[0]!.lsn,
    });
    again();
    assert.deepEqual(
      replayed.map((e) => e.lsn),
      seen.slice(1).map((e) => e.lsn),
    );
  });

  test('a space deleted through one server is gone for the other', async () => {
    await one.createSpace('doomed');
    const handle = await two.space('doomed');
    await handle.remember({ id: 'x', content: 'bye' });
    assert.equal(await one.deleteSpace('doomed'), true);
    await assert.rejects(handle.get('x'), (e: unknown) => isEngramError(e, 'ENG_SPACE_NOT_FOUND'));
    assert.equal(await two.deleteSpace('doomed'), false);
  });
});
