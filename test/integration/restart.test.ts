/**
 * Clean restarts in one process: open, write, close, open again, many times over. Nothing
 * written may be lost, the log on disk must stay one unbroken chain of LSNs from the last
 * checkpoint on, and LSNs must keep growing across restarts (never reused).
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  Registry,
  isEngramError,
  type EngineOptions,
  type MemoryRecord,
  type SpaceHandle,
} from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const DIMENSION = 8;

interface Expected {
  content: string;
  vector: Float32Array | null;
  lsn: number;
}

/** What each space must hold: id -> the last acknowledged version. */
type Model = Map<string, Map<string, Expected>>;

function expectedIn(model: Model, space: string): Map<string, Expected> {
  let memories = model.get(space);
  if (!memories) model.set(space, (memories = new Map<string, Expected>()));
  return memories;
}

async function listAll(space: SpaceHandle): Promise<MemoryRecord[]> {
  const out: MemoryRecord[] = [];
  let after: string | undefined;
  do {
    const page = await space.list(after === undefined ? { limit: 100 } : { after, limit: 100 });
    out.push(...page.memories);
    after = page.nextCursor;
  } while (after !== undefined);
  return out;
}

/** Every expected memory is there with its content, vector and LSN, and nothing else is. */
async function assertHolds(space: SpaceHandle, expected: Map<string, Expected>): Promise<void> {
  for (const [id, want] of expected) {
    const got = await space.get(id);
    assert.ok(got, `${space.id}/${id} is missing`);
    assert.equal(got.content, want.content, `${space.id}/${id} has other content`);
    assert.equal(got.lsn, want.lsn, `${space.id}/${id} has another LSN`);
    assert.equal(got.hasVector, want.vector !== null);
    const vector = await space.getVector(id);
    assert.deepEqual(vector, want.vector ?? undefined, `${space.id}/${id} has another vector`);
  }
  const listed = await listAll(space);
  assert.deepEqual(
    listed.map((m) => m.id),
    [...expected.keys()].sort(),
    `${space.id}: list() shows other memories`,
  );
  assert.equal((await space.stats()).memories, expected.size);
  for (const [id, want] of expected) {
    if (!want.vector) continue;
    const hits = await space.recall(want.vector, { k: 5 });
    assert.ok(
      hits.some((h) => h.memory.id === id),
      `${space.id}/${id}: recall with its own vector does not find it`,
    );
    for (const hit of hits)
      assert.ok(expected.has(hit.memory.id), `recall returned ${hit.memory.id}`);
  }
}

interface WalChain {
  segments: Array<{ name: string; firstLsn: number; records: number }>;
  /** LSN of the first record on disk, undefined when every segment is empty. */
  firstLsn: number | undefined;
  /** LSN of the last record on disk (or the one before an empty last segment). */
  lastLsn: number;
}

/**
 * Walks a space's log on disk (format in engine/wal/wal-record.ts: 24-byte header, LSN at 8,
 * payload length at 16) and checks that it is one chain: each segment is named by the LSN it
 * starts at, records follow each other by exactly one, and no bytes trail the last record.
 */
async function walChain(dataRoot: string, space: string): Promise<WalChain> {
  const dir = join(dataRoot, space, 'wal');
  const names = (await readdir(dir)).filter((n) => /^\d{20}\.wal$/.test(n)).sort();
  assert.ok(names.length > 0, `${space}: no log segment at all`);
  const chain: WalChain = { segments: [], firstLsn: undefined, lastLsn: 0 };
  let expected: number | undefined;
  for (const name of names) {
    const firstLsn = Number(name.slice(0, 20));
    if (expected !== undefined)
      assert.equal(
        firstLsn,
        expected,
        `${space}: segment ${name} follows LSN ${expected - 1}: a segment is lost`,
      );
    const buf = await readFile(join(dir, name));
    let offset = 0;
    let lsn = firstLsn;
    while (offset < buf.length) {
      assert.ok(
        buf.length - offset >= 24,
        `${space}/${name}: ${buf.length - offset} stray bytes at ${offset}`,
      );
      const recordLsn = Number(buf.readBigUInt64LE(offset + 8));
      assert.equal(
        recordLsn,
        lsn,
        `${space}/${name}: record at ${offset} has LSN ${recordLsn}, expected ${lsn}`,
      );
      offset += 24 + buf.readUInt32LE(offset + 16);
      lsn += 1;
    }
    assert.equal(offset, buf.length, `${space}/${name}: the last record is cut short`);
    chain.segments.push({ name, firstLsn, records: lsn - firstLsn });
    if (chain.firstLsn === undefined && lsn > firstLsn) chain.firstLsn = firstLsn;
    expected = lsn;
    chain.lastLsn = lsn - 1;
  }
  return chain;
}

