/**
 * The PostgreSQL backend where it needs the vector type (pgvector, so PGlite in process): its
 * recall, lexical, hybrid and spreading scores, filters, suppression, access statistics,
 * consolidation and events against the embedded LMDB backend on the same operations, and its
 * HNSW index and per-query ef_search.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgresEngine } from '../../engine/backends/index.ts';
import {
  isEngramError,
  Registry,
  type RecallHit,
  type RecallOptions,
  type SpaceEvent,
  type SpaceHandle,
} from '../../engine/index.ts';
import { PGLITE_APP_ROLE, startPglite } from '../helpers/postgres-pglite.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const pglite = await startPglite();

const WORDS =
  'quokka camera gene editing plant soup lentil orbit probe rocket lab notes cell'.split(' ');

/** The same writes on any backend; returns what every recall answered. */
async function workload(space: SpaceHandle): Promise<Record<string, RecallHit[]>> {
  const random = seededRandom(99);
  const base = Date.parse('2024-01-01T00:00:00Z');
  for (let i = 0; i < 60; i++) {
    const words = Array.from({ length: 3 + (i % 5) }, () => WORDS[Math.floor(random() * 13)]!);
    await space.remember({
      id: `m${String(i).padStart(2, '0')}`,
      content: `${words.join(' ')} number ${i}`,
      confidence: Math.round(random() * 100) / 100,
      memoryType: i % 3 === 0 ? 'episodic' : 'semantic',
      tags: i % 4 === 0 ? ['four'] : ['other'],
      observedAt: base + i * 3_600_000,
    });
  }
  for (let i = 0; i < 6; i++)
    await space.remember({
      id: `ep${i}`,
      episode: { what: `launched the probe rocket from the lab ${i % 2 ? 'again' : ''}` },
    });
  await space.forget('m05', { mode: 'suppress' });
  await space.forget('m07');
  await space.update('m08', { content: 'quokka quokka quokka', confidence: 0.9 });
  for (const [from, to, weight] of [
    ['m01', 'm02', 0.9],
    ['m02', 'm03', 0.8],
    ['m01', 'm04', 0.4],
    ['m03', 'm09', 0.7],
    ['m04', 'm10', -1],
  ] as const)
    await space.associate(from, to, weight);
  const queries: Array<[string, string, RecallOptions]> = [
    ['lexical', 'quokka camera', { k: 8, mode: 'lexical' }],
    ['lexical-filtered', 'gene soup orbit', { k: 10, mode: 'lexical', filter: { tags: ['four'] } }],
    ['hybrid', 'probe rocket lab', { k: 10 }],
    ['hybrid-threshold', 'lentil soup', { k: 10, threshold: 0.3 }],
    ['similarity', 'cell notes', { k: 7, mode: 'similarity' }],
    [
      'similarity-types',
      'plant gene',
      { k: 7, mode: 'similarity', filter: { memoryTypes: ['episodic'] } },
    ],
    ['suppressed', 'quokka', { k: 20, mode: 'lexical', includeSuppressed: true }],
    [
      'time-window',
      'orbit',
      {
        k: 20,
        filter: {
          observedAfter: base + 10 * 3_600_000,
          observedBefore: '2024-01-02T12:00:00Z',
          minConfidence: 0.2,
        },
      },
    ],
    ['spreading', 'camera quokka', { k: 10, mode: 'spreading', spread: { seeds: 3, hops: 2 } }],
  ];
  const out: Record<string, RecallHit[]> = {};
  for (const [name, text, options] of queries) out[name] = await space.recall(text, options);
  return out;
}

function sameHits(name: string, lmdb: RecallHit[], postgres: RecallHit[]): void {
  assert.deepEqual(
    postgres.map((h) => h.memory.id),
    lmdb.map((h) => h.memory.id),
    `${name}: the same memories in the same order`,
  );
  lmdb.forEach((want, i) => {
    const got = postgres[i]!;
    assert.ok(
      Math.abs(got.score - want.score) < 1e-5,
      `${name} ${want.memory.id}: score ${got.score} vs ${want.score}`,
    );
    for (const part of ['lexical', 'similarity'] as const) {
      assert.equal(
        got.parts[part] === undefined,
        want.parts[part] === undefined,
        `${name}: ${part} part`,
      );
      if (want.parts[part] !== undefined)
        assert.ok(
          Math.abs(got.parts[part]! - want.parts[part]) < 1e-5,
          `${name}: ${part} of ${want.memory.id}`,
        );
    }
    assert.deepEqual(got.path, want.path, `${name}: path of ${want.memory.id}`);
    assert.equal(got.memory.content, want.memory.content);
  });
}

