/**
 * Backups end to end over the HTTP API on a real registry: a backup taken while writes go on
 * restores to exactly the source's state at the backup's LSN (every field, vectors included);
 * restores refuse to overwrite unless forced; damaged files are refused before anything is
 * restored; backup names that could reach outside the backup directory are refused.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { open } from 'lmdb';
import {
  BackupStore,
  Registry,
  restoreBackup,
  verifyBackup,
  verifyDataRoot,
  type SpaceId,
} from '../../engine/index.ts';
import { writeBackup } from '../../engine/backup/backup-writer.ts';
import { testApi } from '../helpers/http.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const api = await testApi({}, { durability: 'none' });
const { registry } = api;
const DIM = 8;
const random = seededRandom(7);
const vec = (): number[] => Array.from(randomVector(random, DIM));

async function rawPost(url: string, payload: Buffer, headers: Record<string, string> = {}) {
  const response = await api.app.inject({
    method: 'POST',
    url,
    payload,
    headers: { 'content-type': 'application/octet-stream', ...headers },
  });
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

async function download(name: string): Promise<Buffer> {
  const response = await api.app.inject({ method: 'GET', url: `/api/v1/backups/${name}` });
  assert.equal(response.statusCode, 200, response.body);
  return response.rawPayload;
}

/** Every memory of a space with everything a restore must keep, by id. */
async function dump(spaceId: string): Promise<Map<string, unknown>> {
  const space = await registry.space(spaceId);
  const out = new Map<string, unknown>();
  let after: string | undefined;
  for (;;) {
    const page = await space.list({ limit: 500, ...(after ? { after } : {}) });
    for (const memory of page.memories) {
      const { lsn: _lsn, ...rest } = memory;
      const vector = await space.getVector(memory.id);
      const links = (await space.associations(memory.id)).sort((a, b) => (a.to < b.to ? -1 : 1));
      out.set(memory.id, { ...rest, vector: vector ? Array.from(vector) : null, links });
    }
    if (!page.nextCursor) return out;
    after = page.nextCursor;
  }
}

async function seedSource(space: string): Promise<void> {
  await registry.createSpace(space, { dimension: DIM });
  const handle = await registry.space(space);
  await handle.remember({
    id: 'a',
    content: 'alpha',
    vector: vec(),
    tags: ['x'],
    metadata: { n: 1 },
  });
  await handle.remember({
    id: 'b',
    content: 'beta',
    vector: vec(),
    confidence: 0.3,
    memoryType: 'episodic',
    episode: { what: 'met', who: ['ann'], when: '2024-01-02T03:04:05Z' },
  });
  await handle.remember({ id: 'c', content: 'text only, no vector' });
  await handle.update('a', { content: 'alpha v2' });
  await handle.forget('b', { mode: 'suppress' });
  await handle.associate('a', 'b', 0.75);
  await handle.recall(new Float32Array(vec()), { k: 2 }); // access statistics travel too
}