/** After an open: the log holds everything above the checkpoint, up to lastLsn, and stats() agrees with the disk. */
async function assertLogCoversCheckpoint(dataRoot: string, space: SpaceHandle): Promise<WalChain> {
  const stats = await space.stats();
  const chain = await walChain(dataRoot, space.id);
  assert.equal(
    chain.lastLsn,
    stats.lastLsn,
    `${space.id}: the log ends at ${chain.lastLsn}, lastLsn is ${stats.lastLsn}`,
  );
  assert.equal(
    stats.walSegments,
    chain.segments.length,
    `${space.id}: stats().walSegments disagrees with the disk`,
  );
  const checkpoint = Math.min(
    stats.appliedLsn,
    stats.dimension === null ? stats.appliedLsn : stats.snapshotLsn,
  );
  if (chain.firstLsn !== undefined) {
    assert.ok(
      chain.firstLsn <= checkpoint + 1,
      `${space.id}: the log starts at LSN ${chain.firstLsn}, but the checkpoint only covers ${checkpoint}`,
    );
  } else {
    assert.ok(
      checkpoint >= stats.lastLsn,
      `${space.id}: the log is empty but the checkpoint is at ${checkpoint} of ${stats.lastLsn}`,
    );
  }
  return chain;
}

/**
 * A mixed batch of writes: new memories, updates, replacements and deletes, at most
 * `concurrency` in flight at once (so group commits stay small enough for segments to rotate).
 */
async function writeBatch(
  space: SpaceHandle,
  expected: Map<string, Expected>,
  random: () => number,
  tag: string,
  count: number,
  concurrency = Infinity,
): Promise<number[]> {
  const existing = [...expected.keys()];
  const touched = new Set<string>();
  const writes: Array<() => Promise<number>> = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    const old = existing.length > 0 ? existing[Math.floor(random() * existing.length)]! : undefined;
    if (old !== undefined && !touched.has(old) && roll < 0.45) {
      touched.add(old); // one write per id per batch, so the final state is known
      if (roll < 0.2) {
        const content = `${old} updated in ${tag}`;
        writes.push(() =>
          space.update(old, { content }).then((record) => {
            expected.set(old, { ...expected.get(old)!, content, lsn: record.lsn });
            return record.lsn;
          }),
        );
      } else if (roll < 0.3) {
        const content = `${old} replaced in ${tag}`;
        const vector = randomVector(random, DIMENSION);
        writes.push(() =>
          space.remember({ id: old, content, vector }).then((record) => {
            expected.set(old, { content, vector, lsn: record.lsn });
            return record.lsn;
          }),
        );
      } else {
        writes.push(() =>
          space.forget(old).then((found) => {
            assert.equal(found, true);
            expected.delete(old);
            return 0;
          }),
        );
      }
      continue;
    }
    const id = `${tag}-${i}`;
    const content = `memory ${i} of ${tag}: ${'x'.repeat(Math.floor(random() * 300))}`;
    const vector = random() < 0.9 ? randomVector(random, DIMENSION) : null;
    writes.push(() =>
      space.remember(vector ? { id, content, vector } : { id, content }).then((record) => {
        expected.set(id, { content, vector, lsn: record.lsn });
        return record.lsn;
      }),
    );
  }
  const lsns: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < writes.length) lsns.push(await writes[next++]!());
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, writes.length) }, worker));
  return lsns.filter((lsn) => lsn > 0);
}