test('recall modes, filters, suppression and spreading score exactly as on the embedded backend; consolidation cites and purges', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir(), consolidationIntervalMs: 0 });
  const engine = await pglite.open(pglite.schema('parity'));
  try {
    for (const backend of [registry, engine])
      await backend.createSpace('parity', { embedder: 'hash' });
    const lmdbSpace = await registry.space('parity');
    const pgSpace = await engine.space('parity');
    const lmdb = await workload(lmdbSpace);
    const postgres = await workload(pgSpace);
    for (const name of Object.keys(lmdb)) {
      assert.ok(lmdb[name]!.length > 0, `${name} finds something`);
      sameHits(name, lmdb[name]!, postgres[name]!);
    }
    // Consolidation: the same planner; which groups it finds is not compared here (the
    // embedded backend asks an approximate HNSW index for neighbours, this one an exact scan).
    const made = await pgSpace.consolidate({ similarity: 0.5, minSources: 2 });
    assert.ok(made.length > 0, 'consolidation groups related episodes');
    for (const { sources, strength } of made) {
      assert.ok(sources.length >= 2 && strength > 0 && strength <= 1 + 1e-9);
      for (const id of sources) assert.equal((await pgSpace.get(id))?.memoryType, 'episodic');
    }
    const consolidated = await pgSpace.get(made[0]!.memoryId);
    assert.deepEqual(consolidated?.consolidation?.sources, made[0]!.sources);
    assert.equal((await pgSpace.consolidations(made.length)).length, made.length);
    // Deleting a source purges it from the citation, as on the embedded backend.
    await pgSpace.forget(made[0]!.sources[0]!);
    assert.deepEqual(
      (await pgSpace.get(consolidated.id))?.consolidation?.sources,
      made[0]!.sources.slice(1),
    );
    assert.ok((await pgSpace.stats()).consolidationRate > 0);
  } finally {
    await registry.close();
    await engine.close();
  }
});

test('recall counts as an access: counts and last access survive a reopen and raise activation; a new memory under the id starts over', async () => {
  const schema = pglite.schema('access');
  let engine = await pglite.open(schema, { accessFlushMs: 10 });
  await engine.createSpace('used');
  let space = await engine.space('used');
  await space.remember({ id: 'often', content: 'often recalled', vector: [1, 0, 0] });
  const [first] = await space.recall([1, 0, 0], { k: 1 });
  for (let i = 0; i < 4; i++) await space.recall([1, 0, 0], { k: 1 });
  const [last] = await space.recall([1, 0, 0], { k: 1 });
  assert.ok(last!.parts.activation > first!.parts.activation);
  assert.equal(last!.tier, 'warm');
  assert.equal((await space.get('often'))?.accessCount, 6);
  await engine.close();
  engine = await pglite.open(schema);
  try {
    space = await engine.space('used');
    assert.equal((await space.get('often'))?.accessCount, 6);
    assert.ok((await space.get('often'))!.lastAccess! > 0);
    await space.remember({ id: 'often', content: 'new memory, old id', vector: [1, 0, 0] });
    assert.equal((await space.get('often'))?.accessCount, 0);
  } finally {
    await engine.close();
  }
});

