import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry, isEngramError } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('create is idempotent and says whether the space already existed', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir() });
  try {
    assert.deepEqual(await registry.createSpace(' notes '), { id: 'notes', created: true });
    assert.deepEqual(await registry.createSpace('notes'), { id: 'notes', created: false });
    const [first, second] = await Promise.all([
      registry.createSpace('twin'),
      registry.createSpace('twin'),
    ]);
    assert.deepEqual([first.created, second.created].sort(), [false, true]);
  } finally {
    await registry.close();
  }
});

test('max_spaces bounds how many spaces exist', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir(), maxSpaces: 2 });
  try {
    await registry.createSpace('one');
    await registry.createSpace('two');
    await assert.rejects(registry.createSpace('three'), (error: unknown) =>
      isEngramError(error, 'ENG_SPACE_LIMIT_REACHED'),
    );
    assert.equal((await registry.createSpace('two')).created, false);
  } finally {
    await registry.close();
  }
});

test('the same memory id in two spaces stays two memories', async () => {
  const dataRoot = await tempDir();
  let registry = await Registry.open({ dataRoot });
  await registry.createSpace('space-a');
  await registry.createSpace('space-b');
  const a = await registry.space('space-a');
  const b = await registry.space('space-b');
  await a.remember({ id: 'shared', content: 'from a', vector: [1, 0, 0] });
  await b.remember({ id: 'shared', content: 'from b', vector: [0, 1, 0] });
  await a.forget('shared');
  assert.equal(await a.get('shared'), undefined);
  assert.equal((await b.get('shared'))?.content, 'from b');
  await registry.close();

  registry = await Registry.open({ dataRoot });
  try {
    assert.equal(await (await registry.space('space-a')).get('shared'), undefined);
    const fromB = await registry.space('space-b');
    assert.equal((await fromB.get('shared'))?.content, 'from b');
    const hits = await fromB.recall([1, 0, 0], { k: 5 });
    assert.deepEqual(
      hits.map((h) => h.memory.content),
      ['from b'],
    );
  } finally {
    await registry.close();
  }
});

test('a second process cannot open a data root that a live one holds', async () => {
  const dataRoot = await tempDir();
  const registry = await Registry.open({ dataRoot });
  try {
    // The lock records the owner's pid; while it lives, every other opener is refused (this one included).
    await assert.rejects(Registry.open({ dataRoot }), (error: unknown) =>
      isEngramError(error, 'ENG_DATA_ROOT_LOCKED'),
    );
  } finally {
    await registry.close();
  }
  const again = await Registry.open({ dataRoot });
  await again.close();
});

test('at most max_open_spaces stay open; idle ones close and reopen on demand', async () => {
  const dataRoot = await tempDir();
  const registry = await Registry.open({ dataRoot, maxOpenSpaces: 2 });
  try {
    for (const id of ['s-1', 's-2', 's-3', 's-4']) {
      await registry.createSpace(id);
      await (
        await registry.space(id)
      ).remember({ id: 'm', content: `memory of ${id}`, vector: [1, 2, 3] });
    }
    const open = (await registry.listSpaces({ counts: false })).filter((s) => s.state === 'open');
    assert.ok(open.length <= 2, `${open.length} spaces open`);
    for (const id of ['s-1', 's-2', 's-3', 's-4']) {
      assert.equal((await (await registry.space(id)).get('m'))?.content, `memory of ${id}`);
    }
  } finally {
    await registry.close();
  }
});

test('the open-space limit counts right through deletes and reopens: exactly max_open_spaces stay open', async () => {
  const dataRoot = await tempDir();
  const registry = await Registry.open({ dataRoot, maxOpenSpaces: 2 });
  const ids = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5'];
  const openIds = async () =>
    (await registry.listSpaces({ counts: false }))
      .filter((s) => s.state === 'open')
      .map((s): string => s.id)
      .sort();
  const use = async (id: string) => (await registry.space(id)).get('m');
  try {
    for (const id of ids) {
      await registry.createSpace(id);
      await (await registry.space(id)).remember({ id: 'm', content: id, vector: [1, 2, 3] });
    }
    // Deleting an open space frees its place: two others can then be open together.
    await use('c-1');
    assert.ok((await openIds()).includes('c-1'));
    assert.equal(await registry.deleteSpace('c-1'), true);
    for (let round = 0; round < 3; round++) {
      for (const [a, b] of [
        ['c-2', 'c-3'],
        ['c-4', 'c-5'],
        ['c-3', 'c-5'],
      ] as const) {
        await use(a);
        await use(b);
        await use(a);
        await new Promise((resolve) => setTimeout(resolve, 20)); // closes finish
        assert.deepEqual(await openIds(), [a, b].sort(), `round ${round}: ${a} and ${b} open`);
      }
    }
  } finally {
    await registry.close();
  }
});

test('deleting a space removes it for good, and its id can be created again empty', async () => {
  const dataRoot = await tempDir();
  let registry = await Registry.open({ dataRoot });
  await registry.createSpace('doomed');
  await (await registry.space('doomed')).remember({ id: 'x', content: 'secret' });
  assert.equal(await registry.deleteSpace('doomed'), true);
  assert.equal(await registry.deleteSpace('doomed'), false);
  await assert.rejects(registry.space('doomed'), (error: unknown) =>
    isEngramError(error, 'ENG_SPACE_NOT_FOUND'),
  );
  await registry.close();
  assert.ok(!(await readdir(dataRoot)).includes('doomed'));

  registry = await Registry.open({ dataRoot });
  try {
    assert.deepEqual(
      (await registry.listSpaces()).map((s) => s.id),
      [],
    );
    await registry.createSpace('doomed');
    assert.equal(await (await registry.space('doomed')).get('x'), undefined);
  } finally {
    await registry.close();
  }
  assert.deepEqual((await readdir(join(dataRoot, '.trash')).catch(() => [])).length, 0);
});
