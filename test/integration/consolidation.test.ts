import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, type SpaceEvent } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { testApi } from '../helpers/http.ts';

const near = (i: number) => [1, 0.02 * i, 0.01 * (i % 3), 0];

test('related episodes are consolidated into one semantic memory that cites them, once, durably', async () => {
  const dataRoot = await tempDir();
  let registry = await Registry.open({ dataRoot, consolidationIntervalMs: 0 });
  await registry.createSpace('diary');
  let space = await registry.space('diary');
  const events: SpaceEvent[] = [];
  const unsubscribe = await registry.subscribe('diary', (event) => events.push(event));
  for (let i = 0; i < 4; i++) {
    await space.remember({
      id: `walk-${i}`,
      episode: { what: `walked the dog, day ${i}` },
      vector: near(i),
    });
  }
  await space.remember({
    id: 'other-episode',
    episode: { what: 'paid the rent' },
    vector: [0, 0, 1, 0],
  });
  await space.remember({
    id: 'a-fact',
    content: 'dogs need walks',
    vector: near(1),
    memoryType: 'semantic',
  });

  const made = await space.consolidate();
  assert.equal(made.length, 1);
  assert.deepEqual(made[0]!.sources, ['walk-0', 'walk-1', 'walk-2', 'walk-3']);
  assert.ok(made[0]!.strength > 0.95 && made[0]!.strength <= 1);
  const consolidated = await space.get(made[0]!.memoryId);
  assert.equal(consolidated?.memoryType, 'semantic');
  assert.deepEqual(consolidated.consolidation?.sources, made[0]!.sources);
  assert.match(consolidated.content, /walked the dog/);
  assert.deepEqual(await space.consolidate(), [], 'cited episodes are not consolidated again');
  assert.ok((await space.stats()).consolidationRate > 0);
  assert.ok(events.some((e) => e.type === 'consolidated' && e.memoryId === made[0]!.memoryId));
  unsubscribe();

  // A hard delete of a source removes its citation.
  await space.forget('walk-2');
  assert.deepEqual((await space.get(made[0]!.memoryId))?.consolidation?.sources, [
    'walk-0',
    'walk-1',
    'walk-3',
  ]);
  await registry.close();

  registry = await Registry.open({ dataRoot, consolidationIntervalMs: 0 });
  try {
    space = await registry.space('diary');
    const [listed] = await space.consolidations(10);
    assert.equal(listed?.id, made[0]!.memoryId);
    assert.deepEqual(listed.consolidation?.sources, ['walk-0', 'walk-1', 'walk-3']);
    assert.deepEqual(await space.consolidate(), []);
    assert.equal(
      (await space.stats()).consolidationRate,
      0,
      'the rate is measured in this process, not assumed',
    );
  } finally {
    await registry.close();
  }
});

test('consolidations are listed and run over HTTP, and health reports the measured rate', async () => {
  const api = await testApi();
  const headers = { 'x-memory-space': 'http-diary' };
  await api.registry.createSpace('http-diary'); // client vectors only: no embedder
  for (let i = 0; i < 3; i++) {
    const stored = await api.call('POST', '/api/v1/episodes/remember', {
      headers,
      body: { what: `standup meeting ${i}`, embedding: near(i) },
    });
    assert.equal(stored.status, 201);
  }
  const run = await api.call('POST', '/api/v1/consolidations/run', {
    headers,
    body: { similarity: 0.9 },
  });
  assert.equal(run.status, 200);
  assert.equal(run.body.consolidations.length, 1);
  const listed = await api.call('GET', '/api/v1/consolidations', { headers });
  assert.equal(listed.body.consolidations[0].id, run.body.consolidations[0].memory_id);
  assert.equal(listed.body.consolidations[0].consolidation.sources.length, 3);
  const health = await api.call('GET', '/api/v1/system/health?space=http-diary');
  assert.ok(health.body.spaces[0].consolidation_rate > 0);
  const elsewhere = await api.call('GET', '/api/v1/consolidations?space=someone-else');
  assert.deepEqual(elsewhere.body.consolidations, []);
  const bad = await api.call('POST', '/api/v1/consolidations/run', {
    headers,
    body: { similarity: 2 },
  });
  assert.equal(bad.status, 400);
});
