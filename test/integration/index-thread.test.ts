/**
 * The HNSW graphs run on an index thread (engine/vector/index-host.ts). A memory must be
 * recallable from the moment its write is acknowledged, whether its insert on that thread is
 * queued, running or done, and a search must never return one twice. Checkpoints snapshot the
 * graph from the thread, and a reopen loads that snapshot there again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const DIMENSION = 32;

test('every acknowledged write is recalled at once, exactly once, while the index thread lags', async () => {
  const dataRoot = await tempDir();
  // A small apply batch keeps inserts queued on the thread while writes and recalls go on.
  const registry = await Registry.open({ dataRoot, durability: 'none', applyBatchRecords: 50 });
  try {
    await registry.createSpace('lagging', { dimension: DIMENSION });
    const space = await registry.space('lagging');
    const random = seededRandom(11);
    let next = 0;
    let laggedChecks = 0;
    const writer = async (): Promise<void> => {
      while (next < 3000) {
        const i = next++;
        const vector = randomVector(random, DIMENSION);
        await space.remember({ id: `m${i}`, content: `memory ${i}`, vector });
        if (i % 7 !== 0) continue;
        if ((await space.stats()).indexedLsn < i) laggedChecks += 1;
        const hits = await space.recall(vector, { k: 3 });
        assert.equal(hits[0]?.memory.id, `m${i}`, `m${i} recalled right after its ack`);
        const ids = hits.map((hit) => hit.memory.id);
        assert.equal(new Set(ids).size, ids.length, `no memory twice: ${ids.join(',')}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
    // The point of the test: some checks ran while the thread had not indexed the write yet.
    assert.ok(laggedChecks > 0, 'some recalls ran before the index caught up');
    const stats = await space.stats();
    assert.equal(stats.memories, 3000);
  } finally {
    await registry.close();
  }
});

test('a checkpoint snapshots the graph from the index thread and a reopen loads it there', async () => {
  const dataRoot = await tempDir();
  const random = seededRandom(12);
  const vectors = Array.from({ length: 400 }, () => randomVector(random, DIMENSION));
  const first = await Registry.open({ dataRoot, indexSnapshotEveryRecords: 100, indexThreads: 2 });
  await first.createSpace('snapped', { dimension: DIMENSION });
  const space = await first.space('snapped');
  for (const [i, vector] of vectors.entries())
    await space.remember({ id: `m${i}`, content: `memory ${i}`, vector });
  await first.close();

  const second = await Registry.open({ dataRoot, indexThreads: 2 });
  try {
    const reopened = await second.space('snapped');
    const stats = await reopened.stats();
    assert.ok(stats.snapshotLsn >= 400, `snapshot covers the writes (LSN ${stats.snapshotLsn})`);
    for (const i of [0, 137, 399]) {
      const hits = await reopened.recall(vectors[i]!, { k: 1 });
      assert.equal(hits[0]?.memory.id, `m${i}`);
    }
    await reopened.forget('m137');
    const after = await reopened.recall(vectors[137]!, { k: 3 });
    assert.ok(!after.some((hit) => hit.memory.id === 'm137'), 'a forgotten memory is not recalled');
  } finally {
    await second.close();
  }
});

test('a memory promoted from the cold tier is recalled while the thread inserts it', async () => {
  const dataRoot = await tempDir();
  // A warm capacity of 20 keeps most of the 200 memories cold: every recall below promotes one
  // (its insert goes to the thread) and pushes another one out (a demotion, a delete there).
  const registry = await Registry.open({
    dataRoot,
    durability: 'none',
    warmCapacity: 20,
    accessFlushMs: 20,
  });
  try {
    await registry.createSpace('promoting', { dimension: DIMENSION });
    const space = await registry.space('promoting');
    const random = seededRandom(13);
    const vectors = Array.from({ length: 200 }, () => randomVector(random, DIMENSION));
    for (const [i, vector] of vectors.entries())
      await space.remember({ id: `m${i}`, content: `memory ${i}`, vector });
    let promotedChecks = 0;
    for (const [i, vector] of vectors.entries()) {
      // Whatever tier the memory is in, and whether its move is queued, running or done, it is
      // its own nearest memory.
      for (let check = 0; check < 6; check++) {
        const [hit] = await space.recall(vector, { k: 1, includeCold: true });
        assert.equal(hit?.memory.id, `m${i}`, `m${i} recalled (check ${check})`);
        if (check > 0 && hit?.tier !== 'cold') promotedChecks += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    assert.ok(promotedChecks > 0, 'some memories were recalled again after their promotion');
    const { coldMemories } = await space.stats();
    assert.ok((coldMemories ?? 0) > 0, 'the cold tier was in use throughout');
  } finally {
    await registry.close();
  }
});
