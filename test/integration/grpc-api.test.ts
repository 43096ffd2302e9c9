import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { fromStruct, fromTimestamp, toStruct, toTimestamp } from '../../client/grpc-client.ts';
import {
  grpcHarness,
  rejectsWith,
  smallVector,
  waitingEmbedder,
} from '../fixtures/grpc-harness.ts';

const h = await grpcHarness({
  embedders: {
    broken: () => {
      throw new Error('secret: the embedder config holds key sk-123');
    },
  },
});
const { client, registry } = h;

test('Remember stores a memory durably and GetMemory reads every field back', async () => {
  const observed = Date.parse('2024-05-01T10:00:00Z');
  const stored = await client.remember({
    memory_space_id: 'api-notes',
    id: 'gene',
    content: 'CRISPR gene editing',
    confidence: 0.9,
    memory_type: 'MEMORY_TYPE_PROCEDURAL',
    tags: ['bio', 'lab'],
    metadata: toStruct({ source: 'paper', pages: [1, 2], nested: { ok: true, none: null } }),
    observed_at: toTimestamp(observed),
  });
  assert.equal(stored.memory_id, 'gene');
  assert.equal(stored.memory_space_id, 'api-notes');
  assert.ok(stored.lsn! >= 1);
  const stats = await (await registry.space('api-notes')).stats();
  assert.ok(stats.lastLsn >= stored.lsn!, 'the acknowledged record is in the log');

  const { memory } = await client.getMemory({ memory_space_id: 'api-notes', memory_id: 'gene' });
  assert.ok(memory);
  assert.equal(memory.content, 'CRISPR gene editing');
  assert.equal(memory.confidence, 0.9);
  assert.equal(memory.memory_type, 'MEMORY_TYPE_PROCEDURAL');
  assert.deepEqual(memory.tags, ['bio', 'lab']);
  assert.deepEqual(fromStruct(memory.metadata), {
    source: 'paper',
    pages: [1, 2],
    nested: { ok: true, none: null },
  });
  assert.equal(fromTimestamp(memory.observed_at!), observed);
  assert.equal(memory.has_embedding, true, 'the space was auto-created with the hash embedder');
  assert.equal(memory.lsn, stored.lsn);
  assert.equal(memory.memory_space_id, 'api-notes');
});

test('a write to a missing space creates it with the hash embedder; reads create nothing', async () => {
  await client.remember({ memory_space_id: 'api-auto', content: 'first words' });
  const [summary] = (await client.listSpaces({ memory_space_id: 'api-auto' })).spaces!;
  assert.equal(summary?.dimension, 384);

  const recalled = await client.recall({ memory_space_id: 'api-ghost', query: 'words' });
  assert.deepEqual(recalled.memories, []);
  assert.equal(recalled.memory_space_id, 'api-ghost');
  await rejectsWith(client.getMemory({ memory_space_id: 'api-ghost', memory_id: 'x' }), {
    status: status.NOT_FOUND,
    code: 'ENG_MEMORY_NOT_FOUND',
  });
  await rejectsWith(client.forget({ memory_space_id: 'api-ghost', memory_id: 'x' }), {
    status: status.NOT_FOUND,
    code: 'ENG_MEMORY_NOT_FOUND',
  });
  await rejectsWith(client.recall({ memory_space_id: 'api-ghost', query: 'w', k: 100_000 }), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_QUERY_INVALID',
  });
  assert.equal(registry.has('api-ghost'), false);
  assert.deepEqual((await client.listSpaces({ memory_space_id: 'api-ghost' })).spaces, []);
});

