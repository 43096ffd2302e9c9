/**
 * The cold tier of the embedded backend, end to end through the Registry: demotion past
 * warm_capacity by activation, recall that searches cold (asked for, or as a fallback) and
 * promotes what it returns, reads and writes of cold memories, restart, stats and capacity.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry, type SpaceHandle } from '../../engine/index.ts';
import { testApi } from '../helpers/http.ts';
import { settled } from '../helpers/settled.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const DIM = 16;
const random = seededRandom(7);
const vectors = new Map<string, Float32Array>();
const vectorOf = (id: string): Float32Array => {
  let v = vectors.get(id);
  if (!v) vectors.set(id, (v = randomVector(random, DIM)));
  return v;
};

async function ids(space: SpaceHandle, tier?: 'warm' | 'cold'): Promise<string[]> {
  const page = await space.list({ limit: 1000, ...(tier ? { tier } : {}) });
  return page.memories.map((m) => m.id);
}

async function store(space: SpaceHandle, id: string): Promise<void> {
  await space.remember({
    id,
    content: `memory ${id} `.repeat(20),
    vector: vectorOf(id),
    tags: ['t'],
  });
}

test('the cold tier: demotion by activation, recall, promotion, reads, writes, restart, stats', async () => {
  const dataRoot = await tempDir();
  const options = { dataRoot, warmCapacity: 10, coldCapacity: 100, accessFlushMs: 10 };
  let registry = await Registry.open(options);
  try {
    await registry.createSpace('chilly');
    let space = await registry.space('chilly');
    for (let i = 0; i < 10; i++) await store(space, `m${i}`);
    await settled(space, () => true);
    for (let i = 0; i < 5; i++) {
      const [hit] = await space.recall(vectorOf(`m${i}`), { k: 1 });
      assert.equal(hit?.memory.id, `m${i}`);
    }
    for (let i = 10; i < 15; i++) await store(space, `m${i}`);
    // Past 10 warm memories the job demotes down to 9, least activated first (never recalled,
    // oldest first). It may run before the last stores, so 5 or 6 end up cold.
    await settled(space, (s) => s.warmMemories! <= 10 && s.coldMemories! >= 5);
    const cold = await ids(space, 'cold');
    for (const id of ['m5', 'm6', 'm7', 'm8', 'm9'])
      assert.ok(cold.includes(id), `${id} is cold: ${cold.join()}`);
    for (const id of ['m0', 'm1', 'm2', 'm3', 'm4']) assert.ok(!cold.includes(id), `${id} is warm`);
    assert.equal((await ids(space)).length, 15, 'the default listing has every live memory');
    assert.equal((await ids(space, 'warm')).length, 15 - cold.length);
    let stats = await space.stats();
    assert.equal(stats.memories, 15);
    assert.equal(stats.warmMemories, 15 - cold.length);
    assert.equal(stats.coldMemories, cold.length);
    assert.equal(stats.warmCapacity, 10);
    assert.equal(stats.coldCapacity, 100);
    assert.ok(stats.coldBytes! > 0);
    assert.equal(stats.pressure, (15 - cold.length) / 10, 'pressure is the fullest tier: warm');

    // A cold memory reads back intact, its vector dequantized (close, not equal).
    const m9 = await space.get('m9');
    assert.equal(m9?.content, `memory m9 `.repeat(20));
    assert.deepEqual(m9?.tags, ['t']);
    const v9 = await space.getVector('m9');
    assert.ok(v9 && v9.every((x, i) => Math.abs(x - vectorOf('m9')[i]!) < 0.02));

    // Not asked for and warm has k hits: cold is not searched.
    const [plain] = await space.recall(vectorOf('m7'), { k: 1 });
    assert.notEqual(plain?.memory.id, 'm7');
    // Asked for: found in cold, then promoted back to warm.
    const [found] = await space.recall(vectorOf('m7'), { k: 1, includeCold: true });
    assert.equal(found?.memory.id, 'm7');
    assert.equal(found.tier, 'cold');
    assert.ok(found.parts.similarity! > 0.99);
    // Fallback: warm has nothing above the threshold, so cold is searched.
    const [fallback] = await space.recall(vectorOf('m8'), { k: 1, threshold: 0.9 });
    assert.equal(fallback?.memory.id, 'm8');
    assert.equal(fallback.tier, 'cold');
    // Text recall reaches cold memories too (they stay in the lexical index).
    const lexical = await space.recall('m6', { k: 1, mode: 'lexical', includeCold: true });
    assert.equal(lexical[0]?.memory.id, 'm6');
    assert.equal(lexical[0]?.tier, 'cold');
    // Promotion runs in the background; it pushes warm past its capacity again, so the least
    // activated go back to cold while the recalled ones stay warm.
    for (let i = 0; i < 500; i++) {
      const warmNow = await ids(space, 'warm');
      if (['m6', 'm7', 'm8'].every((id) => warmNow.includes(id))) break;
      assert.ok(i < 499, `m6, m7 and m8 promoted: warm is ${warmNow.join()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await settled(space, (s) => s.warmMemories! <= 10 && s.coldMemories! >= 5);
    for (const id of ['m6', 'm7', 'm8']) assert.ok((await ids(space, 'warm')).includes(id));
    const [c0, c1, c2] = await ids(space, 'cold');
    assert.ok(c0 && c1 && c2);

    // Writes to cold memories: update promotes, forget deletes, suppress hides.
    await space.associate(c2, 'm0', 0.5);
    assert.deepEqual(await space.associations(c2), [{ to: 'm0', weight: 0.5 }]);
    const updated = await space.update(c0, { confidence: 0.2 });
    assert.equal(updated.confidence, 0.2);
    await space.forget(c1, { mode: 'suppress' });
    await settled(space, () => true);
    assert.equal((await space.get(c0))?.confidence, 0.2);
    assert.equal((await space.get(c1))?.suppressed, true);
    assert.equal(await space.forget(c2), true);
    assert.equal(await space.get(c2), undefined);
    await settled(space, () => true);
    assert.ok(!(await ids(space)).includes(c2));
    const hidden = await space.recall(vectorOf(c1), { k: 3, includeCold: true });
    assert.ok(!hidden.some((h) => h.memory.id === c1), 'suppressed stays hidden');
    stats = await space.stats();
    assert.equal(stats.memories, 14);
    assert.equal(stats.warmMemories! + stats.coldMemories!, 14);

    // Restart: every memory in the tier it was in, intact.
    const before = { warm: await ids(space, 'warm'), cold: await ids(space, 'cold') };
    await registry.close();
    registry = await Registry.open(options);
    space = await registry.space('chilly');
    await settled(space, () => true);
    const after = { warm: await ids(space, 'warm'), cold: await ids(space, 'cold') };
    // The promotions above may have pushed warm past capacity again and demoted more.
    assert.deepEqual(
      [...after.warm, ...after.cold].sort(),
      [...before.warm, ...before.cold].sort(),
    );
    for (const id of after.cold)
      assert.equal((await space.get(id))?.content, `memory ${id} `.repeat(20));
    const [again] = await space.recall(vectorOf(after.cold[0]!), { k: 1, includeCold: true });
    assert.equal(again?.memory.id, after.cold[0]);
  } finally {
    await registry.close();
  }
});

test('with warm and cold both full, a new memory is refused and nothing is dropped', async () => {
  const registry = await Registry.open({
    dataRoot: await tempDir(),
    warmCapacity: 3,
    coldCapacity: 2,
  });
  try {
    await registry.createSpace('full');
    const space = await registry.space('full');
    for (let i = 0; i < 5; i++) await store(space, `f${i}`);
    await settled(space, (s) => s.coldMemories === 2);
    await assert.rejects(store(space, 'f5'), { code: 'ENG_SPACE_FULL' });
    await store(space, 'f1'); // replacing a memory takes no room
    assert.equal((await space.stats()).memories, 5);
    await space.forget('f0');
    await settled(space, () => true);
    await store(space, 'f5');
    await settled(space, () => true);
    assert.equal((await ids(space)).length, 5);
  } finally {
    await registry.close();
  }
});

test('a cold segment record damaged on disk quarantines the space with ENG_COLD_CORRUPT', async () => {
  const dataRoot = await tempDir();
  let registry = await Registry.open({ dataRoot, warmCapacity: 2 });
  try {
    await registry.createSpace('flip');
    const space = await registry.space('flip');
    for (let i = 0; i < 4; i++) await store(space, `x${i}`);
    await settled(space, (s) => (s.coldMemories ?? 0) > 0);
  } finally {
    await registry.close();
  }
  const dir = join(dataRoot, 'flip', 'cold');
  const [segment] = (await readdir(dir)).filter((n) => n.endsWith('.seg'));
  const bytes = await readFile(join(dir, segment!));
  bytes[40] = bytes[40]! ^ 0x01;
  await writeFile(join(dir, segment!), bytes);
  registry = await Registry.open({ dataRoot, warmCapacity: 2 });
  try {
    await assert.rejects((async () => (await registry.space('flip')).stats())(), (error: Error) =>
      /Cold record/.test(error.message),
    );
    const [summary] = await registry.listSpaces();
    assert.equal(summary?.state, 'quarantined');
    assert.match(summary?.reason ?? '', /checksum mismatch/);
  } finally {
    await registry.close();
  }
});

test('HTTP: include_cold recall, tier=cold listing and tier counts in the space description', async () => {
  const api = await testApi({}, { warmCapacity: 2 });
  const headers = { 'x-memory-space': 'http-cold' };
  for (const id of ['h0', 'h1', 'h2', 'h3'])
    await api.call('POST', '/api/v1/memories/remember', {
      headers,
      body: { id, content: `a note about topic ${id}` },
    });
  const space = await api.registry.space('http-cold');
  await settled(space, (s) => s.coldMemories! >= 2);
  const cold = await api.call('GET', '/api/v1/memories?tier=cold', { headers });
  assert.equal(cold.status, 200);
  const coldIds = cold.body.memories.map((m: { id: string }) => m.id);
  assert.ok(coldIds.length >= 2);
  const recalled = await api.call('POST', '/api/v1/memories/recall', {
    headers,
    body: { query: `a note about topic ${coldIds[0]}`, k: 1, include_cold: true },
  });
  assert.equal(recalled.status, 200);
  assert.equal(recalled.body.memories[0].id, coldIds[0]);
  assert.equal(recalled.body.memories[0].tier, 'cold');
  const query = encodeURIComponent(`a note about topic ${coldIds[1]}`);
  const byGet = await api.call(
    'GET',
    `/api/v1/memories/recall?query=${query}&k=1&include_cold=true`,
    { headers },
  );
  assert.equal(byGet.body.memories[0].id, coldIds[1]);
  const described = await api.call('GET', '/api/v1/spaces/http-cold');
  assert.equal(described.body.tiers.warm + described.body.tiers.cold, 4);
  assert.equal(described.body.warm_capacity, 2);
});

test('dedup and auto-link also find cold memories', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir(), warmCapacity: 2 });
  try {
    await registry.createSpace('dedup-cold', { settings: { dedupThreshold: 0.99 } });
    const space = await registry.space('dedup-cold');
    for (let i = 0; i < 5; i++) await store(space, `d${i}`);
    await settled(space, (s) => s.coldMemories! >= 3);
    const [coldId] = await ids(space, 'cold');
    const merged = await space.remember({ content: 'same again', vector: vectorOf(coldId!) });
    assert.equal(merged.deduplicated, true);
    assert.equal(merged.id, coldId);
    assert.equal((await space.stats()).memories, 5);
  } finally {
    await registry.close();
  }
});