test('a backup taken under concurrent writes restores to exactly the source at its LSN', async () => {
  await seedSource('source');
  const source = await registry.space('source');
  let writing = true;
  const acked: Array<{ id: string; lsn: number }> = [];
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const view = await source.remember({ id: `w-${i}`, content: `write ${i}`, vector: vec() });
      acked.push({ id: view.id, lsn: view.lsn });
    }
  })();
  while (acked.length < 50) await new Promise((resolve) => setTimeout(resolve, 5));
  const ackedBefore = acked.length;
  const created = await api.call('POST', '/api/v1/backups', {
    headers: { 'x-memory-space': 'source' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const afterBackup = acked.length;
  while (acked.length < afterBackup + 30) await new Promise((resolve) => setTimeout(resolve, 5));
  writing = false;
  await writer;

  const { backup } = created.body;
  assert.match(backup.name, /^source-\d{8}T\d{6}Z-[0-9a-f]{8}\.engram-backup$/);
  // Every write acknowledged before the backup was asked for is in it; later ones are not.
  const lsn: number = backup.lsn;
  assert.ok(acked[ackedBefore - 1]!.lsn <= lsn);
  assert.ok(
    acked.some((w) => w.lsn > lsn),
    'writes went on after the snapshot',
  );

  const restored = await api.call('POST', `/api/v1/backups/${backup.name}/restore`, {
    body: { as: 'restored' },
  });
  assert.equal(restored.status, 200, JSON.stringify(restored.body));
  assert.equal(restored.body.memory_space, 'restored');
  assert.equal(restored.body.unresolved_associations, 0);

  const expected = await dump('source');
  for (const w of acked) if (w.lsn > lsn) expected.delete(w.id);
  const actual = await dump('restored');
  assert.equal(actual.size, expected.size);
  assert.equal(restored.body.memories, expected.size);
  assert.deepEqual(actual, expected);
  // The restored space recalls the same as the source (over the same memories).
  const query = new Float32Array(vec());
  const ids = async (space: string) =>
    (
      await (
        await registry.space(space)
      ).recall(query, { k: 3, includeSuppressed: true, filter: { tags: ['x'] } })
    ).map((h) => h.memory.id);
  assert.deepEqual(await ids('restored'), await ids('source'));
});

test('restore refuses an existing space unless forced, and lists the backup', async () => {
  await seedSource('keep');
  const { body } = await api.call('POST', '/api/v1/backups?space=keep');
  const name: string = body.backup.name;
  const listed = await api.call('GET', '/api/v1/backups');
  assert.ok(listed.body.backups.some((b: any) => b.name === name && b.space === 'keep'));

  const refused = await api.call('POST', `/api/v1/backups/${name}/restore`, { body: {} });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'ENG_SPACE_EXISTS');
  await (await registry.space('keep')).remember({ id: 'late', content: 'after the backup' });

  const forced = await api.call('POST', `/api/v1/backups/${name}/restore`, {
    body: { force: true },
  });
  assert.equal(forced.status, 200, JSON.stringify(forced.body));
  assert.equal(forced.body.replaced, true);
  assert.equal(await (await registry.space('keep')).get('late'), undefined);
  assert.equal((await (await registry.space('keep')).get('a'))?.content, 'alpha v2');

  // Upload restore (what `engram backup restore FILE` does) under a new id.
  const bytes = await download(name);
  const uploaded = await rawPost('/api/v1/backups/restore?as=uploaded', bytes);
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  assert.equal(uploaded.body.memories, 3);
});

test('a corrupted or truncated backup is refused with a clear message, restoring nothing', async () => {
  await seedSource('fragile');
  const { body } = await api.call('POST', '/api/v1/backups', { body: { memory_space: 'fragile' } });
  const bytes = await download(body.backup.name);
  const dir = await tempDir();

  const flipped = Buffer.from(bytes);
  flipped[bytes.length - 60]! ^= 0x01; // inside the last frame
  const flippedPath = join(dir, 'flipped.engram-backup');
  await writeFile(flippedPath, flipped);
  await assert.rejects(verifyBackup(flippedPath), (error: any) => {
    assert.equal(error.code, 'ENG_BACKUP_CORRUPT');
    assert.match(error.message, /damaged at offset \d+ \(frame 2\): frame fails its checksum/);
    return true;
  });

  const header = Buffer.from(bytes);
  header[20]! ^= 0xff;
  const headerPath = join(dir, 'header.engram-backup');
  await writeFile(headerPath, header);
  await assert.rejects(verifyBackup(headerPath), /header fails its checksum/);

  for (const cut of [bytes.length - 1, bytes.length - 40, 100, 10]) {
    const path = join(dir, `cut-${cut}.engram-backup`);
    await writeFile(path, bytes.subarray(0, cut));
    await assert.rejects(verifyBackup(path), (error: any) => {
      assert.equal(error.code, 'ENG_BACKUP_CORRUPT');
      assert.match(error.message, /truncated|cut short|shorter/);
      return true;
    });
  }
  await assert.rejects(verifyBackup(join(dir, 'absent')), { code: 'ENG_BACKUP_NOT_FOUND' });

  const answer = await rawPost('/api/v1/backups/restore?as=broken', flipped);
  assert.equal(answer.status, 500);
  assert.equal(answer.body.error.code, 'ENG_BACKUP_CORRUPT');
  assert.match(answer.body.error.message, /frame 2/);
  assert.equal(registry.has('broken'), false);
  // The intact file still verifies: the damage checks can fail only on damage.
  const intact = join(dir, 'intact.engram-backup');
  await writeFile(intact, bytes);
  assert.equal((await verifyBackup(intact)).frames, 3);
  assert.deepEqual(await readFile(intact), bytes);
});