test('each space has its own HNSW index (m, ef_construction from the options) and ef_search is set per transaction only', async () => {
  // Every protocol message the pg adapter hands to PGlite, as text: the SQL is in there.
  const statements: string[] = [];
  const db = pglite.db as unknown as {
    execProtocolStream: (m: Uint8Array, o?: unknown) => unknown;
  };
  const send = db.execProtocolStream.bind(db);
  db.execProtocolStream = (message, options) => {
    statements.push(Buffer.from(message).toString('latin1'));
    return send(message, options);
  };
  const schema = pglite.schema('hnsw');
  const engine = await openPostgresEngine({
    pool: pglite.pool,
    schema,
    role: PGLITE_APP_ROLE,
    migrate: true,
    exactScanMaxMemories: 0,
    hnswM: 12,
    hnswEfConstruction: 48,
    hnswEfSearch: 40,
  });
  try {
    await engine.createSpace('vectors', { dimension: 24 });
    const space = await engine.space('vectors');
    const random = seededRandom(5);
    const stored: Array<[string, Float32Array]> = [];
    for (let i = 0; i < 400; i++) {
      const vector = randomVector(random, 24);
      stored.push([`v${i}`, vector]);
      await space.remember({ id: `v${i}`, content: `v${i}`, vector });
    }
    const { rows } = await pglite.pool.query(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%USING hnsw%'`,
      [schema],
    );
    assert.equal(
      rows.length,
      1,
      `one HNSW index, on the space’s own partition: ${JSON.stringify(rows)}`,
    );
    assert.match(rows[0].indexdef, /vector_cosine_ops/);
    assert.match(rows[0].indexdef, /m='?12'?, ef_construction='?48'?/);
    statements.length = 0;
    let found = 0;
    for (let q = 0; q < 20; q++) {
      const query = randomVector(random, 24);
      const exact = stored
        .map(([id, v]) => ({ id, s: cosine(query, v) }))
        .sort((a, b) => b.s - a.s)
        .slice(0, 10)
        .map((x) => x.id);
      const hits = (await space.recall(query, { k: 10, includeSuppressed: true })).map(
        (h) => h.memory.id,
      );
      found += hits.filter((id) => exact.includes(id)).length;
    }
    assert.ok(found / 200 >= 0.9, `recall@10 ${found / 200}`);
    assert.ok(
      statements.some((s) => /SET LOCAL hnsw\.ef_search = 40/.test(s)),
      'ef_search is set inside the recall transaction',
    );
    const { rows: after } = await pglite.pool.query(`SHOW hnsw.ef_search`);
    assert.equal(after[0]['hnsw.ef_search'], '40', 'and does not outlive it (pgvector default 40)');
  } finally {
    db.execProtocolStream = send;
    await engine.close();
  }
});

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

test('events: live per space, resumable after an id, expired once pruned by the retention', async () => {
  const engine = await pglite.open(pglite.schema('events'), { eventRetentionMs: 1000 });
  try {
    await engine.createSpace('stream');
    await engine.createSpace('other');
    const space = await engine.space('stream');
    const other = await engine.space('other');
    const seen: SpaceEvent[] = [];
    const unsubscribe = await engine.subscribe('stream', (event) => seen.push(event));
    await space.remember({ id: 'a', content: 'hello' });
    await other.remember({ id: 'b', content: 'not mine' });
    await space.update('a', { tags: ['x'] });
    const deadline = Date.now() + 3000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    unsubscribe();
    assert.deepEqual(
      seen.map((e) => [e.type, e.memoryId, e.detail]),
      [
        ['stored', 'a', { content: 'hello' }],
        ['updated', 'a', { fields: ['tags'] }],
      ],
    );
    await assert.rejects(
      engine.subscribe('missing', () => undefined),
      (e: unknown) => isEngramError(e, 'ENG_SPACE_NOT_FOUND'),
    );
    await new Promise((r) => setTimeout(r, 1100));
    // The write at LSN 256 prunes events older than the retention.
    for (let i = (await space.stats()).lastLsn; i < 256; i++)
      await space.update('a', { confidence: 0.5 });
    await assert.rejects(
      engine.subscribe('stream', () => undefined, { afterLsn: 0 }),
      (e: unknown) => isEngramError(e, 'ENG_EVENTS_EXPIRED'),
    );
  } finally {
    await engine.close();
  }
});

test('content holding U+0000, which PostgreSQL text cannot store, is ENG_CONTENT_INVALID', async () => {
  const engine = await pglite.open(pglite.schema('nul'));
  try {
    await engine.createSpace('nul');
    const space = await engine.space('nul');
    await assert.rejects(space.remember({ content: 'a\u0000b' }), (e: unknown) =>
      isEngramError(e, 'ENG_CONTENT_INVALID'),
    );
    await space.remember({ id: 'ok', content: 'fine', metadata: { nul: 'a\u0000b' } });
    assert.deepEqual((await space.get('ok'))?.metadata, { nul: 'a\u0000b' });
  } finally {
    await engine.close();
  }
});