test('Store keeps every part of an episode and stores it as episodic', async () => {
  const when = Date.parse('2024-06-02T12:30:00Z');
  const stored = await client.store({
    memory_space_id: 'api-episodes',
    episode: {
      what: 'lunch with the lab',
      when: toTimestamp(when),
      where: 'canteen',
      who: ['Ada', 'Grace'],
      why: 'celebration',
      how: 'walked',
      importance: 0.8,
    },
    tags: ['social'],
  });
  const memory = stored.memory!;
  assert.equal(memory.memory_type, 'MEMORY_TYPE_EPISODIC');
  assert.match(memory.content!, /lunch with the lab/);
  assert.deepEqual(memory.tags, ['social']);
  const episode = memory.episode!;
  assert.equal(episode.what, 'lunch with the lab');
  assert.equal(fromTimestamp(episode.when!), when);
  assert.equal(episode.where, 'canteen');
  assert.deepEqual(episode.who, ['Ada', 'Grace']);
  assert.equal(episode.why, 'celebration');
  assert.equal(episode.how, 'walked');
  assert.equal(episode.importance, 0.8);
  assert.equal(episode.memory_space_id, 'api-episodes');

  await rejectsWith(client.store({ memory_space_id: 'api-episodes' }), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_REQUEST_INVALID',
  });
  await rejectsWith(client.store({ memory_space_id: 'api-episodes', episode: { where: 'x' } }), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_FIELD_INVALID',
  });
});

test('Store takes the space from the episode too, and refuses two different spaces', async () => {
  const stored = await client.store({ episode: { memory_space_id: 'api-ep-b', what: 'a walk' } });
  assert.equal(stored.memory_space_id, 'api-ep-b');
  await rejectsWith(
    client.store({
      memory_space_id: 'api-ep-a',
      episode: { memory_space_id: 'api-ep-b', what: 'a walk' },
    }),
    { status: status.INVALID_ARGUMENT, code: 'ENG_REQUEST_INVALID' },
  );
});

test('Recall finds by text and by embedding, best first, with filters and k', async () => {
  await registry.createSpace('api-recall', { dimension: 8 });
  for (let i = 0; i < 20; i++) {
    await client.remember({
      memory_space_id: 'api-recall',
      id: `r${i}`,
      content: i === 7 ? 'the quick brown fox' : `filler text number ${i}`,
      embedding: smallVector(i),
      tags: i % 2 === 0 ? ['even'] : ['odd'],
      confidence: i % 2 === 0 ? 0.9 : 0.6,
    });
  }
  const byText = await client.recall({ memory_space_id: 'api-recall', query: 'brown fox', k: 3 });
  assert.equal(byText.memories![0]!.memory!.id, 'r7');
  assert.ok(byText.memories!.length <= 3);
  assert.equal(byText.memories![0]!.tier, 'TIER_WARM');
  assert.ok(byText.memories![0]!.parts!.lexical! > 0);

  const withCold = await client.recall({
    memory_space_id: 'api-recall',
    query: 'brown fox',
    k: 3,
    include_cold: true,
  });
  assert.equal(withCold.memories![0]!.memory!.id, 'r7', 'include_cold is accepted');
  const byVector = await client.recall({
    memory_space_id: 'api-recall',
    embedding: smallVector(4),
    k: 5,
  });
  assert.equal(byVector.memories![0]!.memory!.id, 'r4');
  assert.ok(Math.abs(byVector.memories![0]!.parts!.similarity! - 1) < 1e-5);
  const scores = byVector.memories!.map((hit) => hit.score!);
  assert.deepEqual(
    scores,
    [...scores].sort((a, b) => b - a),
  );

  const filtered = await client.recall({
    memory_space_id: 'api-recall',
    embedding: smallVector(4),
    k: 20,
    filters: { tags: ['odd'], min_confidence: 0.5 },
  });
  assert.equal(filtered.memories!.length, 10);
  for (const hit of filtered.memories!) assert.deepEqual(hit.memory!.tags, ['odd']);
  const confident = await client.recall({
    memory_space_id: 'api-recall',
    embedding: smallVector(4),
    k: 20,
    filters: { min_confidence: 0.8 },
  });
  assert.equal(confident.memories!.length, 10);
  for (const hit of confident.memories!) assert.equal(hit.memory!.confidence, 0.9);
  const defaultK = await client.recall({
    memory_space_id: 'api-recall',
    embedding: smallVector(1),
  });
  assert.equal(defaultK.memories!.length, 10, 'k = 0 means the default, 10');
});

