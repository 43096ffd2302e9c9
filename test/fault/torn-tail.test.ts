/**
 * Torn tails: a crash cuts the log inside a record that was never acknowledged. For every byte
 * offset inside the last three records of the segment, a copy of a prepared data root is cut
 * there and reopened: exactly the records before the cut must come back (get, list and recall
 * agreeing), the recovery line must report the torn record, and the segment must have been cut
 * back so that the next open finds nothing wrong.
 *
 * The prepared data root is a crash image: the log holds N records while the warm tier and the
 * index snapshot only cover the first N - 3 (the state a crash leaves when the last three
 * records were logged but not yet applied, which is the only state in which they can be torn
 * under durability "fsync": a record is applied only after its fdatasync).
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry, isEngramError, type RememberInput } from '../../engine/index.ts';
import { decodeRecordAt } from '../../engine/wal/wal-record.ts';
import { recordingLogger } from '../helpers/faulty-fs.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const SPACE = 'journal';
const DIM = 4;
const N = 12;
/** Offsets checked at once (each in its own copy of the data root). */
const PARALLEL = 8;

type Memory = RememberInput & { id: string; vector: Float32Array };

interface Prepared {
  /** The crash image: copy it, never change it. */
  image: string;
  segmentName: string;
  /** Byte offset where record i (LSN i + 1) starts; one more entry for the end of the file. */
  boundaries: number[];
  memories: Memory[];
}

/** Builds the crash image in a fresh temp dir (removed after the calling test). */
async function prepare(): Promise<Prepared> {
  const random = seededRandom(4242);
  const memories: Memory[] = Array.from({ length: N }, (_, i) => ({
    id: `m-${String(i).padStart(2, '0')}`,
    content: `memory number ${i}: ${'abcdefghij'.repeat(1 + (i % 4))}`,
    metadata: { i },
    vector: randomVector(random, DIM),
  }));
  const work = await tempDir('engram-torn-');
  const root = join(work, 'root');

  // Session 1: the first N - 3 records, applied and snapshotted at close.
  let registry = await Registry.open({ dataRoot: root });
  await registry.createSpace(SPACE, { dimension: DIM });
  let space = await registry.space(SPACE);
  for (const m of memories.slice(0, N - 3)) await space.remember(m);
  await registry.close();
  const applied = join(work, 'applied');
  await mkdir(applied);
  await cp(join(root, SPACE, 'warm'), join(applied, 'warm'), { recursive: true });
  await cp(join(root, SPACE, 'index'), join(applied, 'index'), { recursive: true });

  // Session 2: the last three records reach the log.
  registry = await Registry.open({ dataRoot: root });
  space = await registry.space(SPACE);
  for (const m of memories.slice(N - 3)) await space.remember(m);
  await registry.close();

  // The crash image: this log, with the warm tier and index as they were before session 2.
  for (const part of ['warm', 'index']) {
    await rm(join(root, SPACE, part), { recursive: true, force: true });
    await cp(join(applied, part), join(root, SPACE, part), { recursive: true });
  }

  const segments = (await readdir(join(root, SPACE, 'wal'))).filter((n) => n.endsWith('.wal'));
  assert.equal(segments.length, 1, 'the whole log is one segment');
  const segmentName = segments[0]!;
  const buf = await readFile(join(root, SPACE, 'wal', segmentName));
  const boundaries = [0];
  for (let lsn = 1; lsn <= N; lsn++) {
    const result = decodeRecordAt(buf, boundaries.at(-1)!, 1 << 20);
    assert.ok(result.ok, `record ${lsn} decodes`);
    assert.equal(result.record.lsn, lsn);
    boundaries.push(boundaries.at(-1)! + result.record.bytes);
  }
  assert.equal(boundaries.at(-1), buf.length, 'the segment holds exactly the N records');
  return { image: root, segmentName, boundaries, memories };
}

/** Number of whole records before byte `cut`. */
function wholeRecordsBefore(prepared: Prepared, cut: number): number {
  return prepared.boundaries.filter((b, i) => i > 0 && b <= cut).length;
}

