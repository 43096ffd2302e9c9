/**
 * A Float32Array vector comes back bit for bit from every place the engine keeps it: the
 * memtable (right after remember), the log (msgpack in a WAL record, read back by recovery),
 * and LMDB (after the warm tier applied it and the space was closed and reopened).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ENGINE_DEFAULTS, Registry, nodeFileSystem, type SpaceHandle } from '../../engine/index.ts';
import { decodeEntry } from '../../engine/log-entry.ts';
import { scanWal } from '../../engine/wal/wal-reader.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SPACE = 'vectors';

/** Float32 bit patterns chosen to break anything that goes through float64 text, JSON or a lossy codec. */
const AWKWARD_BITS = [
  0x00000001, // smallest positive subnormal (1.4e-45)
  0x807fffff, // largest negative subnormal
  0x00400000, // a subnormal with a single bit
  0x80000000, // -0
  0x00000000, // +0
  0x7f7fffff, // largest finite float32 (3.4028235e38)
  0xff7fffff, // most negative finite float32
  0x00800000, // smallest positive normal
  0x3f800001, // 1 + 1 ulp
  0x3dcccccd, // fround(0.1): not 0.1, and 0.1 in float64 is not it either
  0x3eaaaaab, // fround(1/3)
  0x40490fdb, // fround(pi)
  0x4b800001, // 2^24 + 2 (odd integers above 2^24 are not representable)
  0xc479f99a, // -999.9 rounded
  0x33d6bf95, // 1e-7 rounded
  0x7e967699, // 1e38 rounded
];

function awkwardVector(): Float32Array {
  return new Float32Array(Uint32Array.from(AWKWARD_BITS).buffer);
}

function bitsOf(vector: Float32Array): number[] {
  return Array.from(new Uint32Array(vector.buffer, vector.byteOffset, vector.length));
}

function hex(bits: number[]): string[] {
  return bits.map((b) => `0x${b.toString(16).padStart(8, '0')}`);
}

function assertSameBits(actual: Float32Array | undefined, expected: number[], where: string): void {
  assert.ok(
    actual instanceof Float32Array,
    `${where}: expected a Float32Array, got ${String(actual)}`,
  );
  assert.deepEqual(hex(bitsOf(actual)), hex(expected), where);
}

