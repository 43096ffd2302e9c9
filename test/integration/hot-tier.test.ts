import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../engine/index.ts';
import { testApi } from '../helpers/http.ts';
import { settled } from '../helpers/settled.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('recalled memories move to the hot tier, changes drop them from it, and pressure is its occupancy', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir(), hotCapacity: 4 });
  try {
    await registry.createSpace('heat');
    const space = await registry.space('heat');
    for (let i = 0; i < 8; i++)
      await space.remember({ id: `m${i}`, content: `memory ${i}`, vector: [1, i / 10, 0] });
    for (let i = 0; i < 50 && (await space.stats()).pendingApply > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    const [cold] = await space.recall([1, 0, 0], { k: 1 });
    assert.equal(cold?.tier, 'warm');
    const [warm] = await space.recall([1, 0, 0], { k: 1 });
    assert.equal(warm?.memory.id, 'm0');
    assert.equal(warm.tier, 'hot');
    let stats = await space.stats();
    assert.equal(stats.hotMemories, 1);
    assert.equal(stats.pressure, 1 / 4);

    await space.update('m0', { content: 'changed' });
    assert.equal(
      (await space.get('m0'))?.content,
      'changed',
      'a change is never hidden by the hot copy',
    );
    const [again] = await space.recall([1, 0, 0], { k: 1 });
    assert.equal(again?.memory.content, 'changed');

    await space.recall([1, 0.35, 0], { k: 8 });
    stats = await space.stats();
    assert.ok(stats.hotMemories <= 4, `${stats.hotMemories} memories in a hot tier of 4`);
    assert.equal(stats.pressure, stats.hotMemories / 4);
    await space.forget('m3');
    assert.equal(await space.get('m3'), undefined);
  } finally {
    await registry.close();
  }
});

test('a change racing a recall is never hidden by the hot copy that recall read (read-your-writes after apply)', async () => {
  // The recall reads a memory from the memtable, then waits for the index thread; an update of
  // that memory arrives meanwhile and drops it from the hot tier. The recall must not put its
  // older copy back: once the update leaves the memtable, get() would serve the old content.
  const registry = await Registry.open({ dataRoot: await tempDir(), durability: 'none' });
  try {
    await registry.createSpace('race', { dimension: 4 });
    const space = await registry.space('race');
    const stale: string[] = [];
    for (let i = 0; i < 200; i++) {
      const id = `r${i}`;
      const vector = [1, i % 7, 2, 3];
      await space.remember({ id, content: 'old', vector });
      await Promise.all([space.recall(vector, { k: 3 }), space.update(id, { content: 'new' })]);
      for (let wait = 0; wait < 500 && (await space.stats()).pendingApply > 0; wait++)
        await new Promise((r) => setTimeout(r, 2));
      if ((await space.get(id))?.content !== 'new') stale.push(id);
    }
    assert.deepEqual(stale, [], 'acknowledged updates read back old after a racing recall');
  } finally {
    await registry.close();
  }
});

test('a recalled cold memory is scored by the cold search every time, not from a hot copy', async () => {
  const registry = await Registry.open({
    dataRoot: await tempDir(),
    warmCapacity: 2,
    coldCapacity: 100,
  });
  try {
    await registry.createSpace('chilly', { embedder: 'hash' });
    const space = await registry.space('chilly');
    const words = ['apple banana', 'cherry date', 'elder fig', 'grape honeydew', 'kiwi lemon'];
    for (const [i, content] of words.entries()) await space.remember({ id: `m${i}`, content });
    await settled(space, (stats) => (stats.coldMemories ?? 0) >= 3);
    const [id] = (await space.list({ limit: 10, tier: 'cold' })).memories.map((m) => m.id);
    assert.ok(id, 'a memory was demoted to the cold tier');
    const text = words[Number(id.slice(1))]!;
    for (const mode of ['hybrid', 'lexical', 'hybrid'] as const) {
      const [hit] = await space.recall(text, { k: 1, mode, includeCold: true });
      assert.equal(hit?.memory.id, id, mode);
      assert.equal(hit.tier, 'cold', `${mode}: answered by the cold search`);
      if (mode === 'hybrid') {
        assert.ok(hit.parts.similarity !== undefined && hit.parts.similarity > 0.99, mode);
        assert.ok(hit.score > 0.9, `${mode} score ${hit.score}`);
      }
    }
  } finally {
    await registry.close();
  }
});

test('health and metrics report the measured pressure', async () => {
  const api = await testApi({}, { hotCapacity: 10 });
  const headers = { 'x-memory-space': 'pressured' };
  for (let i = 0; i < 3; i++)
    await api.call('POST', '/api/v1/memories/remember', {
      headers,
      body: { content: `note ${i}` },
    });
  await api.call('GET', '/api/v1/memories/recall?query=note&k=3', { headers });
  const health = await api.call('GET', '/api/v1/system/health?space=pressured');
  assert.equal(health.body.spaces[0].pressure, 0.3);
  const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, /engram_space_pressure\{space="pressured"\} 0\.3/);
});

test('listing by tier: hot lists the in-memory copies, warm the LMDB tier, cold the archive', async () => {
  const api = await testApi();
  const headers = { 'x-memory-space': 'tiers' };
  for (const content of ['alpha note', 'beta note', 'gamma entry']) {
    await api.call('POST', '/api/v1/memories/remember', { headers, body: { content } });
  }
  await api.call('GET', '/api/v1/memories/recall?query=note&k=2&mode=lexical', { headers });
  const hot = await api.call('GET', '/api/v1/memories?tier=hot', { headers });
  assert.deepEqual(hot.body.memories.map((m: { content: string }) => m.content).sort(), [
    'alpha note',
    'beta note',
  ]);
  const warm = await api.call('GET', '/api/v1/memories?tier=warm', { headers });
  assert.equal(warm.body.memories.length, 3);
  const cold = await api.call('GET', '/api/v1/memories?tier=cold', { headers });
  assert.equal(cold.status, 200);
  assert.deepEqual(cold.body.memories, []);
  assert.equal((await api.call('GET', '/api/v1/memories?tier=lukewarm', { headers })).status, 400);
  const described = await api.call('GET', '/api/v1/spaces/tiers');
  assert.deepEqual(described.body.tiers, { hot: 2, warm: 3, cold: 0 });
  assert.equal(described.body.embedder, 'hash');
});