async function waitForApply(space: SpaceHandle): Promise<void> {
  const deadline = Date.now() + 10_000;
  // Wait for the applier to finish its checkpoint too, not only to drain: segments are removed then.
  for (
    let stats = await space.stats();
    stats.pendingApply > 0 || stats.applying;
    stats = await space.stats()
  ) {
    assert.ok(Date.now() < deadline, `${space.id}: the applier did not catch up within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface CycleOptions {
  engine: Partial<EngineOptions>;
  spaces: readonly string[];
  cycles: number;
  writesPerCycle: number;
  concurrency?: number;
  seed: number;
  /** Extra checks after each cycle's writes; `before` is the space's lastLsn when the cycle began. */
  afterWrites?: (space: SpaceHandle, dataRoot: string, before: number) => Promise<void>;
}

/** Runs `cycles` open/check/write/close cycles over the spaces, then a last open/check. */
async function restartCycles(run: CycleOptions): Promise<void> {
  const dataRoot = await tempDir();
  const random = seededRandom(run.seed);
  const model: Model = new Map();
  const lastLsns = new Map<string, number>();
  for (let cycle = 0; cycle <= run.cycles; cycle++) {
    const registry = await Registry.open({ dataRoot, ...run.engine });
    try {
      for (const [i, name] of run.spaces.entries()) {
        await registry.createSpace(name, i === 0 ? { dimension: DIMENSION } : {});
        const space = await registry.space(name);
        const expected = expectedIn(model, name);
        const before = lastLsns.get(name) ?? 0;
        assert.equal(
          (await space.stats()).lastLsn,
          before,
          `${name}: lastLsn changed across the restart`,
        );
        await assertHolds(space, expected);
        await assertLogCoversCheckpoint(dataRoot, space);
        if (cycle === run.cycles) continue;

        const lsns = await writeBatch(
          space,
          expected,
          random,
          `c${cycle}`,
          run.writesPerCycle,
          run.concurrency,
        );
        for (const lsn of lsns)
          assert.ok(
            lsn > before,
            `${name}: a write after restart got LSN ${lsn}, not above ${before}`,
          );
        const stats = await space.stats();
        assert.ok(
          stats.lastLsn >= Math.max(...lsns),
          `${name}: lastLsn ${stats.lastLsn} below a write's LSN`,
        );
        await assertHolds(space, expected); // read-your-writes, before any restart
        if (run.afterWrites) await run.afterWrites(space, dataRoot, before);
        lastLsns.set(name, (await space.stats()).lastLsn);
      }
    } finally {
      await registry.close();
    }
  }
}

test('restart, write, restart, write, restart keeps everything, and LSNs keep increasing', async () => {
  await restartCycles({
    engine: {},
    spaces: ['notes', 'journal'],
    cycles: 6,
    writesPerCycle: 60,
    seed: 1,
  });
});

test('with tiny log segments, rotations and checkpoints remove old segments and lose nothing across restarts', async () => {
  await restartCycles({
    engine: { walSegmentBytesMax: 4096, indexSnapshotEveryRecords: 20, applyBatchRecords: 8 },
    spaces: ['tiny-a', 'tiny-b'],
    cycles: 5,
    writesPerCycle: 150,
    concurrency: 3,
    seed: 2,
    async afterWrites(space, dataRoot, before) {
      await waitForApply(space);
      const stats = await space.stats();
      const chain = await walChain(dataRoot, space.id);
      // Everything written before this cycle sat in segments that have since rotated out and
      // been removed by a checkpoint: the oldest segment left starts above it.
      assert.ok(
        chain.segments[0]!.firstLsn > before,
        `${space.id}: the log still starts at LSN ${chain.segments[0]!.firstLsn}, at or below ${before}`,
      );
      assert.ok(stats.snapshotLsn > before, `${space.id}: no checkpoint this cycle`);
      assert.ok(
        stats.walSegments <= 8,
        `${space.id}: ${stats.walSegments} segments kept after checkpoints`,
      );
      assert.equal(stats.walSegments, chain.segments.length);
    },
  });
});

