import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('recall counts as an access: counts and last access are visible, survive a restart, and raise activation', async () => {
  const dataRoot = await tempDir();
  let registry = await Registry.open({ dataRoot, accessFlushMs: 10 });
  await registry.createSpace('used');
  let space = await registry.space('used');
  await space.remember({ id: 'often', content: 'often recalled', vector: [1, 0, 0] });
  await space.remember({ id: 'never', content: 'never recalled', vector: [0, 1, 0] });
  assert.equal((await space.get('often'))?.accessCount, 0);
  assert.equal((await space.get('often'))?.lastAccess, null);
  const before = Date.now();
  let first = 0;
  for (let i = 0; i < 5; i++) {
    const [hit] = await space.recall([1, 0, 0], { k: 1 });
    if (i === 0) first = hit!.parts.activation;
    assert.equal(hit?.memory.id, 'often');
  }
  const [last] = await space.recall([1, 0, 0], { k: 1 });
  assert.ok(
    last!.parts.activation > first,
    `activation ${last!.parts.activation} after 5 recalls, ${first} before`,
  );
  const seen = await space.get('often');
  assert.equal(seen?.accessCount, 6);
  assert.ok(seen.lastAccess! >= before);
  assert.equal((await space.get('never'))?.accessCount, 0);
  await registry.close();

  registry = await Registry.open({ dataRoot });
  try {
    space = await registry.space('used');
    assert.equal((await space.get('often'))?.accessCount, 6);
    await space.forget('often');
    await space.remember({
      id: 'often',
      content: 'a new memory under the old id',
      vector: [1, 0, 0],
    });
    assert.equal(
      (await space.get('often'))?.accessCount,
      0,
      'a deleted memory takes its counts with it',
    );
  } finally {
    await registry.close();
  }
});

test('activation halves with each half-life without recall', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir(), activationHalfLifeMs: 1000 });
  try {
    await registry.createSpace('decay');
    const space = await registry.space('decay');
    await space.remember({ id: 'm', content: 'fading', vector: [1, 0] });
    const [fresh] = await space.recall([1, 0], { k: 1 });
    assert.ok(
      Math.abs(fresh!.parts.activation - 1) < 0.05,
      `fresh activation ${fresh!.parts.activation}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const [later] = await space.recall([1, 0], { k: 1 });
    // One recall since (count 1): (1 + ln 2) * 2^(-1.1 s / 1 s) ≈ 0.79; without it, about 0.47.
    const expected = (1 + Math.log(2)) * 2 ** (-(Date.now() - fresh!.memory.storedAt) / 1000);
    assert.ok(
      later!.parts.activation < 1,
      `activation ${later!.parts.activation} should have decayed`,
    );
    assert.ok(
      Math.abs(later!.parts.activation - expected) < 0.1,
      `activation ${later!.parts.activation}, expected about ${expected}`,
    );
  } finally {
    await registry.close();
  }
});

test('confidence weighs into the score: of two equally similar memories the trusted one ranks first', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir() });
  try {
    await registry.createSpace('trust');
    const space = await registry.space('trust');
    await space.remember({ id: 'a-doubtful', content: 'x', vector: [1, 1], confidence: 0.1 });
    await space.remember({ id: 'b-trusted', content: 'x', vector: [1, 1], confidence: 1 });
    const hits = await space.recall([1, 1], { k: 2 });
    assert.deepEqual(
      hits.map((h) => h.memory.id),
      ['b-trusted', 'a-doubtful'],
    );
    assert.ok(Math.abs(hits[0]!.score - 1) < 1e-6);
    assert.ok(Math.abs(hits[1]!.score - 0.73) < 1e-6);
    assert.deepEqual(
      hits.map((h) => h.parts.confidence),
      [1, 0.1],
    );
  } finally {
    await registry.close();
  }
});