async function settle(space: SpaceHandle): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await space.stats()).pendingApply > 0) {
    assert.ok(Date.now() < deadline, 'writes still unapplied after 10 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Reads the space's log from disk and returns the vector of every put, by memory id. */
async function vectorsInLog(dataRoot: string): Promise<Map<string, Float32Array | null>> {
  const scan = await scanWal(nodeFileSystem, join(dataRoot, SPACE, 'wal'), {
    fromLsn: 0,
    payloadBytesMax: ENGINE_DEFAULTS.walRecordBytesMax,
  });
  assert.equal(scan.tornTail, undefined);
  const out = new Map<string, Float32Array | null>();
  for (const raw of scan.records) {
    const entry = decodeEntry(raw.type, raw.payload);
    if (entry.kind === 'put') out.set(entry.record.id, entry.vector);
  }
  return out;
}

test('an awkward Float32Array is stored bit for bit in the log and read back from memory at once', async () => {
  const dataRoot = await tempDir('engram-vectors-');
  const vector = awkwardVector();
  const expected = bitsOf(vector);
  const registry = await Registry.open({ dataRoot });
  try {
    await registry.createSpace(SPACE);
    const space = await registry.space(SPACE);
    await space.remember({ id: 'awkward', content: 'awkward values', vector });
    assert.deepEqual(bitsOf(vector), expected, 'the caller’s array is left alone');
    assertSameBits(await space.getVector('awkward'), expected, 'right after remember');
    vector.fill(7); // the engine kept its own copy
    assertSameBits(await space.getVector('awkward'), expected, 'after the caller reused its array');
  } finally {
    await registry.close();
  }
  // The bytes the log holds, decoded the way recovery decodes them.
  const logged = await vectorsInLog(dataRoot);
  assertSameBits(logged.get('awkward') ?? undefined, expected, 'decoded from the WAL record');
});

test('recovery replays the vector from the log bit for bit when the warm tier never applied it', async () => {
  const dataRoot = await tempDir('engram-vectors-');
  const vector = awkwardVector();
  const expected = bitsOf(vector);
  let registry = await Registry.open({ dataRoot });
  await registry.createSpace(SPACE);
  const record = await (
    await registry.space(SPACE)
  ).remember({ id: 'awkward', content: 'x', vector });
  await registry.close();

  // Take the space back to what a crash right after the log fsync leaves: the record is in the
  // log, and neither the warm tier (LMDB) nor an index snapshot has it.
  await rm(join(dataRoot, SPACE, 'warm'), { recursive: true, force: true });
  await rm(join(dataRoot, SPACE, 'index'), { recursive: true, force: true });

  registry = await Registry.open({ dataRoot });
  try {
    const space = await registry.space(SPACE);
    assertSameBits(await space.getVector('awkward'), expected, 'replayed from the log');
    await settle(space);
    const stats = await space.stats();
    assert.ok(stats.appliedLsn >= record.lsn, 'the replayed record reached the warm tier');
    assertSameBits(await space.getVector('awkward'), expected, 'replayed, then applied to LMDB');
  } finally {
    await registry.close();
  }
  registry = await Registry.open({ dataRoot });
  try {
    assertSameBits(
      await (await registry.space(SPACE)).getVector('awkward'),
      expected,
      'from LMDB after a second reopen',
    );
  } finally {
    await registry.close();
  }
});

test('an awkward Float32Array round-trips bit for bit through LMDB across close and reopen', async () => {
  const dataRoot = await tempDir('engram-vectors-');
  const vector = awkwardVector();
  const expected = bitsOf(vector);
  const reversed = vector.slice().reverse();
  const reversedBits = bitsOf(reversed);
  let registry = await Registry.open({ dataRoot });
  let lastLsn: number;
  try {
    await registry.createSpace(SPACE);
    const space = await registry.space(SPACE);
    await space.remember({ id: 'awkward', content: 'x', vector });
    lastLsn = (await space.remember({ id: 'reversed', content: 'y', vector: reversed })).lsn;
    await settle(space);
    assertSameBits(await space.getVector('awkward'), expected, 'applied, before close');
  } finally {
    await registry.close();
  }

  registry = await Registry.open({ dataRoot });
  try {
    const space = await registry.space(SPACE);
    const stats = await space.stats();
    // Nothing is left to replay: the reads below come from LMDB, not from the log.
    assert.equal(stats.pendingApply, 0);
    assert.ok(stats.appliedLsn >= lastLsn);
    assertSameBits(await space.getVector('awkward'), expected, 'from LMDB');
    assertSameBits(await space.getVector('reversed'), reversedBits, 'from LMDB (second vector)');
  } finally {
    await registry.close();
  }
});

test('a vector given as plain numbers is stored as their float32 rounding, bit for bit after reopen', async () => {
  const dataRoot = await tempDir('engram-vectors-');
  const numbers = [
    0.1,
    1 / 3,
    Math.PI,
    -999.9,
    1e-7,
    1e38,
    16777217,
    -0,
    5e-45,
    2 ** -149,
    3.4028235e38,
  ];
  const expected = bitsOf(Float32Array.from(numbers));
  let registry = await Registry.open({ dataRoot });
  try {
    await registry.createSpace(SPACE);
    const space = await registry.space(SPACE);
    await space.remember({ id: 'numbers', content: 'x', vector: numbers });
    assertSameBits(await space.getVector('numbers'), expected, 'right after remember');
  } finally {
    await registry.close();
  }
  assertSameBits(
    (await vectorsInLog(dataRoot)).get('numbers') ?? undefined,
    expected,
    'in the log',
  );
  registry = await Registry.open({ dataRoot });
  try {
    assertSameBits(await (await registry.space(SPACE)).getVector('numbers'), expected, 'from LMDB');
  } finally {
    await registry.close();
  }
});

test('a vector of huge or tiny magnitude is recalled with the same score before and after the index holds it', async () => {
  const dataRoot = await tempDir('engram-vectors-');
  const cases: Array<[string, Float32Array]> = [
    ['huge', Float32Array.from([3e38, 0, 3e38])], // float32 sum of squares overflows
    ['tiny', Float32Array.from([1e-44, 1e-44, 0])], // float32 sum of squares underflows to 0
    ['plain', Float32Array.from([0, 1, 1])],
  ];
  const registry = await Registry.open({ dataRoot });
  try {
    await registry.createSpace(SPACE);
    const space = await registry.space(SPACE);
    const fresh = new Map<string, number>();
    for (const [id, vector] of cases) {
      await space.remember({ id, content: id, vector });
      const [hit] = await space.recall(vector, { k: 1 });
      assert.equal(hit?.memory.id, id);
      fresh.set(id, hit.parts.similarity!);
    }
    await settle(space);
    for (const [id, vector] of cases) {
      const hits = await space.recall(vector, { k: 3 });
      const own = hits.find((h) => h.memory.id === id);
      assert.ok(own, `${id} is recalled once applied`);
      assert.ok(
        Math.abs(own.parts.similarity! - 1) < 1e-5,
        `${id}: similarity ${own.parts.similarity} once indexed`,
      );
      assert.ok(
        Math.abs(fresh.get(id)! - 1) < 1e-5,
        `${id}: score ${fresh.get(id)} right after remember`,
      );
      assert.equal(hits[0]?.memory.id, id, `${id} is its own nearest neighbour once indexed`);
    }
  } finally {
    await registry.close();
  }
});
