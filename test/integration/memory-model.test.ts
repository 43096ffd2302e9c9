import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, isEngramError, type SpaceHandle } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const code = (expected: string) => (error: unknown) =>
  isEngramError(error) && error.code === expected;

async function withSpace(
  fn: (space: SpaceHandle, reopen: () => Promise<SpaceHandle>) => Promise<void>,
  createOptions: { embedder?: string } = {},
): Promise<void> {
  const dataRoot = await tempDir();
  let registry = await Registry.open({ dataRoot });
  await registry.createSpace('model', createOptions);
  try {
    await fn(await registry.space('model'), async () => {
      await registry.close();
      registry = await Registry.open({ dataRoot });
      return registry.space('model');
    });
  } finally {
    await registry.close();
  }
}

test('every memory field is stored and returned, with documented defaults', async () => {
  await withSpace(async (space, reopen) => {
    const plain = await space.remember({ id: 'plain', content: 'a fact', vector: [1, 0, 0] });
    assert.equal(plain.confidence, 0.7);
    assert.equal(plain.memoryType, 'semantic');
    assert.deepEqual(plain.tags, []);
    assert.equal(plain.suppressed, false);
    assert.ok(Math.abs(plain.observedAt - Date.now()) < 5000);

    const full = await space.remember({
      id: 'full',
      content: 'met Ada at the lab',
      vector: [0, 1, 0],
      confidence: 0.95,
      memoryType: 'procedural',
      tags: ['people', 'lab', 'people'],
      observedAt: '2024-03-01T10:00:00Z',
      metadata: { source: 'chat' },
    });
    assert.deepEqual(full.tags, ['people', 'lab']);
    assert.equal(full.observedAt, Date.parse('2024-03-01T10:00:00Z'));

    const episode = await space.remember({
      id: 'ep',
      vector: [0, 0, 1],
      episode: {
        when: '2025-01-02T03:04:05Z',
        what: 'launched the probe',
        where: 'Kourou',
        who: ['Ana', 'Li'],
        why: 'science',
        how: 'rocket',
        importance: 0.9,
      },
    });
    assert.equal(episode.memoryType, 'episodic');
    assert.match(episode.content, /launched the probe/);
    assert.equal(episode.observedAt, Date.parse('2025-01-02T03:04:05Z'));

    const again = await reopen();
    const stored = await again.get('full');
    assert.equal(stored?.confidence, 0.95);
    assert.equal(stored.memoryType, 'procedural');
    assert.deepEqual(stored.tags, ['people', 'lab']);
    assert.deepEqual(stored.metadata, { source: 'chat' });
    assert.deepEqual((await again.get('ep'))?.episode, {
      when: Date.parse('2025-01-02T03:04:05Z'),
      what: 'launched the probe',
      where: 'Kourou',
      who: ['Ana', 'Li'],
      why: 'science',
      how: 'rocket',
      importance: 0.9,
    });
  });
});

test('out-of-range fields are refused with ENG_FIELD_INVALID naming the field', async () => {
  await withSpace(async (space) => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ confidence: 1.5 }, 'confidence'],
      [{ confidence: Number.NaN }, 'confidence'],
      [{ memoryType: 'dream' }, 'memory_type'],
      [{ tags: 'one' }, 'tags'],
      [{ tags: ['x'.repeat(65)] }, 'tags'],
      [{ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, 'tags'],
      [{ observedAt: 'yesterday' }, 'observed_at'],
      [{ observedAt: 1e20 }, 'observed_at'],
      [{ episode: { where: 'nowhere' } }, 'episode.what'],
      [{ episode: { what: 'x', importance: 2 } }, 'episode.importance'],
    ];
    for (const [fields, field] of bad) {
      await assert.rejects(
        space.remember({ content: 'x', vector: [1, 1, 1], ...fields }),
        (error: unknown) =>
          isEngramError(error, 'ENG_FIELD_INVALID') && error.details?.field === field,
        JSON.stringify(fields),
      );
    }
    assert.equal((await space.stats()).memories, 0);
  });
});

test('confidence, tags and metadata updates are durable; unknown update fields are refused', async () => {
  await withSpace(async (space, reopen) => {
    await space.remember({ id: 'm', content: 'x', vector: [1, 2, 3], tags: ['a'] });
    await space.update('m', { confidence: 0.2, tags: ['b', 'c'], metadata: { k: 1 } });
    await assert.rejects(
      space.update('m', { confidance: 0.3 } as never),
      code('ENG_FIELD_INVALID'),
    );
    const after = await (await reopen()).get('m');
    assert.equal(after?.confidence, 0.2);
    assert.deepEqual(after.tags, ['b', 'c']);
    assert.deepEqual(after.metadata, { k: 1 });
  });
});

test('a suppressed memory is hidden from recall unless asked for, stays readable, and stays suppressed after restart', async () => {
  await withSpace(async (space, reopen) => {
    await space.remember({ id: 'keep', content: 'kept', vector: [1, 0, 0] });
    await space.remember({ id: 'hide', content: 'hidden', vector: [1, 0.01, 0] });
    assert.equal(await space.forget('hide', { mode: 'suppress' }), true);
    const ids = async (s: SpaceHandle, includeSuppressed: boolean) =>
      (await s.recall([1, 0, 0], { k: 5, includeSuppressed })).map((h) => h.memory.id);
    assert.deepEqual(await ids(space, false), ['keep']);
    assert.deepEqual((await ids(space, true)).sort(), ['hide', 'keep']);
    const again = await reopen();
    assert.deepEqual(await ids(again, false), ['keep']);
    assert.equal((await again.get('hide'))?.suppressed, true);
    await again.update('hide', { suppressed: false });
    assert.deepEqual((await ids(again, false)).sort(), ['hide', 'keep']);
    await assert.rejects(
      again.forget('keep', { mode: 'vanish' as never }),
      code('ENG_QUERY_INVALID'),
    );
  });
});