test('Recall in spreading mode follows associations and gives each hit its path; recalls are counted', async () => {
  await registry.createSpace('api-spread', { dimension: 8 });
  for (let i = 0; i < 5; i++) {
    await client.remember({
      memory_space_id: 'api-spread',
      id: `n${i}`,
      content: `node ${i}`,
      embedding: smallVector(i),
    });
  }
  const space = await registry.space('api-spread');
  await space.associate('n0', 'n3', 1);
  await space.associate('n3', 'n4', 0.8);
  const spread = await client.recall({
    memory_space_id: 'api-spread',
    embedding: smallVector(0),
    k: 5,
    mode: 'RECALL_MODE_SPREADING',
    spread: { seeds: 1, hops: 2 },
  });
  assert.deepEqual(
    spread.memories!.map((hit) => [hit.memory!.id, hit.path]),
    [
      ['n0', ['n0']],
      ['n3', ['n0', 'n3']],
      ['n4', ['n0', 'n3', 'n4']],
    ],
  );
  for (const hit of spread.memories!) {
    assert.equal(hit.parts!.confidence, 0.7);
    assert.equal(typeof hit.parts!.activation, 'number');
  }
  const { memory } = await client.getMemory({ memory_space_id: 'api-spread', memory_id: 'n0' });
  assert.ok(memory!.access_count! >= 1);
  assert.ok(memory!.last_access, 'the recall was recorded');
});

test('Recall refuses a request without exactly one of query and embedding, or of the wrong dimension', async () => {
  await rejectsWith(client.recall({ memory_space_id: 'api-recall' }), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_REQUEST_INVALID',
  });
  await rejectsWith(
    client.recall({ memory_space_id: 'api-recall', query: 'x', embedding: smallVector(1) }),
    { status: status.INVALID_ARGUMENT, code: 'ENG_REQUEST_INVALID' },
  );
  await rejectsWith(client.recall({ memory_space_id: 'api-recall', embedding: [1, 2, 3] }), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_VECTOR_DIM_MISMATCH',
  });
});

test('Forget deletes or suppresses durably and answers NOT_FOUND for a missing memory', async () => {
  await client.remember({ memory_space_id: 'api-forget', id: 'a', content: 'alpha memory' });
  await client.remember({ memory_space_id: 'api-forget', id: 'b', content: 'beta memory' });

  const suppressed = await client.forget({
    memory_space_id: 'api-forget',
    memory_id: 'a',
    mode: 'FORGET_MODE_SUPPRESS',
  });
  assert.deepEqual(suppressed, {
    memory_id: 'a',
    memory_space_id: 'api-forget',
    mode: 'FORGET_MODE_SUPPRESS',
    deleted: false,
    suppressed: true,
  });
  const still = await client.getMemory({ memory_space_id: 'api-forget', memory_id: 'a' });
  assert.equal(still.memory!.suppressed, true);
  const hidden = await client.recall({ memory_space_id: 'api-forget', query: 'alpha', k: 5 });
  assert.ok(!hidden.memories!.some((hit) => hit.memory!.id === 'a'));

  const deleted = await client.forget({ memory_space_id: 'api-forget', memory_id: 'b' });
  assert.equal(deleted.mode, 'FORGET_MODE_DELETE');
  assert.equal(deleted.deleted, true);
  await rejectsWith(client.getMemory({ memory_space_id: 'api-forget', memory_id: 'b' }), {
    status: status.NOT_FOUND,
  });
  await rejectsWith(client.forget({ memory_space_id: 'api-forget', memory_id: 'b' }), {
    status: status.NOT_FOUND,
    code: 'ENG_MEMORY_NOT_FOUND',
  });
  await rejectsWith(client.forget({ memory_space_id: 'api-forget' }), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_MEMORY_ID_INVALID',
  });
});