test('backup names that could leave the backup directory are refused', async () => {
  const store = new BackupStore(registry.options.dataRoot);
  const valid = 'default-20240101T000000Z-deadbeef.engram-backup';
  for (const name of [
    '..',
    '../engram.lock',
    'a/b',
    'x\u0000.engram-backup',
    'z'.repeat(10_000),
    `${valid}\u0000`,
    // Unicode look-alikes of a valid name: Cyrillic a, fullwidth and division slashes.
    valid.replace('a', '\u0430'),
    `..\uFF0F${valid}`,
    `..\u2215${valid}`,
  ]) {
    await assert.rejects(store.path(name), { code: 'ENG_BACKUP_NAME_INVALID' });
  }
  for (const url of [
    '/api/v1/backups/..',
    '/api/v1/backups/..%2Fengram.lock',
    '/api/v1/backups/%2E%2E',
    '/api/v1/backups/default-20240101T000000Z-deadbeef.engram-backup%00',
    '/api/v1/backups/def%D0%B0ult-20240101T000000Z-deadbeef.engram-backup',
    '/api/v1/backups/..%EF%BC%8Fengram.lock',
    '/api/v1/backups/..%E2%88%95engram.lock',
    `/api/v1/backups/${'a'.repeat(10_000)}`,
  ]) {
    const answer = await api.call('GET', url);
    assert.ok(
      [400, 404, 414].includes(answer.status),
      `${url.slice(0, 60)} answered ${answer.status}`,
    );
    // 414: the router refuses a 10,000-character name before any handler runs.
    if (answer.status !== 414) assert.notEqual(answer.body?.error?.code, undefined);
    const restore = await api.call('POST', `${url}/restore`, { body: {} });
    assert.ok(
      [400, 404, 414].includes(restore.status),
      `${url.slice(0, 60)} restore answered ${restore.status}`,
    );
  }
  const missing = await api.call(
    'GET',
    '/api/v1/backups/default-20240101T000000Z-deadbeef.engram-backup',
  );
  assert.equal(missing.body.error.code, 'ENG_BACKUP_NOT_FOUND');
  const bad = await api.call('GET', '/api/v1/backups/..%2Fengram.lock');
  assert.equal(bad.body.error.code, 'ENG_BACKUP_NAME_INVALID');
});

test('the backup directory is not a space: discovery neither lists nor warns about it', async () => {
  const root = await tempDir();
  const first = await Registry.open({ dataRoot: root });
  await first.createSpace('kept', { dimension: DIM });
  await new BackupStore(root).create(await first.space('kept'));
  await first.close();
  assert.ok(
    (await readdir(join(root, '.backups'))).some((name) => name.endsWith('.engram-backup')),
  );
  const again = await Registry.open({ dataRoot: root });
  after(() => again.close());
  assert.deepEqual(again.discovery.skipped, []);
  assert.deepEqual(
    (await again.listSpaces({ counts: false })).map((s) => s.id),
    ['kept'],
  );
});

