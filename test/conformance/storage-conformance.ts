/**
 * The StorageEngine / SpaceHandle conformance suite. Every backend runs the same tests by
 * passing a factory: the embedded LMDB registry in lmdb.test.ts today, PostgreSQL later.
 *
 * The suite only uses the public interface (engine/storage.ts). Where a backend applies writes
 * in the background (the embedded one: log -> memtable -> LMDB + HNSW), the tests that matter
 * run twice, once right after the writes and once after `settle()` (stats().pendingApply back
 * to 0), so both the freshly-written path and the applied path are held to the same contract.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ENGINE_DEFAULTS,
  isEngramError,
  type EngineOptions,
  type ErrorCode,
  type MemoryRecord,
  type SpaceHandle,
  type StorageEngine,
} from '../../engine/index.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

export type ConformanceLimits = Pick<
  EngineOptions,
  | 'maxContentBytes'
  | 'maxMetadataBytes'
  | 'maxMemoryIdChars'
  | 'maxDimensions'
  | 'maxK'
  | 'maxListLimit'
>;

export interface StorageEngineFactory {
  /** A new engine over new, empty storage (its own data root, database or schema). */
  open(): Promise<StorageEngine>;
  /**
   * Opens the storage of `previous` again. The suite has closed `previous` before calling this.
   * Leave it out when the backend cannot be reopened: the persistence tests are then skipped.
   */
  reopen?(previous: StorageEngine): Promise<StorageEngine>;
  /** The limits the engines were opened with; ENGINE_DEFAULTS when left out. */
  limits?: Partial<ConformanceLimits>;
}

/** How long a background apply may take before settle() gives up. */
const SETTLE_TIMEOUT_MS = 10_000;
/** Scores coming from a float32 index differ from a float64 cosine in the last bits. */
const SCORE_TOLERANCE = 1e-5;

// ---- helpers ------------------------------------------------------------------------------

export function rejectsWith(code: ErrorCode, message?: RegExp): (error: unknown) => true {
  return (error: unknown) => {
    assert.ok(
      isEngramError(error),
      `expected an EngramError ${code}, got ${error instanceof Error ? error.stack : String(error)}`,
    );
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    if (message) assert.match(error.message, message);
    return true;
  };
}

export function vec(...values: number[]): Float32Array {
  return Float32Array.from(values);
}

/** Cosine similarity in float64 over the float32 values actually stored. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
}

/** The bits of a Float32Array, for comparisons that must not treat -0 as 0. */
export function bitsOf(vector: Float32Array): number[] {
  return Array.from(new Uint32Array(vector.buffer, vector.byteOffset, vector.length));
}