test('Remember refuses invalid fields with INVALID_ARGUMENT and the engine code', async () => {
  const cases: Array<[Parameters<typeof client.remember>[0], string]> = [
    [{ content: '' }, 'ENG_CONTENT_INVALID'],
    [{ content: 'x', confidence: 1.5 }, 'ENG_FIELD_INVALID'],
    [{ content: 'x', confidence: 0, tags: [''] }, 'ENG_FIELD_INVALID'],
    [{ content: 'x', embedding: [0, 0, 0] }, 'ENG_VECTOR_INVALID'],
    [{ content: 'x', observed_at: { seconds: 1e12 } }, 'ENG_FIELD_INVALID'],
    [{ content: 'x', id: 'a\nb' }, 'ENG_MEMORY_ID_INVALID'],
  ];
  for (const [request, code] of cases) {
    await rejectsWith(client.remember({ memory_space_id: 'api-invalid', ...request }), {
      status: status.INVALID_ARGUMENT,
      code,
    });
  }
  // confidence is `optional`: 0 is a value, not "not given".
  const zero = await client.remember({
    memory_space_id: 'api-invalid',
    content: 'doubtful',
    confidence: 0,
  });
  assert.equal(zero.memory!.confidence, 0);
});

test('the space comes from x-memory-space, else memory_space_id, else "default"', async () => {
  const viaHeader = await client.remember(
    { memory_space_id: 'api-route-body', content: 'routed by metadata' },
    { space: 'api-route-head' },
  );
  assert.equal(viaHeader.memory_space_id, 'api-route-head');
  const viaBody = await client.remember({
    memory_space_id: 'api-route-body',
    content: 'routed by field',
  });
  assert.equal(viaBody.memory_space_id, 'api-route-body');
  const viaDefault = await client.remember({ content: 'routed nowhere' });
  assert.equal(viaDefault.memory_space_id, 'default');
  const scoped = h.connect({ space: 'api-route-client' });
  const viaClient = await scoped.remember({ content: 'client default space' });
  assert.equal(viaClient.memory_space_id, 'api-route-client');
  assert.equal(registry.has('api-route-body'), true);
});

test('an invalid space id is INVALID_ARGUMENT, from metadata or message', async () => {
  for (const bad of ['AB', 'has space', '../etc', 'x'.repeat(65)]) {
    await rejectsWith(client.remember({ memory_space_id: bad, content: 'x' }), {
      status: status.INVALID_ARGUMENT,
      code: 'ENG_SPACE_ID_INVALID',
    });
    await rejectsWith(client.recall({ query: 'x' }, { space: bad }), {
      status: status.INVALID_ARGUMENT,
      code: 'ENG_SPACE_ID_INVALID',
    });
  }
});

test('CreateSpace is idempotent, ListSpaces lists, DeleteSpace deletes durably', async () => {
  const created = await client.createSpace({ memory_space_id: 'api-admin', dimension: 384 });
  assert.equal(created.created, true);
  assert.equal(created.space!.memory_space_id, 'api-admin');
  assert.equal(created.space!.dimension, 384);
  assert.equal(created.space!.state, 'SPACE_STATE_OPEN');
  const again = await client.createSpace({ memory_space_id: 'api-admin' });
  assert.equal(again.created ?? false, false);

  const listed = (await client.listSpaces()).spaces!;
  const ids = listed.map((s) => s.memory_space_id!);
  assert.ok(ids.includes('api-admin'));
  assert.deepEqual(ids, [...ids].sort());
  const admin = listed.find((s) => s.memory_space_id === 'api-admin')!;
  assert.equal(admin.memories ?? 0, 0);

  const deleted = await client.deleteSpace({ memory_space_id: 'api-admin' });
  assert.deepEqual(deleted, { memory_space_id: 'api-admin', deleted: true });
  assert.equal(registry.has('api-admin'), false);
  await rejectsWith(client.deleteSpace({ memory_space_id: 'api-admin' }), {
    status: status.NOT_FOUND,
    code: 'ENG_SPACE_NOT_FOUND',
  });
});