test('a backup holds the memories demoted to the cold tier, and restores them', async () => {
  const small = await Registry.open({
    dataRoot: await tempDir(),
    durability: 'none',
    warmCapacity: 10,
  });
  const large = await Registry.open({ dataRoot: await tempDir(), durability: 'none' });
  after(async () => {
    await small.close();
    await large.close();
  });
  await small.createSpace('tiered', { dimension: DIM });
  const space = await small.space('tiered');
  for (let i = 0; i < 40; i++)
    await space.remember({
      id: `t-${String(i).padStart(2, '0')}`,
      content: `tiered ${i}`,
      vector: vec(),
    });
  for (let wait = 0; ((await space.stats()).coldMemories ?? 0) === 0 && wait < 400; wait++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  const cold = (await space.stats()).coldMemories ?? 0;
  assert.ok(cold > 0, 'some memories were demoted');
  const backup = await new BackupStore(small.options.dataRoot).create(space);
  assert.equal(backup.memories, 40);
  const report = await restoreBackup(large, join(small.options.dataRoot, '.backups', backup.name));
  assert.equal(report.memories, 40);
  const restored = await large.space('tiered');
  for (let i = 0; i < 40; i++) {
    const id = `t-${String(i).padStart(2, '0')}`;
    assert.equal((await restored.get(id))?.content, `tiered ${i}`);
    // A cold memory keeps an int8 copy of its vector: equal within the quantization step.
    const [got, want] = [await restored.getVector(id), await space.getVector(id)];
    const step = Math.max(...want!.map(Math.abs)) / 127;
    assert.ok(
      got!.every((v, j) => Math.abs(v - want![j]!) <= step),
      id,
    );
  }
  // Offline verify counts a demoted memory as stored (in the cold tier), not as missing.
  await small.close();
  const verified = await verifyDataRoot(small.options.dataRoot);
  assert.deepEqual(
    verified.spaces.flatMap((s) => s.damage),
    [],
  );
  assert.equal(verified.ok, true);
  // The tier counts are kept beside the tiers (capacity checks and stats read them): a kept
  // count that disagrees with what the tier holds is reported.
  const env = open({ path: join(small.options.dataRoot, 'tiered', 'warm'), maxDbs: 16 });
  const meta = env.openDB<number, string>({ name: 'meta', encoder: { moreTypes: true } } as {
    name: string;
  });
  const kept = meta.get('coldCount');
  assert.equal(typeof kept, 'number');
  await meta.put('coldCount', kept! + 5);
  await env.close();
  const tampered = await verifyDataRoot(small.options.dataRoot);
  assert.deepEqual(
    tampered.spaces.flatMap((s) => s.damage),
    [`the warm tier keeps a cold count of ${kept! + 5} but holds ${kept}`],
  );
});

/** A one-memory backup file written straight from a made-up snapshot. */
async function craftedBackup(options: { embedder?: string; confidence?: number }): Promise<string> {
  const path = join(await tempDir(), 'crafted.engram-backup');
  const now = Date.now();
  const memory = {
    record: {
      id: 'f',
      content: 'foreign',
      metadata: {},
      confidence: options.confidence ?? 0.5,
      memoryType: 'semantic' as const,
      tags: [],
      observedAt: now,
      suppressed: false,
      storedAt: now,
      updatedAt: now,
      hasVector: false,
    },
    vector: null,
    access: null,
    associations: [],
  };
  await writeBackup(
    {
      space: 'precious' as SpaceId,
      lsn: 1,
      createdAt: new Date(now).toISOString(),
      dimension: DIM,
      embedder: options.embedder ?? null,
      settings: {},
      memoryCount: 1,
      memories: () => [memory],
    },
    path,
  );
  return path;
}

test('a forced restore that fails leaves the existing space untouched and nothing half made', async () => {
  await registry.createSpace('precious', { dimension: DIM });
  await (await registry.space('precious')).remember({ id: 'p', content: 'keep me', vector: vec() });
  // The registry itself (staged restore) and a plain storage engine (restore in place).
  const plain = {
    createSpace: registry.createSpace.bind(registry),
    space: registry.space.bind(registry),
    deleteSpace: registry.deleteSpace.bind(registry),
    listSpaces: registry.listSpaces.bind(registry),
  };
  const foreign = await craftedBackup({ embedder: 'no-such-embedder' });
  const refused = await craftedBackup({ confidence: 7 });
  for (const engine of [registry, plain]) {
    await assert.rejects(restoreBackup(engine, foreign, { force: true }), /no-such-embedder/);
    await assert.rejects(restoreBackup(engine, refused, { force: true }), (error: any) => {
      assert.equal(error.code, 'ENG_BACKUP_CORRUPT');
      assert.match(error.message, /refuses \(frame 0\): confidence must be a number from 0 to 1/);
      return true;
    });
    await assert.rejects(restoreBackup(engine, refused, { as: 'never-made' }), {
      code: 'ENG_BACKUP_CORRUPT',
    });
    assert.equal(registry.has('never-made'), false);
    const space = await registry.space('precious').catch(() => undefined);
    if (engine === registry) assert.equal((await space!.get('p'))?.content, 'keep me');
  }
  const ids = (await registry.listSpaces({ counts: false })).map((s) => s.id);
  assert.ok(!ids.some((id) => id.startsWith('restore-check') || id === 'never-made'), ids.join());
  const leftovers = (await readdir(registry.options.dataRoot)).filter((n) => n.startsWith('.tmp-'));
  assert.deepEqual(leftovers, []);
});