test('closing with applies still pending, then reopening, keeps every acknowledged write', async () => {
  const dataRoot = await tempDir();
  // One record per LMDB transaction and a snapshot every few records: the applier lags far behind.
  const options = { dataRoot, applyBatchRecords: 1, indexSnapshotEveryRecords: 7 };
  const random = seededRandom(3);
  const expected = new Map<string, Expected>();
  let registry = await Registry.open(options);
  await registry.createSpace('lagging');
  let space = await registry.space('lagging');
  let lastLsn = 0;
  for (let round = 0; round < 3; round++) {
    const lsns = await writeBatch(space, expected, random, `p${round}`, 250);
    for (const lsn of lsns) assert.ok(lsn > lastLsn);
    const stats = await space.stats();
    assert.ok(
      stats.pendingApply > 0,
      'the applier caught up before close: nothing pending to test',
    );
    assert.ok(stats.appliedLsn < stats.lastLsn);
    lastLsn = stats.lastLsn;
    await registry.close();

    registry = await Registry.open(options);
    space = await registry.space('lagging');
    assert.equal((await space.stats()).lastLsn, lastLsn);
    await assertHolds(space, expected);
    await assertLogCoversCheckpoint(dataRoot, space);
  }
  await registry.close();
});

test('closing while writes are still in flight: each write either resolves and survives or fails as closed', async (t) => {
  const dataRoot = await tempDir();
  const options = { dataRoot, applyBatchRecords: 4 };
  const random = seededRandom(4);
  const expected = new Map<string, Expected>();
  let lastLsn = 0;
  for (let round = 0; round < 4; round++) {
    const registry = await Registry.open(options);
    await registry.createSpace('busy');
    const space = await registry.space('busy');
    assert.equal((await space.stats()).lastLsn, lastLsn);
    await assertHolds(space, expected);
    const write = (i: number) => {
      const id = `r${round}-${i}`;
      const content = `written while closing, round ${round}, #${i}`;
      const vector = randomVector(random, DIMENSION);
      // Settled at once into a value, so a refusal is never an unhandled rejection.
      const outcome = space.remember({ id, content, vector }).then(
        (record): MemoryRecord | Error => record,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      return { id, content, vector, outcome };
    };
    // A wave before the close, one in the same tick after it, one while it drains.
    const writes = Array.from({ length: 200 }, (_, i) => write(i));
    const closing = registry.close(); // not awaited before the writes: they race the close
    writes.push(...Array.from({ length: 50 }, (_, i) => write(200 + i)));
    await new Promise((resolve) => setImmediate(resolve));
    writes.push(...Array.from({ length: 50 }, (_, i) => write(250 + i)));
    let refused = 0;
    const settled = await Promise.all(
      writes.map(async (w) => ({ ...w, outcome: await w.outcome })),
    );
    await closing;
    for (const { id, content, vector, outcome } of settled) {
      if (outcome instanceof Error) {
        refused += 1;
        assert.ok(
          isEngramError(outcome, 'ENG_SPACE_CLOSED'),
          `${id} failed with ${String(outcome)}`,
        );
      } else {
        assert.ok(outcome.lsn > lastLsn);
        expected.set(id, { content, vector, lsn: outcome.lsn });
      }
    }
    lastLsn = Math.max(lastLsn, ...[...expected.values()].map((e) => e.lsn));
    t.diagnostic(
      `round ${round}: ${settled.length - refused} writes resolved, ${refused} refused as closed`,
    );
  }
  const registry = await Registry.open(options);
  try {
    const space = await registry.space('busy');
    await assertHolds(space, expected);
    assert.ok(expected.size > 0, 'no write made it before the close');
    assert.ok((await space.stats()).lastLsn >= lastLsn);
  } finally {
    await registry.close();
  }
});