test('recall filters by tags, memory type, time range, minimum confidence and threshold', async () => {
  await withSpace(async (space) => {
    const base = Date.parse('2024-01-01T00:00:00Z');
    for (let i = 0; i < 60; i++) {
      await space.remember({
        id: `m${String(i).padStart(2, '0')}`,
        content: `memory ${i}`,
        vector: [1, i / 60, (i % 7) / 7],
        tags: i % 3 === 0 ? ['three'] : i % 5 === 0 ? ['five', 'three'] : ['other'],
        memoryType: i % 2 === 0 ? 'episodic' : 'semantic',
        confidence: i / 60,
        observedAt: base + i * 86_400_000,
      });
    }
    const query = [1, 0.5, 0.5];
    const all = async (filter: object, extra: object = {}) =>
      space.recall(query, { k: 100, filter, ...extra });
    for (const hit of await all({ tags: ['three'] })) assert.ok(hit.memory.tags.includes('three'));
    assert.equal((await all({ tags: ['five', 'three'] })).length, 60 / 5 - 60 / 15);
    for (const hit of await all({ memoryTypes: ['episodic'] }))
      assert.equal(hit.memory.memoryType, 'episodic');
    const window = await all({
      observedAfter: base + 10 * 86_400_000,
      observedBefore: '2024-01-21T00:00:00Z',
    });
    assert.deepEqual(
      window.map((h) => h.memory.id).sort(),
      Array.from({ length: 11 }, (_, i) => `m${String(10 + i).padStart(2, '0')}`),
    );
    assert.equal((await all({ minConfidence: 0.5 })).length, 30);
    // A selective filter still fills k when enough memories match.
    const topThree = await space.recall(query, { k: 3, filter: { tags: ['five'] } });
    assert.equal(topThree.length, 3);
    const strict = await space.recall(query, { k: 100, threshold: 0.8 });
    assert.ok(strict.length > 0 && strict.length < 60, `${strict.length} hits above 0.8`);
    for (const hit of strict) assert.ok(hit.score >= 0.8);
    await assert.rejects(space.recall(query, { k: 1, threshold: 2 }), code('ENG_QUERY_INVALID'));
    await assert.rejects(
      space.recall(query, { k: 1, filter: { memoryTypes: ['dream' as never] } }),
      code('ENG_FIELD_INVALID'),
    );
  });
});

test('with the hash embedder, recall for "CRISPR" finds "CRISPR gene editing" in its space and nothing in another', async () => {
  const dataRoot = await tempDir();
  const registry = await Registry.open({ dataRoot });
  try {
    await registry.createSpace('biology', { embedder: 'hash' });
    await registry.createSpace('cooking', { embedder: 'hash' });
    const biology = await registry.space('biology');
    const cooking = await registry.space('cooking');
    await biology.remember({ id: 'crispr', content: 'CRISPR gene editing' });
    await biology.remember({ content: 'mitochondria make ATP' });
    await cooking.remember({ content: 'caramelise onions slowly' });
    const [top] = await biology.recall('CRISPR', { k: 1 });
    assert.equal(top?.memory.content, 'CRISPR gene editing');
    const elsewhere = await cooking.recall('CRISPR', { k: 5, threshold: 0.2 });
    assert.deepEqual(elsewhere, []);
    assert.ok(
      (await cooking.recall('CRISPR', { k: 5 })).every(
        (h) => h.memory.content !== 'CRISPR gene editing',
      ),
    );
    assert.equal((await biology.stats()).dimension, 384);
    await assert.rejects(
      biology.remember({ content: 'x', vector: [1, 2, 3] }),
      code('ENG_VECTOR_DIM_MISMATCH'),
    );
    await assert.rejects(
      registry.createSpace('nope', { embedder: 'word2vec' }),
      code('ENG_EMBEDDER_UNAVAILABLE'),
    );
  } finally {
    await registry.close();
  }
});

test('a failing embedder fails the write and stores nothing', async () => {
  const dataRoot = await tempDir();
  const failing = {
    name: 'broken',
    dimension: 4,
    embed: () => Promise.reject(new Error('model server down')),
  };
  const registry = await Registry.open({ dataRoot }, { embedders: { broken: () => failing } });
  try {
    await registry.createSpace('fragile', { embedder: 'broken' });
    const space = await registry.space('fragile');
    await assert.rejects(
      space.remember({ content: 'hello' }),
      (error: unknown) =>
        isEngramError(error, 'ENG_EMBEDDER_UNAVAILABLE') && /model server down/.test(error.message),
    );
    assert.equal((await space.stats()).memories, 0);
    // A client vector is always accepted, embedder or not.
    await space.remember({ id: 'v', content: 'hello', vector: [1, 2, 3, 4] });
    assert.equal((await space.stats()).memories, 1);
  } finally {
    await registry.close();
  }
});