test('CreateSpace and DeleteSpace need an explicit id and refuse a disagreeing x-memory-space', async () => {
  await rejectsWith(client.createSpace({}), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_REQUEST_INVALID',
  });
  await rejectsWith(client.deleteSpace({}), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_REQUEST_INVALID',
  });
  await client.createSpace({ memory_space_id: 'api-keep' });
  await rejectsWith(client.deleteSpace({ memory_space_id: 'api-other' }, { space: 'api-keep' }), {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_REQUEST_INVALID',
  });
  assert.equal(registry.has('api-keep'), true);
  const named = await client.createSpace({}, { space: 'api-by-header' });
  assert.equal(named.space!.memory_space_id, 'api-by-header');
  assert.equal(named.space!.cold_memories, 0);
  assert.equal(named.space!.warm_capacity, 1_000_000);
});

test('Health reports every space with its measured values, or the one asked for', async () => {
  await client.remember({ memory_space_id: 'api-health', content: 'healthy' });
  const all = await client.health();
  assert.equal(all.status, 'HEALTH_STATUS_OK');
  const mine = all.spaces!.find((s) => s.memory_space_id === 'api-health')!;
  assert.equal(mine.memories, 1);
  assert.equal(mine.state, 'SPACE_STATE_OPEN');
  assert.equal(typeof mine.wal_lag_ms, 'number');
  const stats = await (await registry.space('api-health')).stats();
  assert.equal(mine.pressure, stats.pressure);
  assert.equal(mine.consolidation_rate ?? 0, stats.consolidationRate);

  const one = await client.health({ memory_space_id: 'api-health' });
  assert.deepEqual(
    one.spaces!.map((s) => s.memory_space_id),
    ['api-health'],
  );
  await rejectsWith(client.health({ memory_space_id: 'api-nowhere' }), {
    status: status.NOT_FOUND,
    code: 'ENG_SPACE_NOT_FOUND',
  });
});

test('a failure that is not an engine error is INTERNAL with its message hidden', async () => {
  const error = await rejectsWith(
    client.createSpace({ memory_space_id: 'api-broken', embedder: 'broken' }),
    { status: status.INTERNAL, code: 'ENG_INTERNAL' },
  );
  assert.equal(error.message, 'Internal error');
  assert.doesNotMatch(error.message, /secret/);
});

test('a deadline that passes reaches the engine as an aborted signal', async () => {
  const waiting = waitingEmbedder();
  const slow = await grpcHarness({ embedders: { waiting: waiting.factory } });
  await slow.client.createSpace({ memory_space_id: 'api-slow', embedder: 'waiting' });
  await rejectsWith(
    slow.client.remember(
      { memory_space_id: 'api-slow', content: 'never embedded' },
      { timeoutMs: 300 },
    ),
    { status: status.DEADLINE_EXCEEDED },
  );
  await waiting.aborted;
  assert.equal(waiting.signals.length, 1);
  assert.equal(waiting.signals[0]?.aborted, true);
  const stats = await (await slow.registry.space('api-slow')).stats();
  assert.equal(stats.memories, 0, 'nothing was stored');
});

test('a client cancellation reaches the engine as an aborted signal', async () => {
  const waiting = waitingEmbedder();
  const slow = await grpcHarness({ embedders: { waiting: waiting.factory } });
  await slow.client.createSpace({ memory_space_id: 'api-cancel', embedder: 'waiting' });
  const controller = new AbortController();
  const call = slow.client.recall(
    { memory_space_id: 'api-cancel', query: 'anything' },
    { signal: controller.signal },
  );
  while (waiting.signals.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  await rejectsWith(call, { status: status.CANCELLED });
  await waiting.aborted;
  assert.equal(waiting.signals[0]?.aborted, true);
});
