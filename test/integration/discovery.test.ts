/**
 * Start-up discovery: the registry only lists the data root (one readdir, one stat per entry).
 * It opens no space, replays no log and writes nothing into a space; it skips (and reports)
 * directories that are not spaces, and finishes removing what an interrupted create (.tmp-*)
 * or delete (.trash) left behind.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry, isEngramError } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SPACES = 10_000;

/** Runs `fn` over `items` with at most `width` calls in flight. */
async function inBatches<T>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += width)
    await Promise.all(items.slice(i, i + width).map(fn));
}

/** The entries of a space directory the engine created and never opened. */
const UNOPENED = ['index', 'space.json', 'wal'];

test('ten thousand spaces are discovered at start without opening any of them', async (t) => {
  const dataRoot = await tempDir('engram-discovery-');
  const ids = Array.from({ length: SPACES }, (_, i) => `space-${String(i).padStart(5, '0')}`);

  // One space made by the engine is the template; the others are copies with their own id.
  let registry = await Registry.open({ dataRoot });
  await registry.createSpace(ids[0]!);
  await registry.close();
  const templateDir = join(dataRoot, ids[0]!);
  assert.deepEqual((await readdir(templateDir)).sort(), UNOPENED, 'createSpace opens nothing');
  const meta = JSON.parse(await readFile(join(templateDir, 'space.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(meta.id, ids[0]);
  const copyStarted = performance.now();
  await inBatches(ids.slice(1), 200, async (id) => {
    const dir = join(dataRoot, id);
    await mkdir(join(dir, 'wal'), { recursive: true });
    await mkdir(join(dir, 'index'));
    await writeFile(join(dir, 'space.json'), `${JSON.stringify({ ...meta, id }, null, 2)}\n`);
  });
  t.diagnostic(
    `made ${SPACES} space directories in ${Math.round(performance.now() - copyStarted)} ms`,
  );
  const metaMtimes = new Map<string, number>();
  await inBatches(ids, 200, async (id) => {
    metaMtimes.set(id, (await stat(join(dataRoot, id, 'space.json'))).mtimeMs);
  });

  const openStarted = performance.now();
  registry = await Registry.open({ dataRoot });
  try {
    t.diagnostic(
      `Registry.open took ${Math.round(performance.now() - openStarted)} ms, discovery reports ${registry.discovery.ms} ms`,
    );
    assert.equal(registry.discovery.spaces, SPACES);
    assert.deepEqual(registry.discovery.skipped, []);

    const listed = await registry.listSpaces({ counts: false });
    assert.equal(listed.length, SPACES);
    assert.deepEqual(
      listed.map((s) => s.id),
      ids,
    );
    const notClosed = listed.filter((s) => s.state !== 'closed' || s.memories !== null);
    assert.deepEqual(notClosed, [], 'every space is listed closed, without a count');

    // Discovery and listing touched no space: no LMDB environment, no log segment, no snapshot,
    // and space.json was not rewritten.
    const touched: string[] = [];
    await inBatches(ids, 200, async (id) => {
      const dir = join(dataRoot, id);
      const entries = (await readdir(dir)).sort();
      const wal = await readdir(join(dir, 'wal'));
      const index = await readdir(join(dir, 'index'));
      const mtime = (await stat(join(dir, 'space.json'))).mtimeMs;
      if (
        entries.join() !== UNOPENED.join() ||
        wal.length > 0 ||
        index.length > 0 ||
        mtime !== metaMtimes.get(id)
      ) {
        touched.push(
          `${id}: ${entries.join(',')} wal=[${wal.join(',')}] index=[${index.join(',')}]`,
        );
      }
    });
    assert.deepEqual(touched, [], 'discovery opened or wrote spaces');

    // A copied space is a real space: the first call opens that one, and only that one.
    const one = await registry.space('space-04242');
    await one.remember({ id: 'm', content: 'hello from a copy', vector: [1, 2, 3] });
    assert.equal((await one.get('m'))?.content, 'hello from a copy');
    const open = (await registry.listSpaces({ counts: false })).filter((s) => s.state !== 'closed');
    assert.deepEqual(
      open.map((s) => [s.id, s.state]),
      [['space-04242', 'open']],
    );
  } finally {
    await registry.close();
  }
  const withWarm = ids.filter((id) => existsSync(join(dataRoot, id, 'warm')));
  assert.deepEqual(withWarm, ['space-04242'], 'only the space that was used has a warm tier');
});

test('a directory with an invalid name or without space.json is reported as skipped and left alone', async () => {
  const dataRoot = await tempDir('engram-discovery-');
  let registry = await Registry.open({ dataRoot });
  await registry.createSpace('good-space');
  await (await registry.space('good-space')).remember({ id: 'm', content: 'kept' });
  await registry.createSpace('template');
  await registry.close();
  const template = join(dataRoot, 'template');

  // Complete spaces under names the rule refuses, and valid names that hold no space.
  await cp(template, join(dataRoot, 'Bad Name'), { recursive: true });
  await cp(template, join(dataRoot, 'UPPER'), { recursive: true });
  await cp(template, join(dataRoot, 'ab'), { recursive: true });
  await mkdir(join(dataRoot, 'no-meta', 'wal'), { recursive: true });
  await writeFile(join(dataRoot, 'stray-file'), 'not a directory');
  await writeFile(join(dataRoot, 'notes.txt'), 'not a space either');
  const before = (await readdir(dataRoot)).sort();

  registry = await Registry.open({ dataRoot });
  try {
    assert.equal(registry.discovery.spaces, 2);
    assert.deepEqual(
      [...registry.discovery.skipped].sort((a, b) => (a.name < b.name ? -1 : 1)),
      [
        { name: 'Bad Name', reason: 'name is not a valid space id' },
        { name: 'UPPER', reason: 'name is not a valid space id' },
        { name: 'ab', reason: 'name is not a valid space id' },
        { name: 'no-meta', reason: 'no space.json' },
        { name: 'notes.txt', reason: 'name is not a valid space id' },
        { name: 'stray-file', reason: 'no space.json' },
      ],
    );
    assert.deepEqual(
      (await registry.listSpaces({ counts: false })).map((s) => s.id),
      ['good-space', 'template'],
    );
    await assert.rejects(registry.space('no-meta'), (error: unknown) =>
      isEngramError(error, 'ENG_SPACE_NOT_FOUND'),
    );
    await assert.rejects(registry.space('stray-file'), (error: unknown) =>
      isEngramError(error, 'ENG_SPACE_NOT_FOUND'),
    );
    assert.equal((await (await registry.space('good-space')).get('m'))?.content, 'kept');
  } finally {
    await registry.close();
  }
  // Skipped entries are not the engine's to remove.
  assert.deepEqual((await readdir(dataRoot)).sort(), before);
});

test('leftovers of an interrupted create (.tmp-*) and delete (.trash) are removed and never listed', async () => {
  const dataRoot = await tempDir('engram-discovery-');
  let registry = await Registry.open({ dataRoot });
  for (const id of ['alive', 'half', 'gone']) {
    await registry.createSpace(id);
    await (
      await registry.space(id)
    ).remember({ id: 'm', content: `memory of ${id}`, vector: [1, 0] });
  }
  await registry.close();

  // A create that crashed before its rename leaves a complete directory under a temp name; one
  // that crashed earlier leaves an empty one. A delete that crashed after its rename leaves the
  // space in .trash.
  await rename(join(dataRoot, 'half'), join(dataRoot, '.tmp-half-1a2b3c4d'));
  await mkdir(join(dataRoot, '.tmp-early-00000000'));
  await cp(join(dataRoot, 'alive'), join(dataRoot, '.tmp-alive-deadbeef'), { recursive: true });
  await mkdir(join(dataRoot, '.trash'));
  await rename(join(dataRoot, 'gone'), join(dataRoot, '.trash', `gone-${Date.now()}-0badf00d`));

  registry = await Registry.open({ dataRoot });
  try {
    assert.equal(registry.discovery.spaces, 1);
    assert.deepEqual(registry.discovery.skipped, []);
    assert.deepEqual(
      (await registry.listSpaces()).map((s) => [s.id, s.memories]),
      [['alive', 1]],
    );
    for (const id of ['half', 'gone', 'early']) {
      await assert.rejects(registry.space(id), (error: unknown) =>
        isEngramError(error, 'ENG_SPACE_NOT_FOUND'),
      );
    }
    // The leftover copy of "alive" does not stand in for it, and the id of a leftover is free.
    assert.equal((await (await registry.space('alive')).get('m'))?.content, 'memory of alive');
    assert.deepEqual(await registry.createSpace('half'), { id: 'half', created: true });
    assert.equal(await (await registry.space('half')).get('m'), undefined);
  } finally {
    await registry.close();
  }
  const left = (await readdir(dataRoot)).filter((name) => name.startsWith('.'));
  assert.deepEqual(left, [], 'leftovers are gone once the registry closed');

  registry = await Registry.open({ dataRoot });
  try {
    assert.deepEqual(
      (await registry.listSpaces()).map((s) => [s.id, s.memories]),
      [
        ['alive', 1],
        ['half', 0],
      ],
    );
  } finally {
    await registry.close();
  }
});