/** Waits until the space has applied every acknowledged write (a no-op for synchronous backends). */
export async function settle(space: SpaceHandle): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while ((await space.stats()).pendingApply > 0) {
    if (Date.now() > deadline)
      assert.fail(`space ${space.id} still has writes to apply after ${SETTLE_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The memory count once writes are applied: tests about other things use it, so that a count
 * that is off only while writes are being applied fails the stats test, not theirs.
 */
export async function countOf(space: SpaceHandle): Promise<number> {
  await settle(space);
  return (await space.stats()).memories;
}

/** Follows nextCursor from the start and returns every id in the order served. */
export async function listAllIds(space: SpaceHandle, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages <= 100_000, 'list pagination does not end');
    const page = await space.list(after === undefined ? { limit } : { after, limit });
    assert.ok(
      page.memories.length <= limit,
      `a page of limit ${limit} holds ${page.memories.length}`,
    );
    ids.push(...page.memories.map((m) => m.id));
    if (page.nextCursor === undefined) return ids;
    after = page.nextCursor;
  }
}

function sortedIds(ids: Iterable<string>): string[] {
  return [...ids].sort();
}

const PHASES = ['right after the writes', 'after the writes are applied'] as const;
type Phase = (typeof PHASES)[number];

async function reachPhase(space: SpaceHandle, phase: Phase): Promise<void> {
  if (phase === 'after the writes are applied') await settle(space);
}

// ---- the suite ----------------------------------------------------------------------------

export function runStorageConformance(name: string, factory: StorageEngineFactory): void {
  const limits: ConformanceLimits = { ...ENGINE_DEFAULTS, ...factory.limits };

  /** Runs `fn` with a fresh engine and closes it whatever happens. */
  async function withEngine(fn: (engine: StorageEngine) => Promise<void>): Promise<void> {
    const engine = await factory.open();
    try {
      await fn(engine);
    } finally {
      await engine.close();
    }
  }

  async function newSpace(engine: StorageEngine, id: string): Promise<SpaceHandle> {
    assert.equal((await engine.createSpace(id)).created, true);
    return engine.space(id);
  }

  describe(`${name}: spaces`, () => {
    test('creating a space twice is idempotent and says whether it was created', async () => {
      await withEngine(async (engine) => {
        assert.deepEqual(await engine.createSpace('notes'), { id: 'notes', created: true });
        assert.deepEqual(await engine.createSpace('notes'), { id: 'notes', created: false });
        assert.deepEqual(await engine.createSpace('  notes  '), { id: 'notes', created: false });
        const both = await Promise.all([engine.createSpace('twin'), engine.createSpace('twin')]);
        assert.deepEqual(both.map((r) => r.created).sort(), [false, true]);
        assert.deepEqual(
          (await engine.listSpaces()).map((s) => s.id),
          ['notes', 'twin'],
        );
      });
    });

    test('a space id that breaks the naming rule is refused with ENG_SPACE_ID_INVALID everywhere', async () => {
      await withEngine(async (engine) => {
        const bad: unknown[] = [
          '',
          'ab',
          'UPPER',
          'has space',
          'dots.not.allowed',
          '../escape',
          'a/b',
          'é-accent',
          'x'.repeat(65),
          42,
          null,
        ];
        for (const id of bad) {
          const raw = id as string;
          await assert.rejects(engine.createSpace(raw), rejectsWith('ENG_SPACE_ID_INVALID'));
          await assert.rejects(engine.space(raw), rejectsWith('ENG_SPACE_ID_INVALID'));
          await assert.rejects(engine.deleteSpace(raw), rejectsWith('ENG_SPACE_ID_INVALID'));
        }
        assert.deepEqual(await engine.listSpaces(), []);
        // The boundaries of the rule are accepted.
        for (const id of ['abc', 'a_b-c', '0-9', 'x'.repeat(64)]) {
          assert.equal((await engine.createSpace(id)).created, true, id);
        }
      });
    });

    test('an unknown space is ENG_SPACE_NOT_FOUND and deleting it resolves false', async () => {
      await withEngine(async (engine) => {
        await assert.rejects(engine.space('missing'), rejectsWith('ENG_SPACE_NOT_FOUND'));
        assert.equal(await engine.deleteSpace('missing'), false);
        assert.deepEqual(await engine.listSpaces(), []);
      });
    });

    test('listSpaces shows every space once, in id order, with exact counts and dimensions', async () => {
      await withEngine(async (engine) => {
        const c = await newSpace(engine, 'space-c');
        const a = await newSpace(engine, 'space-a');
        await newSpace(engine, 'space-b');
        await a.remember({ id: 'one', content: 'one', vector: vec(1, 0) });
        await a.remember({ id: 'two', content: 'two' });
        await c.remember({ id: 'one', content: 'one', vector: vec(1, 2, 3) });
        await settle(a);
        await settle(c);
        const listed = await engine.listSpaces();
        assert.deepEqual(
          listed.map(({ id, memories, dimension }) => ({ id, memories, dimension })),
          [
            { id: 'space-a', memories: 2, dimension: 2 },
            { id: 'space-b', memories: 0, dimension: null },
            { id: 'space-c', memories: 1, dimension: 3 },
          ],
        );
        for (const summary of await engine.listSpaces({ counts: false })) {
          assert.notEqual(summary.state, 'quarantined');
        }
      });
    });

    test('a dimension given at creation is enforced before any vector is stored', async () => {
      await withEngine(async (engine) => {
        await engine.createSpace('fixed', { dimension: 3 });
        const space = await engine.space('fixed');
        assert.equal((await space.stats()).dimension, 3);
        await assert.rejects(
          space.remember({ content: 'too long', vector: vec(1, 2, 3, 4) }),
          rejectsWith('ENG_VECTOR_DIM_MISMATCH'),
        );
        await space.remember({ content: 'fits', vector: vec(1, 2, 3) });
        for (const dimension of [0, -1, 2.5, limits.maxDimensions + 1]) {
          await assert.rejects(
            engine.createSpace('bad-dim', { dimension }),
            rejectsWith('ENG_VECTOR_INVALID'),
          );
        }
        await assert.rejects(engine.space('bad-dim'), rejectsWith('ENG_SPACE_NOT_FOUND'));
      });
    });

    test('a deleted space is gone at once, its handles fail, and its id comes back empty', async () => {
      await withEngine(async (engine) => {
        const doomed = await newSpace(engine, 'doomed');
        const kept = await newSpace(engine, 'kept');
        await doomed.remember({ id: 'x', content: 'secret', vector: vec(1, 0, 0) });
        await kept.remember({ id: 'x', content: 'kept', vector: vec(0, 1, 0, 0) });
        await doomed.associate('x', 'x', 1);
        assert.equal(await engine.deleteSpace('doomed'), true);
        assert.equal(await engine.deleteSpace('doomed'), false);
        await assert.rejects(engine.space('doomed'), rejectsWith('ENG_SPACE_NOT_FOUND'));
        await assert.rejects(doomed.get('x'), rejectsWith('ENG_SPACE_NOT_FOUND'));
        await assert.rejects(
          doomed.remember({ content: 'late' }),
          rejectsWith('ENG_SPACE_NOT_FOUND'),
        );
        assert.deepEqual(
          (await engine.listSpaces()).map((s) => s.id),
          ['kept'],
        );

        assert.deepEqual(await engine.createSpace('doomed'), { id: 'doomed', created: true });
        const reborn = await engine.space('doomed');
        assert.equal(await reborn.get('x'), undefined);
        assert.equal(await reborn.getVector('x'), undefined);
        assert.deepEqual((await reborn.list({ limit: 10 })).memories, []);
        assert.deepEqual(await reborn.recall(vec(1, 0, 0), { k: 5 }), []);
        const stats = await reborn.stats();
        assert.equal(stats.memories, 0);
        assert.equal(stats.dimension, null);
        // The old dimension is gone with the old space.
        await reborn.remember({ id: 'x', content: 'new', vector: vec(1, 0, 0, 0, 0) });
        assert.equal((await reborn.get('x'))?.content, 'new');
        await assert.rejects(reborn.associations('missing'), rejectsWith('ENG_MEMORY_NOT_FOUND'));
        assert.deepEqual(await reborn.associations('x'), []);
        assert.equal((await kept.get('x'))?.content, 'kept');
      });
    });
  });

  describe(`${name}: memories`, () => {
    test('remember then get returns exactly what was stored', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'memories');
        const metadata = {
          n: 1.5,
          flag: true,
          none: null,
          list: [1, 'two', { three: 3 }],
          nested: { deep: { deeper: 'x' } },
          ключ: 'значение 🌍',
        };
        const before = Date.now();
        const stored = await space.remember({
          id: 'm-1',
          content: 'the content ✓',
          metadata,
          vector: vec(0.5, -0.25, 1),
        });
        assert.equal(stored.id, 'm-1');
        assert.equal(stored.content, 'the content ✓');
        assert.deepEqual(stored.metadata, metadata);
        assert.equal(stored.hasVector, true);
        assert.ok(stored.storedAt >= before - 1000 && stored.storedAt <= Date.now() + 1000);
        assert.equal(stored.updatedAt, stored.storedAt);
        assert.equal(typeof stored.lsn, 'number');
        assert.deepEqual(await space.get('m-1'), stored);
        assert.deepEqual(bitsOf((await space.getVector('m-1'))!), bitsOf(vec(0.5, -0.25, 1)));

        // Metadata is stored as JSON: what is read back is what JSON keeps.
        const plain = await space.remember({
          id: 'm-2',
          content: 'no vector',
          metadata: { kept: 1, dropped: undefined },
        });
        assert.deepEqual(plain.metadata, { kept: 1 });
        assert.equal(plain.hasVector, false);
        assert.equal(await space.getVector('m-2'), undefined);
        assert.ok(plain.lsn > stored.lsn, 'a later write has a later LSN');

        const generated = await space.remember({ content: 'no id given' });
        assert.equal(typeof generated.id, 'string');
        assert.ok(generated.id.length > 0);
        const another = await space.remember({ content: 'no id given' });
        assert.notEqual(another.id, generated.id);
        assert.deepEqual((await space.get(generated.id))?.metadata, {});

        await settle(space);
        assert.deepEqual(await space.get('m-1'), stored);
        assert.deepEqual(await space.get('m-2'), plain);
        assert.deepEqual(bitsOf((await space.getVector('m-1'))!), bitsOf(vec(0.5, -0.25, 1)));
        assert.equal(await space.get('never-stored'), undefined);
        assert.equal(await space.getVector('never-stored'), undefined);
      });
    });

    for (const phase of PHASES) {
      test(`remembering an existing id replaces the memory, vector included (${phase})`, async () => {
        await withEngine(async (engine) => {
          const space = await newSpace(engine, 'replace');
          await space.remember({
            id: 'r',
            content: 'first',
            metadata: { v: 1 },
            vector: vec(1, 0, 0),
          });
          await space.remember({ id: 'other', content: 'other', vector: vec(0, 0, 1) });
          await reachPhase(space, phase);
          await space.remember({ id: 'r', content: 'second', vector: vec(0, 1, 0) });
          await reachPhase(space, phase);
          const second = await space.get('r');
          assert.equal(second?.content, 'second');
          assert.deepEqual(second?.metadata, {});
          assert.deepEqual(bitsOf((await space.getVector('r'))!), bitsOf(vec(0, 1, 0)));
          assert.equal(await countOf(space), 2);
          const hits = await space.recall(vec(0, 1, 0), { k: 5 });
          assert.deepEqual(
            hits.map((h) => h.memory.id),
            ['r', 'other'],
          );
          assert.equal(hits[0]!.memory.content, 'second');
          assert.ok(Math.abs(hits[0]!.parts.similarity! - 1) < SCORE_TOLERANCE);

          // Replaced by a memory without a vector: no longer recallable.
          await space.remember({ id: 'r', content: 'third' });
          await reachPhase(space, phase);
          assert.equal((await space.get('r'))?.hasVector, false);
          assert.equal(await space.getVector('r'), undefined);
          assert.deepEqual(
            (await space.recall(vec(0, 1, 0), { k: 5 })).map((h) => h.memory.id),
            ['other'],
          );
          // And back to a vector.
          await space.remember({ id: 'r', content: 'fourth', vector: vec(0, 1, 0) });
          await reachPhase(space, phase);
          assert.deepEqual(
            (await space.recall(vec(0, 1, 0), { k: 5 })).map((h) => h.memory.content),
            ['fourth', 'other'],
          );
          assert.deepEqual(await listAllIds(space, 10), ['other', 'r']);
        });
      });
    }

    for (const phase of PHASES) {
      test(`update changes only the patched fields and keeps the vector (${phase})`, async () => {
        await withEngine(async (engine) => {
          const space = await newSpace(engine, 'update');
          const original = await space.remember({
            id: 'u',
            content: 'before',
            metadata: { tag: 'a' },
            vector: vec(3, 4),
          });
          await reachPhase(space, phase);
          const patched = await space.update('u', { content: 'after' });
          assert.equal(patched.content, 'after');
          assert.deepEqual(patched.metadata, { tag: 'a' });
          assert.equal(patched.storedAt, original.storedAt);
          assert.ok(patched.updatedAt >= original.updatedAt);
          assert.ok(patched.lsn > original.lsn);
          assert.equal(patched.hasVector, true);
          assert.deepEqual(await space.get('u'), patched);
          const metaOnly = await space.update('u', { metadata: { tag: 'b', extra: [1] } });
          assert.equal(metaOnly.content, 'after');
          assert.deepEqual(metaOnly.metadata, { tag: 'b', extra: [1] });
          await reachPhase(space, phase);
          assert.deepEqual(await space.get('u'), metaOnly);
          assert.deepEqual(bitsOf((await space.getVector('u'))!), bitsOf(vec(3, 4)));
          const [hit] = await space.recall(vec(3, 4), { k: 1 });
          assert.equal(hit?.memory.content, 'after');
          assert.deepEqual(hit?.memory.metadata, { tag: 'b', extra: [1] });
          assert.equal(await countOf(space), 1);
        });
      });
    }

    test('update of a missing id is ENG_MEMORY_NOT_FOUND, also once forgotten', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'update-missing');
        await assert.rejects(
          space.update('ghost', { content: 'x' }),
          rejectsWith('ENG_MEMORY_NOT_FOUND'),
        );
        await space.remember({ id: 'gone', content: 'x' });
        await space.forget('gone');
        await assert.rejects(
          space.update('gone', { content: 'y' }),
          rejectsWith('ENG_MEMORY_NOT_FOUND'),
        );
        await settle(space);
        await assert.rejects(
          space.update('gone', { content: 'y' }),
          rejectsWith('ENG_MEMORY_NOT_FOUND'),
        );
        assert.equal(await space.get('gone'), undefined);
        assert.equal(await space.get('ghost'), undefined);
        assert.equal((await space.stats()).memories, 0);
      });
    });

    for (const phase of PHASES) {
      test(`forget resolves true once, then false, and the memory is gone everywhere (${phase})`, async () => {
        await withEngine(async (engine) => {
          const space = await newSpace(engine, 'forget');
          await space.remember({ id: 'f', content: 'x', vector: vec(1, 1) });
          await space.remember({ id: 'g', content: 'y', vector: vec(1, -1) });
          await reachPhase(space, phase);
          assert.equal(await space.forget('f'), true);
          assert.equal(await space.forget('f'), false);
          assert.equal(await space.forget('never'), false);
          await reachPhase(space, phase);
          assert.equal(await space.forget('f'), false);
          assert.equal(await space.get('f'), undefined);
          assert.equal(await space.getVector('f'), undefined);
          assert.deepEqual(
            (await space.recall(vec(1, 1), { k: 10 })).map((h) => h.memory.id),
            ['g'],
          );
          assert.deepEqual(await listAllIds(space, 10), ['g']);
          assert.equal(await countOf(space), 1);
          // The id can be used again.
          await space.remember({ id: 'f', content: 'again', vector: vec(1, 1) });
          assert.equal((await space.get('f'))?.content, 'again');
          assert.equal(await countOf(space), 2);
        });
      });
    }

    test('a memory id that is empty, too long or holds control characters is ENG_MEMORY_ID_INVALID', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'memory-ids');
        await space.remember({ id: 'ok', content: 'x' });
        const bad: unknown[] = [
          '',
          'x'.repeat(limits.maxMemoryIdChars + 1),
          'a\nb',
          'tab\t',
          '\u0000',
          7,
        ];
        for (const raw of bad) {
          const id = raw as string;
          const invalid = rejectsWith('ENG_MEMORY_ID_INVALID');
          await assert.rejects(space.remember({ id, content: 'x' }), invalid);
          await assert.rejects(space.get(id), invalid);
          await assert.rejects(space.getVector(id), invalid);
          await assert.rejects(space.update(id, { content: 'x' }), invalid);
          await assert.rejects(space.forget(id), invalid);
          await assert.rejects(space.associate(id, 'ok', 1), invalid);
          await assert.rejects(space.associate('ok', id, 1), invalid);
          await assert.rejects(space.associations(id), invalid);
        }
        const longest = 'y'.repeat(limits.maxMemoryIdChars);
        await space.remember({ id: longest, content: 'longest id' });
        assert.equal((await space.get(longest))?.content, 'longest id');
        await settle(space);
        assert.equal((await space.stats()).memories, 2);
      });
    });
  });

  describe(`${name}: validation`, () => {
    test('content that is missing, blank, not a string or over max_content_bytes is ENG_CONTENT_INVALID', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'content');
        await space.remember({ id: 'base', content: 'base' });
        const tooBig = 'é'.repeat(Math.floor(limits.maxContentBytes / 2) + 1); // 2 bytes each in UTF-8
        const bad: unknown[] = ['', '   ', '\n\t', 42, null, undefined, { text: 'x' }, tooBig];
        for (const content of bad) {
          await assert.rejects(
            space.remember({ content: content as string }),
            rejectsWith('ENG_CONTENT_INVALID'),
          );
          if (content !== undefined) {
            await assert.rejects(
              space.update('base', { content: content as string }),
              rejectsWith('ENG_CONTENT_INVALID'),
            );
          }
        }
        await assert.rejects(
          space.remember(null as unknown as { content: string }),
          rejectsWith('ENG_CONTENT_INVALID'),
        );
        const exact = 'x'.repeat(limits.maxContentBytes);
        await space.remember({ id: 'exact', content: exact });
        assert.equal((await space.get('exact'))?.content.length, limits.maxContentBytes);
        assert.equal((await space.get('base'))?.content, 'base');
        await settle(space);
        assert.equal((await space.stats()).memories, 2);
      });
    });

    test('metadata that is not a plain JSON object or is over max_metadata_bytes is ENG_METADATA_INVALID', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'metadata');
        await space.remember({ id: 'base', content: 'base', metadata: { keep: true } });
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        const bad: unknown[] = [
          null,
          'string',
          42,
          [1, 2],
          new Date(),
          new Map([['a', 1]]),
          circular,
          { big: 'x'.repeat(limits.maxMetadataBytes) },
        ];
        for (const metadata of bad) {
          const patch = metadata as Record<string, unknown>;
          await assert.rejects(
            space.remember({ content: 'x', metadata: patch }),
            rejectsWith('ENG_METADATA_INVALID'),
          );
          await assert.rejects(
            space.update('base', { metadata: patch }),
            rejectsWith('ENG_METADATA_INVALID'),
          );
        }
        assert.deepEqual((await space.get('base'))?.metadata, { keep: true });
        assert.equal(await countOf(space), 1);
        // Exactly at the limit is accepted: {"v":"..."} is 8 bytes of JSON around the string.
        const fits = { v: 'x'.repeat(limits.maxMetadataBytes - 8) };
        await space.remember({ id: 'fits', content: 'x', metadata: fits });
        assert.deepEqual((await space.get('fits'))?.metadata, fits);
      });
    });

    test('a vector that is empty, too long, non-finite, not numbers or of zero length is ENG_VECTOR_INVALID', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'vectors');
        const bad: unknown[] = [
          [],
          new Float32Array(0),
          [1, Number.NaN, 0],
          vec(1, Number.NaN),
          [Number.POSITIVE_INFINITY, 1],
          [1, Number.NEGATIVE_INFINITY],
          [1e39, 1], // finite in float64, infinite in float32
          [0, 0, 0],
          vec(0, -0),
          ['1', 2],
          [1, null],
          'not a vector',
          { 0: 1, length: 1 },
          new Float64Array([1, 2]),
          new Array<number>(limits.maxDimensions + 1).fill(1),
        ];
        for (const vector of bad) {
          await assert.rejects(
            space.remember({ content: 'x', vector: vector as number[] }),
            rejectsWith('ENG_VECTOR_INVALID'),
          );
        }
        // None of the refused writes fixed the dimension or stored anything.
        let stats = await space.stats();
        assert.equal(stats.memories, 0);
        assert.equal(stats.dimension, null);
        // A string is a text query, not a malformed vector: without an embedder it cannot be embedded.
        for (const query of bad.filter((q) => typeof q !== 'string')) {
          await assert.rejects(
            space.recall(query as number[], { k: 1 }),
            rejectsWith('ENG_VECTOR_INVALID'),
          );
        }
        await assert.rejects(
          space.recall('not a vector', { k: 1, mode: 'similarity' }),
          rejectsWith('ENG_EMBEDDER_MISSING'),
        );
        await space.remember({ id: 'ok', content: 'x', vector: [1, 2, 3] });
        stats = await space.stats();
        assert.equal(stats.memories, 1);
        assert.equal(stats.dimension, 3);
      });
    });

    test('a vector of another dimension is ENG_VECTOR_DIM_MISMATCH naming both dimensions', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'dims');
        await space.remember({ id: 'first', content: 'fixes the dimension', vector: vec(1, 2, 3) });
        const both = /\b5\b[^]*\b3\b|\b3\b[^]*\b5\b/;
        await assert.rejects(
          space.remember({ content: 'x', vector: vec(1, 2, 3, 4, 5) }),
          rejectsWith('ENG_VECTOR_DIM_MISMATCH', both),
        );
        await assert.rejects(
          space.recall(vec(1, 2, 3, 4, 5), { k: 1 }),
          rejectsWith('ENG_VECTOR_DIM_MISMATCH', both),
        );
        await settle(space);
        await assert.rejects(
          space.remember({ id: 'first', content: 'x', vector: [1, 2] }),
          rejectsWith('ENG_VECTOR_DIM_MISMATCH', /\b2\b[^]*\b3\b|\b3\b[^]*\b2\b/),
        );
        assert.equal((await space.get('first'))?.content, 'fixes the dimension');
        assert.equal(await countOf(space), 1);
        assert.equal((await space.stats()).dimension, 3);
      });
    });

    test('k and limit outside their bounds are ENG_QUERY_INVALID; the bounds themselves are accepted', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'bounds');
        await space.remember({ id: 'a', content: 'a', vector: vec(1, 0) });
        await space.remember({ id: 'b', content: 'b', vector: vec(0, 1) });
        for (const k of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, limits.maxK + 1, '3']) {
          await assert.rejects(
            space.recall(vec(1, 0), { k: k as number }),
            rejectsWith('ENG_QUERY_INVALID'),
          );
        }
        for (const limit of [0, -1, 2.5, Number.NaN, limits.maxListLimit + 1, '3']) {
          await assert.rejects(
            space.list({ limit: limit as number }),
            rejectsWith('ENG_QUERY_INVALID'),
          );
        }
        await assert.rejects(
          space.list({ limit: 1, after: 5 as unknown as string }),
          rejectsWith('ENG_QUERY_INVALID'),
        );
        assert.equal((await space.recall(vec(1, 0), { k: 1 })).length, 1);
        assert.equal((await space.recall(vec(1, 0), { k: limits.maxK })).length, 2);
        assert.equal((await space.list({ limit: 1 })).memories.length, 1);
        assert.equal((await space.list({ limit: limits.maxListLimit })).memories.length, 2);
        await assert.rejects(
          space.associate('a', 'b', Number.NaN),
          rejectsWith('ENG_QUERY_INVALID'),
        );
        await assert.rejects(
          space.associate('a', 'b', Number.POSITIVE_INFINITY),
          rejectsWith('ENG_QUERY_INVALID'),
        );
      });
    });
  });

  describe(`${name}: reads`, () => {
    test('a memory is readable, listable and recallable as soon as remember resolves', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'read-your-writes');
        const random = seededRandom(7);
        // Some memories already applied, so fresh ones are mixed with indexed ones.
        for (let i = 0; i < 30; i++) {
          await space.remember({
            id: `old-${i}`,
            content: `old ${i}`,
            vector: randomVector(random, 8),
          });
        }
        await settle(space);
        for (let i = 0; i < 20; i++) {
          const id = `new-${String(i).padStart(2, '0')}`;
          const vector = randomVector(random, 8);
          await space.remember({ id, content: `new ${i}`, vector });
          const [top] = await space.recall(vector, { k: 1 });
          assert.equal(top?.memory.id, id, `recall right after remember of ${id}`);
          assert.ok(
            Math.abs(top.parts.similarity! - 1) < SCORE_TOLERANCE,
            `similarity ${top.parts.similarity}`,
          );
          assert.equal((await space.get(id))?.content, `new ${i}`);
          assert.equal(
            (await space.list({ after: `new-${String(i - 1).padStart(2, '0')}`, limit: 1 }))
              .memories[0]?.id,
            id,
          );
          await space.update(id, { content: `updated ${i}` });
          assert.equal((await space.recall(vector, { k: 1 }))[0]?.memory.content, `updated ${i}`);
          assert.equal((await space.get(id))?.content, `updated ${i}`);
          if (i % 2 === 0) {
            await space.forget(id);
            const ids = (await space.recall(vector, { k: 100 })).map((h) => h.memory.id);
            assert.ok(!ids.includes(id), `${id} recalled right after forget`);
            assert.equal(await space.get(id), undefined);
          }
        }
        assert.equal(await countOf(space), 40);
      });
    });

    for (const phase of PHASES) {
      test(`recall returns the k most similar memories by cosine, best first (${phase})`, async () => {
        await withEngine(async (engine) => {
          const space = await newSpace(engine, 'recall-order');
          // Vectors at known angles from the query [1, 0, 0]: cosine = cos(angle).
          const degrees = [0, 170, 20, 95, 45, 180, 60, 10, 120, 75, 30];
          const stored = new Map<string, Float32Array>();
          for (const angle of degrees) {
            const r = (angle * Math.PI) / 180;
            const v = vec(Math.cos(r) * 2, Math.sin(r) * 2, 0); // not unit length: cosine ignores length
            stored.set(`deg-${String(angle).padStart(3, '0')}`, v);
            await space.remember({
              id: `deg-${String(angle).padStart(3, '0')}`,
              content: `${angle}°`,
              vector: v,
            });
          }
          await space.remember({ id: 'no-vector', content: 'never recalled' });
          await reachPhase(space, phase);
          const query = vec(1, 0, 0);
          const expected = [...stored.entries()]
            .map(([id, v]) => ({ id, score: cosine(query, v) }))
            .sort((a, b) => b.score - a.score);
          const all = await space.recall(query, { k: 100 });
          assert.deepEqual(
            all.map((h) => h.memory.id),
            expected.map((e) => e.id),
          );
          all.forEach((hit, i) => {
            assert.ok(
              Math.abs(hit.parts.similarity! - expected[i]!.score) < SCORE_TOLERANCE,
              `${hit.memory.id}: similarity ${hit.parts.similarity}, cosine ${expected[i]!.score}`,
            );
            if (i > 0) assert.ok(all[i - 1]!.score >= hit.score, 'scores descend');
          });
          const top3 = await space.recall([1, 0, 0], { k: 3 });
          assert.deepEqual(
            top3.map((h) => h.memory.id),
            ['deg-000', 'deg-010', 'deg-020'],
          );
          assert.equal(top3[0]!.memory.content, '0°');
          // The opposite direction puts the 180° memory first.
          assert.equal((await space.recall(vec(-1, 0, 0), { k: 1 }))[0]?.memory.id, 'deg-180');
        });
      });
    }

    test('includeCold finds every memory once; tier listings split the live memories without overlap', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'tiers');
        for (let i = 0; i < 6; i++)
          await space.remember({ id: `t${i}`, content: `tier ${i}`, vector: vec(1, i, 0) });
        await space.forget('t5');
        await settle(space);
        const hits = await space.recall(vec(1, 0, 0), { k: 10, includeCold: true });
        assert.deepEqual(hits.map((h) => h.memory.id).sort(), ['t0', 't1', 't2', 't3', 't4']);
        const ids = async (tier?: 'warm' | 'cold') =>
          (await space.list({ limit: 10, ...(tier ? { tier } : {}) })).memories.map((m) => m.id);
        const warm = await ids('warm');
        const cold = await ids('cold');
        assert.deepEqual(
          warm.filter((id) => cold.includes(id)),
          [],
        );
        // A backend without a cold tier lists an empty cold page and every memory as warm.
        assert.deepEqual([...warm, ...cold].sort(), await ids());
        await assert.rejects(
          space.list({ limit: 10, tier: 'frozen' as 'cold' }),
          rejectsWith('ENG_QUERY_INVALID'),
        );
      });
    });

    test('recall in a space without vectors returns nothing', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'no-vectors');
        assert.deepEqual(await space.recall(vec(1, 2), { k: 3 }), []);
        await space.remember({ id: 'text', content: 'only text' });
        assert.deepEqual(await space.recall(vec(1, 2), { k: 3 }), []);
        await settle(space);
        assert.deepEqual(await space.recall(vec(1, 2), { k: 3 }), []);
      });
    });

    for (const phase of PHASES) {
      test(`list pages through every memory exactly once in id order (${phase})`, async () => {
        await withEngine(async (engine) => {
          const space = await newSpace(engine, 'pages');
          const random = seededRandom(11);
          const ids = Array.from({ length: 25 }, (_, i) => `mem-${String(i).padStart(3, '0')}`);
          const shuffled = [...ids].sort(() => random() - 0.5);
          for (const id of shuffled) {
            await space.remember({
              id,
              content: id,
              ...(random() < 0.5 ? { vector: randomVector(random, 4) } : {}),
            });
          }
          await reachPhase(space, phase);
          for (const limit of [1, 2, 3, 7, 24, 25, 26, 1000]) {
            assert.deepEqual(await listAllIds(space, limit), ids, `limit ${limit}`);
          }
          const first = await space.list({ limit: 5 });
          assert.deepEqual(
            first.memories.map((m) => m.id),
            ids.slice(0, 5),
          );
          assert.notEqual(
            first.nextCursor,
            undefined,
            'a first page of 5 out of 25 has a next cursor',
          );
          const last = await space.list({ after: 'mem-019', limit: 5 });
          assert.deepEqual(
            last.memories.map((m) => m.id),
            ids.slice(20),
          );
          assert.equal((await space.list({ after: 'mem-024', limit: 5 })).memories.length, 0);
          assert.deepEqual(
            (await space.list({ after: 'mem-0105', limit: 2 })).memories.map((m) => m.id),
            ['mem-011', 'mem-012'],
            'a cursor need not be a stored id',
          );
          assert.deepEqual(
            (await space.list({ after: '', limit: 1 })).memories.map((m) => m.id),
            ['mem-000'],
          );
          for (const m of (await space.list({ limit: 25 })).memories) assert.equal(m.content, m.id);
        });
      });
    }

    test('list pages through every memory exactly once while forgets and updates are being applied', async () => {
      await withEngine(async (engine) => {
        const space = await newSpace(engine, 'pages-churn');
        const live = new Set<string>();
        for (let i = 0; i < 30; i++) {
          const id = `c-${String(i).padStart(2, '0')}`;
          await space.remember({ id, content: id });
          live.add(id);
        }
        await settle(space);
        // Fresh deletions and updates shadow applied records: pagination must still see the rest.
        for (const i of [0, 1, 2, 10, 11, 20]) {
          await space.forget(`c-${String(i).padStart(2, '0')}`);
          live.delete(`c-${String(i).padStart(2, '0')}`);
        }
        for (const i of [3, 12, 29])
          await space.update(`c-${String(i).padStart(2, '0')}`, { content: 'changed' });
        for (const limit of [1, 2, 5, 24]) {
          assert.deepEqual(await listAllIds(space, limit), sortedIds(live), `limit ${limit}`);
        }
        await settle(space);
        for (const limit of [1, 4, 24, 100]) {
          assert.deepEqual(
            await listAllIds(space, limit),
            sortedIds(live),
            `limit ${limit}, applied`,
          );
        }
      });
    });

    for (const phase of PHASES) {
      test(`stats counts live memories exactly (${phase})`, async () => {
        await withEngine(async (engine) => {
          const space = await newSpace(engine, 'counts');
          const expectCount = async (n: number, why: string) => {
            await reachPhase(space, phase);
            assert.equal((await space.stats()).memories, n, why);
          };
          await expectCount(0, 'empty');
          for (let i = 0; i < 10; i++)
            await space.remember({ id: `n-${i}`, content: 'x', vector: vec(1, i) });
          await expectCount(10, 'ten stored');
          await space.remember({ id: 'n-3', content: 'replaced' });
          await expectCount(10, 'a replacement is not a new memory');
          await space.update('n-4', { content: 'updated' });
          await expectCount(10, 'an update is not a new memory');
          await space.forget('n-5');
          await space.forget('n-5');
          await space.forget('never');
          await expectCount(9, 'one forgotten');
          await space.remember({ id: 'n-5', content: 'back' });
          await expectCount(10, 'stored again');
          const stats = await space.stats();
          assert.equal(stats.id, 'counts');
          assert.equal(stats.dimension, 2);
          assert.equal((await engine.listSpaces()).find((s) => s.id === 'counts')?.memories, 10);
        });
      });
    }

    for (const phase of PHASES) {
      test(`associations are directed, keep the latest weight and vanish with either end (${phase})`, async () => {
        await withEngine(async (engine) => {
          const space = await newSpace(engine, 'links');
          for (const id of ['a', 'b', 'c', 'd']) await space.remember({ id, content: id });
          await space.associate('a', 'b', 0.5);
          await space.associate('a', 'c', -2);
          await space.associate('c', 'a', 1);
          await space.associate('a', 'b', 0.75);
          await reachPhase(space, phase);
          const sorted = async (id: string) =>
            (await space.associations(id)).sort((x, y) => (x.to < y.to ? -1 : 1));
          assert.deepEqual(await sorted('a'), [
            { to: 'b', weight: 0.75 },
            { to: 'c', weight: -2 },
          ]);
          assert.deepEqual(await sorted('b'), []);
          assert.deepEqual(await sorted('c'), [{ to: 'a', weight: 1 }]);
          await assert.rejects(
            space.associate('a', 'ghost', 1),
            rejectsWith('ENG_MEMORY_NOT_FOUND'),
          );
          await assert.rejects(
            space.associate('ghost', 'a', 1),
            rejectsWith('ENG_MEMORY_NOT_FOUND'),
          );
          await assert.rejects(space.associations('ghost'), rejectsWith('ENG_MEMORY_NOT_FOUND'));

          // Forgetting the target removes the link, and storing the id again does not bring it back.
          await space.forget('b');
          await reachPhase(space, phase);
          assert.deepEqual(await sorted('a'), [{ to: 'c', weight: -2 }]);
          await space.remember({ id: 'b', content: 'b again' });
          assert.deepEqual(
            await sorted('a'),
            [{ to: 'c', weight: -2 }],
            'right after b is stored again',
          );
          await settle(space);
          assert.deepEqual(await sorted('a'), [{ to: 'c', weight: -2 }], 'once b is applied');

          // Forgetting the source removes its links, in both directions.
          await space.forget('c');
          await space.remember({ id: 'c', content: 'c again' });
          assert.deepEqual(await sorted('c'), [], 'right after c is stored again');
          assert.deepEqual(await sorted('a'), [], 'a -> c went with c');
          await settle(space);
          assert.deepEqual(await sorted('c'), [], 'once c is applied');
          assert.deepEqual(await sorted('a'), []);
          await assert.rejects(space.associations('missing'), rejectsWith('ENG_MEMORY_NOT_FOUND'));
        });
      });
    }
  });

  describe(`${name}: space settings`, () => {
    test('auto-linking connects a new memory both ways to its most similar memories above the threshold', async () => {
      await withEngine(async (engine) => {
        await engine.createSpace('linked', {
          settings: { autoLinkThreshold: 0.9, autoLinkMax: 2 },
        });
        const space = await engine.space('linked');
        await space.remember({ id: 'a', content: 'a', vector: [1, 0, 0] });
        await space.remember({ id: 'b', content: 'b', vector: [1, 0.1, 0] });
        await space.remember({ id: 'c', content: 'c', vector: [1, 0.2, 0] });
        await space.remember({ id: 'far', content: 'far', vector: [0, 0, 1] });
        await space.remember({ id: 'new', content: 'new', vector: [1, 0.05, 0] });
        const links = await space.associations('new');
        assert.deepEqual(links.map((l) => l.to).sort(), ['a', 'b']);
        for (const link of links) assert.ok(link.weight >= 0.9 && link.weight <= 1);
        assert.ok(
          (await space.associations('a')).some((l) => l.to === 'new'),
          'linked back',
        );
        assert.deepEqual(await space.associations('far'), []);
      });
    });

    test('dedup merges a near-identical new memory into the existing one, keeping the higher confidence', async () => {
      await withEngine(async (engine) => {
        await engine.createSpace('dedup', { settings: { dedupThreshold: 0.99 } });
        const space = await engine.space('dedup');
        const first = await space.remember({
          content: 'the sky is blue',
          vector: [0.2, 0.9, 0.1],
          confidence: 0.5,
        });
        const again = await space.remember({
          content: 'the sky is blue!',
          vector: [0.2, 0.9, 0.1001],
          confidence: 0.9,
        });
        assert.equal(again.id, first.id);
        assert.equal(again.deduplicated, true);
        assert.equal(again.confidence, 0.9);
        const lower = await space.remember({
          content: 'sky: blue',
          vector: [0.2, 0.9, 0.1],
          confidence: 0.1,
        });
        assert.equal(lower.id, first.id);
        assert.equal((await space.get(first.id))?.confidence, 0.9);
        assert.equal((await space.stats()).memories, 1);
        // A client-chosen id, a different vector, or a constant vector is never merged.
        await space.remember({
          id: 'explicit',
          content: 'the sky is blue',
          vector: [0.2, 0.9, 0.1],
        });
        await space.remember({ content: 'grass is green', vector: [0.9, 0.1, 0.2] });
        await space.remember({ content: 'constant one', vector: [1, 1, 1] });
        await space.remember({ content: 'constant two', vector: [1, 1, 1] });
        assert.equal((await space.stats()).memories, 5);
      });
    });
  });

  describe(`${name}: isolation`, () => {
    for (const phase of PHASES) {
      test(`no call on one space sees or changes another space's memories, same ids included (${phase})`, async () => {
        await withEngine(async (engine) => {
          const a = await newSpace(engine, 'space-a');
          const b = await newSpace(engine, 'space-b');
          await a.remember({
            id: 'shared',
            content: 'a shared',
            metadata: { from: 'a' },
            vector: vec(1, 0, 0),
          });
          await a.remember({ id: 'only-a', content: 'a only', vector: vec(0, 1, 0) });
          await a.remember({ id: 'a-target', content: 'a target', vector: vec(0, 0, 1) });
          await a.associate('shared', 'a-target', 0.9);
          await b.remember({
            id: 'shared',
            content: 'b shared',
            metadata: { from: 'b' },
            vector: vec(0, 0, 0, 1),
          });
          await b.remember({ id: 'b-target', content: 'b target', vector: vec(0, 0, 1, 0) });
          await b.associate('shared', 'b-target', 0.1);
          await reachPhase(a, phase);
          await reachPhase(b, phase);

          // Reads in B.
          assert.equal((await b.get('shared'))?.content, 'b shared');
          assert.equal(await b.get('only-a'), undefined);
          assert.equal(await b.getVector('only-a'), undefined);
          assert.deepEqual(bitsOf((await b.getVector('shared'))!), bitsOf(vec(0, 0, 0, 1)));
          assert.deepEqual(await listAllIds(b, 100), ['b-target', 'shared']);
          assert.deepEqual(
            (await b.recall(vec(1, 1, 1, 1), { k: 10 })).map((h) => h.memory.id).sort(),
            ['b-target', 'shared'],
          );
          assert.equal((await b.recall(vec(0, 0, 0, 1), { k: 1 }))[0]?.memory.content, 'b shared');
          await assert.rejects(
            b.recall(vec(1, 0, 0), { k: 1 }),
            rejectsWith('ENG_VECTOR_DIM_MISMATCH'),
          );
          assert.deepEqual(await b.associations('shared'), [{ to: 'b-target', weight: 0.1 }]);
          await assert.rejects(b.associations('only-a'), rejectsWith('ENG_MEMORY_NOT_FOUND'));
          assert.equal(await countOf(b), 2);
          assert.equal((await b.stats()).dimension, 4);

          // Writes in B never reach A.
          assert.equal(await b.forget('only-a'), false);
          await assert.rejects(
            b.update('only-a', { content: 'hijack' }),
            rejectsWith('ENG_MEMORY_NOT_FOUND'),
          );
          await assert.rejects(
            b.associate('shared', 'only-a', 1),
            rejectsWith('ENG_MEMORY_NOT_FOUND'),
          );
          await assert.rejects(
            b.associate('only-a', 'shared', 1),
            rejectsWith('ENG_MEMORY_NOT_FOUND'),
          );
          await b.update('shared', { content: 'b shared, updated' });
          assert.equal(await b.forget('shared'), true);
          await reachPhase(b, phase);
          const aShared = await a.get('shared');
          assert.equal(aShared?.content, 'a shared');
          assert.deepEqual(aShared.metadata, { from: 'a' });
          assert.equal((await a.get('only-a'))?.content, 'a only');
          assert.deepEqual(bitsOf((await a.getVector('shared'))!), bitsOf(vec(1, 0, 0)));
          assert.deepEqual(await a.associations('shared'), [{ to: 'a-target', weight: 0.9 }]);
          const aHits = (await a.recall(vec(1, 0, 0), { k: 10 })).map((h) => h.memory.id);
          assert.equal(aHits[0], 'shared');
          assert.deepEqual(sortedIds(aHits), ['a-target', 'only-a', 'shared']);
          assert.deepEqual(await listAllIds(a, 100), ['a-target', 'only-a', 'shared']);
          assert.equal(await countOf(a), 3);
          assert.equal((await a.stats()).dimension, 3);

          // And writes in A never reach B.
          await a.remember({ id: 'b-target', content: 'a has one too', vector: vec(1, 1, 1) });
          await a.forget('shared');
          await reachPhase(a, phase);
          assert.equal((await b.get('b-target'))?.content, 'b target');
          assert.equal(await b.get('shared'), undefined, 'forgotten in B, not revived by A');
          assert.deepEqual(await listAllIds(b, 10), ['b-target']);
          assert.deepEqual(await listAllIds(a, 10), ['a-target', 'b-target', 'only-a']);
          assert.equal(await countOf(b), 1);

          // Deleting A leaves B whole.
          assert.equal(await engine.deleteSpace('space-a'), true);
          assert.equal((await b.get('b-target'))?.content, 'b target');
          assert.equal((await b.recall(vec(0, 0, 1, 0), { k: 1 }))[0]?.memory.id, 'b-target');
        });
      });
    }
  });

  const reopen = factory.reopen?.bind(factory);
  describe(
    `${name}: persistence across reopen`,
    { skip: reopen ? false : 'the backend cannot be reopened' },
    () => {
      if (!reopen) return;

      /** Opens, runs `fn` on each successive engine, and closes every engine it opened. */
      async function acrossReopens(
        steps: Array<(engine: StorageEngine) => Promise<void>>,
      ): Promise<void> {
        let engine = await factory.open();
        try {
          for (const [i, step] of steps.entries()) {
            if (i > 0) {
              const previous = engine;
              await previous.close();
              engine = await reopen!(previous);
            }
            await step(engine);
          }
        } finally {
          await engine.close();
        }
      }

      test('memories, vectors, updates, forgets and associations survive a reopen, each served once', async () => {
        const random = seededRandom(2024);
        const vectors = new Map<string, Float32Array>();
        const expected = new Map<
          string,
          Pick<MemoryRecord, 'id' | 'content' | 'metadata' | 'hasVector'>
        >();
        const lsns = new Map<string, number>();
        let maxLsn = 0;
        const ids = Array.from({ length: 30 }, (_, i) => `p-${String(i).padStart(2, '0')}`);

        const check = async (space: SpaceHandle, why: string) => {
          assert.deepEqual(
            await listAllIds(space, 1000),
            sortedIds(expected.keys()),
            `${why}: list`,
          );
          assert.equal(await countOf(space), expected.size, `${why}: count`);
          for (const id of ids) {
            const record = await space.get(id);
            const want = expected.get(id);
            if (!want) {
              assert.equal(record, undefined, `${why}: ${id} is forgotten`);
              assert.equal(await space.getVector(id), undefined);
              continue;
            }
            assert.ok(record, `${why}: ${id} is missing`);
            const { id: gotId, content, metadata, hasVector, lsn } = record;
            assert.deepEqual({ id: gotId, content, metadata, hasVector }, want, `${why}: ${id}`);
            assert.equal(lsn, lsns.get(id), `${why}: ${id} lsn`);
            const vector = vectors.get(id);
            const stored = await space.getVector(id);
            if (vector)
              assert.deepEqual(bitsOf(stored!), bitsOf(vector), `${why}: vector of ${id}`);
            else assert.equal(stored, undefined, `${why}: ${id} has no vector`);
          }
          const hits = await space.recall(vectors.values().next().value!, { k: 100 });
          const hitIds = hits.map((h) => h.memory.id);
          assert.equal(new Set(hitIds).size, hitIds.length, `${why}: a memory recalled twice`);
          assert.deepEqual(
            sortedIds(hitIds),
            sortedIds(vectors.keys()),
            `${why}: recall sees every vector`,
          );
          for (const [id, vector] of vectors) {
            const [top] = await space.recall(vector, { k: 1 });
            assert.equal(top?.memory.id, id, `${why}: recall of ${id}'s own vector`);
          }
          assert.deepEqual(
            (await space.associations('p-01')).sort((x, y) => (x.to < y.to ? -1 : 1)),
            [
              { to: 'p-02', weight: 0.25 },
              { to: 'p-03', weight: 0.75 },
            ],
            `${why}: associations`,
          );
        };

        const remember = async (
          space: SpaceHandle,
          id: string,
          content: string,
          withVector: boolean,
        ) => {
          const vector = withVector ? randomVector(random, 6) : undefined;
          const record = await space.remember({
            id,
            content,
            metadata: { id },
            ...(vector ? { vector } : {}),
          });
          if (vector) vectors.set(id, vector);
          else vectors.delete(id);
          expected.set(id, { id, content, metadata: { id }, hasVector: vector !== undefined });
          lsns.set(id, record.lsn);
          assert.ok(record.lsn > maxLsn, 'LSNs keep growing');
          maxLsn = record.lsn;
        };

        await acrossReopens([
          async (engine) => {
            const space = await newSpace(engine, 'durable');
            await newSpace(engine, 'neighbour');
            for (const id of ids.slice(0, 15)) await remember(space, id, `content of ${id}`, true);
            await space.associate('p-01', 'p-02', 0.5);
            await space.associate('p-01', 'p-03', 0.75);
            await space.associate('p-01', 'p-05', 1);
            await settle(space);
            // The rest stays unapplied until close.
            for (const id of ids.slice(15))
              await remember(space, id, `content of ${id}`, id !== 'p-20');
            await space.associate('p-01', 'p-02', 0.25);
            for (const id of ['p-05', 'p-06', 'p-16', 'p-17']) {
              assert.equal(await space.forget(id), true);
              expected.delete(id);
              vectors.delete(id);
            }
            const updated = await space.update('p-07', {
              content: 'updated p-07',
              metadata: { edited: true },
            });
            expected.set('p-07', {
              ...expected.get('p-07')!,
              content: 'updated p-07',
              metadata: { edited: true },
            });
            lsns.set('p-07', updated.lsn);
            maxLsn = updated.lsn;
            await remember(space, 'p-08', 'replaced p-08', true);
            await remember(space, 'p-09', 'replaced p-09 without a vector', false);
            await remember(space, 'p-06', 'p-06 forgotten and stored again', true);
            await check(space, 'before reopen');
          },
          async (engine) => {
            assert.deepEqual(
              (await engine.listSpaces()).map((s) => [s.id, s.memories]),
              [
                ['durable', expected.size],
                ['neighbour', 0],
              ],
            );
            const space = await engine.space('durable');
            await check(space, 'after the first reopen');
            await remember(space, 'p-16', 'p-16 after reopen', true);
            assert.equal(await space.forget('p-10'), true);
            expected.delete('p-10');
            vectors.delete('p-10');
          },
          async (engine) => {
            await check(await engine.space('durable'), 'after the second reopen');
          },
          async (engine) => {
            // A reopen with no writes in between changes nothing.
            await check(await engine.space('durable'), 'after the third reopen');
          },
        ]);
      });

      test('a deleted space stays deleted after reopen and its id starts empty', async () => {
        await acrossReopens([
          async (engine) => {
            const gone = await newSpace(engine, 'gone');
            const stays = await newSpace(engine, 'stays');
            await gone.remember({ id: 'x', content: 'secret', vector: vec(1, 2, 3) });
            await settle(gone);
            await gone.remember({ id: 'y', content: 'unapplied secret', vector: vec(3, 2, 1) });
            await stays.remember({ id: 'x', content: 'kept' });
            assert.equal(await engine.deleteSpace('gone'), true);
          },
          async (engine) => {
            assert.deepEqual(
              (await engine.listSpaces()).map((s) => s.id),
              ['stays'],
            );
            await assert.rejects(engine.space('gone'), rejectsWith('ENG_SPACE_NOT_FOUND'));
            assert.equal(await engine.deleteSpace('gone'), false);
            assert.equal((await (await engine.space('stays')).get('x'))?.content, 'kept');
            assert.equal((await engine.createSpace('gone')).created, true);
            const reborn = await engine.space('gone');
            assert.equal(await reborn.get('x'), undefined);
            assert.equal(await reborn.get('y'), undefined);
            await reborn.remember({ id: 'z', content: 'new life', vector: vec(1, 0) });
          },
          async (engine) => {
            const reborn = await engine.space('gone');
            assert.deepEqual(await listAllIds(reborn, 10), ['z']);
            assert.equal((await reborn.stats()).dimension, 2);
            assert.equal((await reborn.recall(vec(1, 0), { k: 5 })).length, 1);
          },
        ]);
      });

      test('a Float32Array vector round-trips bit for bit through a reopen', async () => {
        const awkward = new Float32Array(
          new Uint32Array([
            0x00000001, // smallest subnormal
            0x807fffff, // largest negative subnormal
            0x80000000, // -0
            0x7f7fffff, // largest finite
            0xff7fffff, // most negative finite
            0x00800000, // smallest normal
            0x3f800001, // 1 + 1 ulp
            0x3dcccccd, // fround(0.1)
            0x40490fdb, // fround(pi)
            0x4b800001, // 2^24 + 2: exactly representable, neighbours are not
          ]).buffer,
        );
        const original = bitsOf(awkward);
        await acrossReopens([
          async (engine) => {
            const space = await newSpace(engine, 'bits');
            await space.remember({ id: 'applied', content: 'x', vector: awkward });
            await settle(space);
            await space.remember({ id: 'unapplied', content: 'y', vector: awkward });
            assert.deepEqual(bitsOf(awkward), original, 'the caller’s array is not modified');
          },
          async (engine) => {
            const space = await engine.space('bits');
            await settle(space);
            for (const id of ['applied', 'unapplied']) {
              const vector = await space.getVector(id);
              assert.ok(vector instanceof Float32Array, `${id}: a Float32Array`);
              assert.deepEqual(bitsOf(vector), original, id);
            }
          },
        ]);
      });
    },
  );
}