async function checkCut(prepared: Prepared, work: string, cut: number): Promise<void> {
  const { boundaries, memories, segmentName } = prepared;
  const dataRoot = join(work, `cut-${cut}`);
  await cp(prepared.image, dataRoot, { recursive: true });
  const segment = join(dataRoot, SPACE, 'wal', segmentName);
  await truncate(segment, cut);

  const kept = wholeRecordsBefore(prepared, cut);
  const torn = !boundaries.includes(cut);
  const present = memories.slice(0, kept);
  const dropped = memories.slice(kept);
  const ids = present.map((m) => m.id);

  const logger = recordingLogger();
  let registry = await Registry.open({ dataRoot }, { logger });
  try {
    const space = await registry.space(SPACE);
    for (const m of present) {
      const got = await space.get(m.id);
      assert.ok(got, `${m.id} is recovered`);
      assert.equal(got.content, m.content, `${m.id} is recovered`);
      assert.equal(got.lsn, memories.indexOf(m) + 1);
    }
    for (const m of dropped) assert.equal(await space.get(m.id), undefined, `${m.id} is gone`);
    assert.deepEqual(
      (await space.list({ limit: 100 })).memories.map((m) => m.id),
      ids,
      'list agrees with get',
    );
    const hits = await space.recall(memories[N - 1]!.vector, { k: N });
    assert.deepEqual(hits.map((h) => h.memory.id).sort(), ids, 'recall agrees with get');
    for (const m of [present.at(-1)!, ...dropped]) {
      const [best] = await space.recall(m.vector, { k: 1 });
      if (dropped.includes(m)) assert.notEqual(best?.memory.id, m.id);
      else assert.equal(best?.memory.id, m.id, `recall finds ${m.id} by its own vector`);
    }
    assert.equal((await space.stats()).lastLsn, kept);
  } finally {
    await registry.close();
  }

  const [recovery, ...more] = logger.recoveries(SPACE);
  assert.equal(more.length, 0);
  assert.deepEqual(
    recovery,
    { space: SPACE, entries: kept - (N - 3), corrupted: torn ? 1 : 0, ms: recovery?.ms },
    'the recovery line',
  );
  const tornLines = logger.lines.filter((l) => l.message === 'torn log tail truncated');
  if (torn) {
    assert.equal(tornLines.length, 1);
    assert.equal(tornLines[0]!.fields.offset, boundaries[kept]);
    assert.equal(tornLines[0]!.fields.droppedBytes, cut - boundaries[kept]!);
  } else {
    assert.equal(tornLines.length, 0);
  }
  assert.equal((await stat(segment)).size, boundaries[kept], 'the segment was cut back');

  // The second open finds a clean log and the same memories.
  const again = recordingLogger();
  registry = await Registry.open({ dataRoot }, { logger: again });
  try {
    const space = await registry.space(SPACE);
    assert.deepEqual(
      (await space.list({ limit: 100 })).memories.map((m) => m.id),
      ids,
    );
    // And it writes on from the right LSN.
    const next = await space.remember({ id: 'after', content: 'written after recovery' });
    assert.equal(next.lsn, kept + 1);
  } finally {
    await registry.close();
  }
  assert.deepEqual(
    again.recoveries(SPACE).map((r) => r.corrupted),
    [0],
    'the second open reports nothing corrupted',
  );
  await rm(dataRoot, { recursive: true, force: true });
}

/** Runs checkCut for every offset in [from, to), PARALLEL at a time; fails listing every bad offset. */
async function checkCuts(prepared: Prepared, from: number, to: number): Promise<void> {
  const work = await tempDir('engram-cuts-');
  const offsets = Array.from({ length: to - from }, (_, i) => from + i);
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < offsets.length) {
        const cut = offsets[next++]!;
        try {
          await checkCut(prepared, work, cut);
        } catch (error) {
          failures.push(`cut at ${cut}: ${(error as Error).message.split('\n')[0]}`);
        }
      }
    }),
  );
  failures.sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
  assert.deepEqual(
    failures.slice(0, 20),
    [],
    `${failures.length} of ${offsets.length} offsets failed`,
  );
}

for (const [label, fromEnd] of [
  ['third-to-last', 3],
  ['second-to-last', 2],
  ['last', 1],
] as const) {
  test(`a log cut at any byte of the ${label} record recovers exactly the records before the cut`, async () => {
    const prepared = await prepare();
    const record = N - fromEnd;
    // From the record's first byte (a clean cut: nothing torn) to its last.
    await checkCuts(prepared, prepared.boundaries[record]!, prepared.boundaries[record + 1]!);
  });
}

test('a torn tail below what the warm tier already applied does not quarantine the space later', async () => {
  // Under durability "interval" (or "none") a record is applied before its fdatasync, so after
  // a power loss the warm tier can hold records the log lost. Same on-disk state here: the
  // last record, already applied and snapshotted, is cut in half.
  const dataRoot = await tempDir();
  const random = seededRandom(99);
  let registry = await Registry.open({ dataRoot, durability: 'interval' });
  await registry.createSpace(SPACE, { dimension: DIM });
  let space = await registry.space(SPACE);
  for (let i = 0; i < 5; i++) {
    await space.remember({ id: `w-${i}`, content: `warm ${i}`, vector: randomVector(random, DIM) });
  }
  await registry.close();
  const [name] = await readdir(join(dataRoot, SPACE, 'wal'));
  const segment = join(dataRoot, SPACE, 'wal', name!);
  await truncate(segment, (await stat(segment)).size - 10);

  const logger = recordingLogger();
  registry = await Registry.open({ dataRoot }, { logger });
  try {
    space = await registry.space(SPACE);
    assert.equal((await space.stats()).memories, 5, 'the warm tier still holds all five');
  } finally {
    await registry.close();
  }
  assert.deepEqual(
    logger.recoveries(SPACE).map((r) => r.corrupted),
    [1],
  );

  registry = await Registry.open({ dataRoot });
  try {
    const summary = (await registry.listSpaces()).find((s) => s.id === SPACE);
    assert.equal(
      summary?.state,
      'open',
      `second open after the torn tail: ${summary?.reason ?? ''} (wal: ${(
        await readdir(join(dataRoot, SPACE, 'wal'))
      ).join(', ')})`,
    );
    space = await registry.space(SPACE);
    await space.remember({ id: 'w-5', content: 'warm 5', vector: randomVector(random, DIM) });
  } catch (error) {
    if (isEngramError(error, 'ENG_SPACE_QUARANTINED')) assert.fail(error.message);
    throw error;
  } finally {
    await registry.close();
  }
});
