/**
 * Damage at rest: flipped bits in log records, a lost or garbled index snapshot, an unreadable
 * LMDB environment, a missing log segment. Damage the engine can repair (a torn last record, a
 * bad snapshot) is repaired and reported; damage it cannot repair quarantines the one space it
 * hits, never the data root: a second space in the same data root keeps serving.
 *
 * Bit flips are drawn from a seeded PRNG; the seed is printed as a test diagnostic and can be
 * fixed with ENGRAM_TEST_SEED=<n> to replay a run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  Registry,
  isEngramError,
  nodeFileSystem,
  type EngineOptions,
  type RememberInput,
  type SpaceHandle,
} from '../../engine/index.ts';
import { HnswIndex, publishSnapshot } from '../../engine/vector/hnsw-index.ts';
import { WAL_HEADER_BYTES, decodeRecordAt } from '../../engine/wal/wal-record.ts';
import { recordingLogger } from '../helpers/faulty-fs.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const DIM = 8;
const VICTIM = 'victim';
const BYSTANDER = 'bystander';
const SEED = Number(process.env.ENGRAM_TEST_SEED ?? Date.now() % 2 ** 31);

type Memory = RememberInput & { id: string; vector: Float32Array };

function memories(prefix: string, count: number, random: () => number): Memory[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(3, '0')}`,
    content: `${prefix} memory ${i}`,
    metadata: { i },
    vector: randomVector(random, DIM),
  }));
}

async function writeAll(registry: Registry, space: string, list: readonly Memory[]): Promise<void> {
  const handle = await registry.space(space);
  for (const m of list) await handle.remember(m);
}

function quarantined(error: unknown): boolean {
  assert.ok(
    isEngramError(error, 'ENG_SPACE_QUARANTINED'),
    `expected a quarantine, got ${String(error)}`,
  );
  return true;
}

/** The bystander serves every read and takes a write; `expected` are the memories it holds. */
async function assertServes(
  space: SpaceHandle,
  expected: readonly Memory[],
  probe: string,
): Promise<void> {
  for (const m of expected) assert.equal((await space.get(m.id))?.content, m.content);
  const [best] = await space.recall(expected[0]!.vector, { k: 1 });
  assert.equal(best?.memory.id, expected[0]!.id);
  const written = await space.remember({
    id: probe,
    content: 'written while another space is quarantined',
  });
  assert.equal((await space.get(probe))?.lsn, written.lsn);
}

/** Opens a copy of `image`, runs `fn` with a recording logger, closes, removes the copy. */
async function withCopy(
  image: string,
  copy: string,
  damage: (dataRoot: string) => Promise<void>,
  fn: (
    registry: Registry,
    logger: ReturnType<typeof recordingLogger>,
    dataRoot: string,
  ) => Promise<void>,
  options: Partial<EngineOptions> = {},
): Promise<void> {
  await cp(image, copy, { recursive: true, filter: (path) => basename(path) !== 'engram.lock' });
  await damage(copy);
  const logger = recordingLogger();
  const registry = await Registry.open({ dataRoot: copy, ...options }, { logger });
  try {
    await fn(registry, logger, copy);
  } finally {
    await registry.close();
  }
}

async function onlySegment(dataRoot: string, space: string): Promise<string> {
  const names = (await readdir(join(dataRoot, space, 'wal'))).filter((n) => n.endsWith('.wal'));
  assert.equal(names.length, 1);
  return join(dataRoot, space, 'wal', names[0]!);
}

// ---- bit flips in the log -------------------------------------------------------------------

const N = 10;
const HEADER_FIELDS: ReadonlyArray<readonly [string, number, number]> = [
  ['magic', 0, 4],
  ['version', 4, 1],
  ['type', 5, 1],
  ['flags', 6, 2],
  ['lsn', 8, 8],
  ['length', 16, 4],
  ['crc32', 20, 4],
];

interface FlipImage {
  image: string;
  victim: Memory[];
  bystander: Memory[];
  /** Byte offset where record i (LSN i + 1) of the victim's segment starts, plus the end. */
  boundaries: number[];
}

/**
 * Two spaces. The victim's log holds N records while its warm tier and index cover the first
 * N - 3: a crash image, in which the last record can be torn (it was never applied).
 */
async function flipImage(work: string): Promise<FlipImage> {
  const random = seededRandom(1);
  const victim = memories('v', N, random);
  const bystander = memories('b', 6, random);
  const image = join(work, 'image');
  let registry = await Registry.open({ dataRoot: image });
  await registry.createSpace(VICTIM, { dimension: DIM });
  await registry.createSpace(BYSTANDER, { dimension: DIM });
  await writeAll(registry, VICTIM, victim.slice(0, N - 3));
  await writeAll(registry, BYSTANDER, bystander);
  await registry.close();
  const applied = join(work, 'applied');
  await cp(join(image, VICTIM), applied, { recursive: true });
  registry = await Registry.open({ dataRoot: image });
  await writeAll(registry, VICTIM, victim.slice(N - 3));
  await registry.close();
  for (const part of ['warm', 'index']) {
    await rm(join(image, VICTIM, part), { recursive: true });
    await cp(join(applied, part), join(image, VICTIM, part), { recursive: true });
  }
  const buf = await readFile(await onlySegment(image, VICTIM));
  const boundaries = [0];
  for (let lsn = 1; lsn <= N; lsn++) {
    const result = decodeRecordAt(buf, boundaries.at(-1)!, 1 << 20);
    assert.ok(result.ok);
    boundaries.push(boundaries.at(-1)! + result.record.bytes);
  }
  assert.equal(boundaries.at(-1), buf.length);
  return { image, victim, bystander, boundaries };
}

interface Flip {
  record: number;
  byte: number;
  bit: number;
  where: string;
}

/** Per record: every header field in turn (two fields per record) and two payload bytes. */
function sampleFlips(boundaries: readonly number[], random: () => number): Flip[] {
  const flips: Flip[] = [];
  const pick = (n: number): number => Math.floor(random() * n);
  for (let record = 0; record < N; record++) {
    const start = boundaries[record]!;
    const payloadBytes = boundaries[record + 1]! - start - WAL_HEADER_BYTES;
    for (let j = 0; j < 2; j++) {
      const [name, offset, size] = HEADER_FIELDS[(record * 2 + j) % HEADER_FIELDS.length]!;
      flips.push({
        record,
        byte: start + offset + pick(size),
        bit: pick(8),
        where: `header.${name}`,
      });
    }
    for (let j = 0; j < 2; j++) {
      const at = pick(payloadBytes);
      flips.push({
        record,
        byte: start + WAL_HEADER_BYTES + at,
        bit: pick(8),
        where: `payload[${at}]`,
      });
    }
  }
  return flips;
}

async function flipBit(path: string, byte: number, bit: number): Promise<void> {
  const buf = await readFile(path);
  buf[byte]! ^= 1 << bit;
  await writeFile(path, buf);
}

test('a flipped bit in a log record followed by valid records quarantines that space, and only it', async (t) => {
  t.diagnostic(`seed ${SEED} (ENGRAM_TEST_SEED=${SEED} replays this run)`);
  const work = await tempDir('engram-flips-');
  const { image, victim, bystander, boundaries } = await flipImage(work);
  const flips = sampleFlips(boundaries, seededRandom(SEED)).filter((f) => f.record < N - 1);
  assert.ok(flips.length >= 30);
  for (const [i, flip] of flips.entries()) {
    const label = `record ${flip.record + 1}, ${flip.where}, byte ${flip.byte} bit ${flip.bit}`;
    let segmentBefore: Buffer | undefined;
    await withCopy(
      image,
      join(work, `flip-${i}`),
      async (root) => {
        const segment = await onlySegment(root, VICTIM);
        await flipBit(segment, flip.byte, flip.bit);
        segmentBefore = await readFile(segment);
      },
      async (registry, logger, root) => {
        const summaries = await registry.listSpaces();
        const state = Object.fromEntries(summaries.map((s) => [s.id, s.state]));
        assert.deepEqual(state, { [BYSTANDER]: 'open', [VICTIM]: 'quarantined' }, label);
        const reason = summaries.find((s) => s.id === VICTIM)?.reason ?? '';
        assert.match(reason, new RegExp(`damaged at offset ${boundaries[flip.record]} `), label);
        const space = await registry.space(VICTIM);
        await assert.rejects(space.get(victim[0]!.id), quarantined, label);
        await assert.rejects(space.remember({ content: 'x' }), quarantined, label);
        await assertServes(await registry.space(BYSTANDER), bystander, `probe-${i}`);
        assert.equal(
          logger.recoveries(VICTIM).length,
          0,
          'a quarantined space reports no recovery',
        );
        // Nothing was skipped or cut: the damaged log is left as it was, for repair.
        assert.deepEqual(await readFile(await onlySegment(root, VICTIM)), segmentBefore, label);
      },
    );
    await rm(join(work, `flip-${i}`), { recursive: true });
  }
});

test('a flipped bit in the very last log record is dropped and reported as a torn tail', async (t) => {
  t.diagnostic(`seed ${SEED} (ENGRAM_TEST_SEED=${SEED} replays this run)`);
  const work = await tempDir('engram-flips-');
  const { image, victim, bystander, boundaries } = await flipImage(work);
  // The last record's share of the sample, plus every header field of it once more.
  const random = seededRandom(SEED + 1);
  const flips = [
    ...sampleFlips(boundaries, seededRandom(SEED)).filter((f) => f.record === N - 1),
    ...HEADER_FIELDS.map(([name, offset, size]) => ({
      record: N - 1,
      byte: boundaries[N - 1]! + offset + Math.floor(random() * size),
      bit: Math.floor(random() * 8),
      where: `header.${name}`,
    })),
  ];
  const kept = victim.slice(0, N - 1);
  const lost = victim[N - 1]!;
  for (const [i, flip] of flips.entries()) {
    const label = `${flip.where}, byte ${flip.byte} bit ${flip.bit}`;
    const copy = join(work, `last-${i}`);
    await withCopy(
      image,
      copy,
      async (root) => flipBit(await onlySegment(root, VICTIM), flip.byte, flip.bit),
      async (registry, logger, root) => {
        const space = await registry.space(VICTIM);
        for (const m of kept) assert.equal((await space.get(m.id))?.content, m.content, label);
        assert.equal(await space.get(lost.id), undefined, label);
        const hits = await space.recall(lost.vector, { k: N });
        assert.deepEqual(
          hits.map((h) => h.memory.id).sort(),
          kept.map((m) => m.id),
          label,
        );
        await assertServes(await registry.space(BYSTANDER), bystander, `probe-${i}`);
        assert.deepEqual(
          logger.recoveries(VICTIM).map((r) => [r.entries, r.corrupted]),
          [[2, 1]],
          `${label}: the two records after the checkpoint recovered, one corrupted`,
        );
        assert.equal((await stat(await onlySegment(root, VICTIM))).size, boundaries[N - 1], label);
      },
    );
    const logger = recordingLogger();
    const registry = await Registry.open({ dataRoot: copy }, { logger });
    try {
      const space = await registry.space(VICTIM);
      assert.deepEqual(
        (await space.list({ limit: 100 })).memories.map((m) => m.id),
        kept.map((m) => m.id),
      );
    } finally {
      await registry.close();
    }
    assert.deepEqual(
      logger.recoveries(VICTIM).map((r) => r.corrupted),
      [0],
      `${label}: second open`,
    );
    await rm(copy, { recursive: true });
  }
});

// ---- the index snapshot -----------------------------------------------------------------------

const SNAPSHOT_DAMAGE: ReadonlyArray<
  readonly [string, (indexDir: string, bin: string) => Promise<void>]
> = [
  ['a missing snapshot.json', (dir) => rm(join(dir, 'snapshot.json'))],
  [
    'a garbled snapshot.json',
    (dir) => writeFile(join(dir, 'snapshot.json'), '{"format_version":1,"lsn":'),
  ],
  [
    'a snapshot.json of random bytes',
    (dir) =>
      writeFile(join(dir, 'snapshot.json'), Buffer.from(randomVector(seededRandom(3), 16).buffer)),
  ],
  ['a missing hnsw-*.bin', (_dir, bin) => rm(bin)],
  [
    'a flipped bit in hnsw-*.bin',
    (_dir, bin) => readFile(bin).then((buf) => flipBit(bin, buf.length >> 1, 3)),
  ],
  [
    'a truncated hnsw-*.bin',
    async (_dir, bin) => writeFile(bin, (await readFile(bin)).subarray(0, 100)),
  ],
  ['a missing hnsw-*.labels', (_dir, bin) => rm(bin.replace(/\.bin$/, '.labels'))],
  [
    'a flipped bit in hnsw-*.labels',
    (_dir, bin) => flipBit(bin.replace(/\.bin$/, '.labels'), 2, 0),
  ],
];

test('a missing or garbled index snapshot is rebuilt from the warm tier and recall stays correct', async (t) => {
  const work = await tempDir('engram-snapshot-');
  const image = join(work, 'image');
  const stored = memories('s', 40, seededRandom(2));
  let registry = await Registry.open({ dataRoot: image });
  await registry.createSpace(VICTIM, { dimension: DIM });
  await writeAll(registry, VICTIM, stored);
  await registry.close();
  const indexFiles = await readdir(join(image, VICTIM, 'index'));
  const bin = indexFiles.find((n) => n.startsWith('hnsw-') && n.endsWith('.bin'));
  assert.ok(
    bin && indexFiles.includes('snapshot.json'),
    `a snapshot was written: ${indexFiles.join(', ')}`,
  );

  const recallIsExact = async (space: SpaceHandle, label: string): Promise<void> => {
    for (const m of stored) {
      const [best] = await space.recall(m.vector, { k: 1 });
      assert.equal(best?.memory.id, m.id, `${label}: recall by the vector of ${m.id}`);
    }
    const all = await space.recall(stored[0]!.vector, { k: stored.length });
    assert.equal(all.length, stored.length, `${label}: every memory is in the index`);
  };

  for (const [name, damage] of SNAPSHOT_DAMAGE) {
    await t.test(name, async () => {
      const copy = join(work, name.replace(/\W+/g, '-'));
      await withCopy(
        image,
        copy,
        (root) => damage(join(root, VICTIM, 'index'), join(root, VICTIM, 'index', bin)),
        async (registry, logger) => {
          const space = await registry.space(VICTIM);
          await recallIsExact(space, name);
          const rebuilt = logger.lines.filter(
            (l) => l.message === 'vector index rebuilt from the warm tier',
          );
          assert.equal(rebuilt.length, 1, 'the rebuild is logged');
          assert.equal(rebuilt[0]!.fields.inserted, stored.length);
          assert.deepEqual(
            logger.recoveries(VICTIM).map((r) => r.corrupted),
            [0],
          );
        },
      );
      // The close wrote a fresh snapshot: the next open loads it instead of rebuilding.
      const logger = recordingLogger();
      registry = await Registry.open({ dataRoot: copy }, { logger });
      try {
        await recallIsExact(await registry.space(VICTIM), `${name}, reopened`);
      } finally {
        await registry.close();
      }
      assert.ok(!logger.lines.some((l) => l.message === 'vector index rebuilt from the warm tier'));
    });
  }
});

test('a graph holding more deleted nodes than live ones is compacted, and such a snapshot is rebuilt at open', async () => {
  const dataRoot = await tempDir('engram-bloated-');
  const indexDir = join(dataRoot, VICTIM, 'index');
  const stored = memories('b', 1100, seededRandom(5));
  let registry = await Registry.open({ dataRoot, durability: 'none' });
  await registry.createSpace(VICTIM, { dimension: DIM });
  await writeAll(registry, VICTIM, stored);
  const space = await registry.space(VICTIM);
  const kept = stored.slice(0, 40);
  for (const m of stored.slice(40)) assert.equal(await space.forget(m.id), true);
  await registry.close();

  const manifest = async () =>
    JSON.parse(await readFile(join(indexDir, 'snapshot.json'), 'utf8')) as {
      lsn: number;
      labels_bytes: number;
    };
  // The index thread compacts the graph once 1,024 deleted nodes outnumber the live ones; when
  // it has not finished by the close, the open below rebuilds it. Either way the graph left has
  // 40 nodes. To make sure the open's own rebuild is exercised, the snapshot is bloated here.
  const params = { m: 16, efConstruction: 200, efSearch: 64 };
  const loaded = await HnswIndex.load(nodeFileSystem, indexDir, DIM, params);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.reason);
  const random = seededRandom(6);
  for (let i = 0; i < 1100; i++) {
    const label = 1_000_000 + i; // labels no memory has: deleted again at once
    loaded.index.apply({ op: 'upsert', label, vector: randomVector(random, DIM) });
    loaded.index.apply({ op: 'delete', label });
  }
  const deleted = loaded.index.deletedNodes;
  assert.ok(deleted >= 1100);
  const { lsn } = await manifest();
  await publishSnapshot(nodeFileSystem, indexDir, lsn, DIM, (files) =>
    loaded.index.writeFiles(files),
  );

  const opened = async (): Promise<ReturnType<typeof recordingLogger>> => {
    const logger = recordingLogger();
    registry = await Registry.open({ dataRoot }, { logger });
    try {
      const reopened = await registry.space(VICTIM);
      for (const m of kept) {
        const [best] = await reopened.recall(m.vector, { k: 1 });
        assert.equal(best?.memory.id, m.id, `recall by the vector of ${m.id}`);
      }
      const all = await reopened.recall(kept[0]!.vector, { k: 100 });
      assert.deepEqual(all.map((hit) => hit.memory.id).sort(), kept.map((m) => m.id).sort());
    } finally {
      await registry.close();
    }
    return logger;
  };
  const rebuilt = (await opened()).lines.filter(
    (l) => l.message === 'vector index rebuilt from the warm tier',
  );
  assert.equal(rebuilt.length, 1, 'the rebuild is logged');
  assert.equal(
    rebuilt[0]!.fields.reason,
    `the snapshot has ${deleted} deleted nodes and 40 live ones`,
  );
  assert.equal(rebuilt[0]!.fields.inserted, kept.length);
  // The close wrote the rebuilt graph's snapshot: 40 nodes, loaded as it is the next time.
  assert.equal((await manifest()).labels_bytes, 40 * 4);
  const again = await opened();
  assert.ok(!again.lines.some((l) => l.message === 'vector index rebuilt from the warm tier'));
});

// ---- the warm tier ----------------------------------------------------------------------------

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs in a child process (LMDB is native code: if it crashes on a damaged file, it takes the
 * whole process down, and this test must report that rather than die with it).
 */
const CHILD = `
const [engine, dataRoot] = process.argv.slice(1);
const { Registry } = await import(engine);
const registry = await Registry.open({ dataRoot });
const out = {};
try {
  out.spaces = await registry.listSpaces();
  const victim = await registry.space('${VICTIM}');
  out.victimGet = await victim.get('w-000').then(() => 'ok', (e) => e.code);
  out.victimRemember = await victim.remember({ content: 'x' }).then(() => 'ok', (e) => e.code);
  const bystander = await registry.space('${BYSTANDER}');
  out.bystanderGet = (await bystander.get('b-000'))?.content ?? null;
  out.bystanderRecall = (await bystander.recall(${JSON.stringify([...randomVector(seededRandom(9), DIM)])}, { k: 100 })).length;
  out.bystanderRemember = (await bystander.remember({ id: 'later', content: 'still writable' })).id;
} finally {
  await registry.close();
}
process.stdout.write(JSON.stringify(out));
`;

function runChild(
  dataRoot: string,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        CHILD,
        join(REPO, 'engine', 'index.ts'),
        dataRoot,
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('an unreadable LMDB environment quarantines only its space', async () => {
  const dataRoot = await tempDir();
  const random = seededRandom(5);
  const registry = await Registry.open({ dataRoot });
  await registry.createSpace(VICTIM, { dimension: DIM });
  await registry.createSpace(BYSTANDER, { dimension: DIM });
  await writeAll(registry, VICTIM, memories('w', 5, random));
  const bystander = memories('b', 5, random);
  await writeAll(registry, BYSTANDER, bystander);
  await registry.close();

  const dataMdb = join(dataRoot, VICTIM, 'warm', 'data.mdb');
  const garbage = Buffer.alloc((await stat(dataMdb)).size);
  const fill = seededRandom(6);
  for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(fill() * 256);
  await writeFile(dataMdb, garbage);

  const result = await runChild(dataRoot);
  assert.equal(
    result.signal,
    null,
    `the process was killed by ${result.signal} opening a space whose data.mdb is garbage ` +
      `(stderr: ${result.stderr.trim().split('\n').slice(-3).join(' | ')})`,
  );
  assert.equal(result.code, 0, result.stderr);
  const out = JSON.parse(result.stdout) as {
    spaces: Array<{ id: string; state: string; reason?: string }>;
    victimGet: string;
    victimRemember: string;
    bystanderGet: string | null;
    bystanderRecall: number;
    bystanderRemember: string;
  };
  const victim = out.spaces.find((s) => s.id === VICTIM);
  assert.equal(victim?.state, 'quarantined');
  assert.match(victim.reason ?? '', /warm tier/);
  assert.equal(out.spaces.find((s) => s.id === BYSTANDER)?.state, 'open');
  assert.equal(out.victimGet, 'ENG_SPACE_QUARANTINED');
  assert.equal(out.victimRemember, 'ENG_SPACE_QUARANTINED');
  assert.equal(out.bystanderGet, bystander[0]!.content);
  assert.equal(out.bystanderRecall, bystander.length);
  assert.equal(out.bystanderRemember, 'later');
});

// ---- log segments -----------------------------------------------------------------------------

test('a missing log segment between two others quarantines its space, and only it', async () => {
  const dataRoot = await tempDir();
  const random = seededRandom(8);
  // Tiny segments and no snapshot before close, so several segments exist at once.
  const options = { walSegmentBytesMax: 4096, indexSnapshotEveryRecords: 1_000_000 };
  const stored = memories('g', 60, random).map((m) => ({
    ...m,
    content: `${m.content} ${'.'.repeat(200)}`,
  }));
  const bystander = memories('b', 5, random);
  const registry = await Registry.open({ dataRoot, ...options });
  const image = join(await tempDir(), 'image');
  try {
    await registry.createSpace(VICTIM, { dimension: DIM });
    await registry.createSpace(BYSTANDER, { dimension: DIM });
    await writeAll(registry, VICTIM, stored);
    await writeAll(registry, BYSTANDER, bystander);
    const victim = await registry.space(VICTIM);
    const deadline = Date.now() + 5000;
    while ((await victim.stats()).pendingApply > 0) {
      assert.ok(Date.now() < deadline, 'the warm tier catches up');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // What a kill -9 leaves on disk now: several segments (a clean close would checkpoint and
    // remove all but the active one).
    await cp(dataRoot, image, {
      recursive: true,
      filter: (path) => basename(path) !== 'engram.lock',
    });
  } finally {
    await registry.close();
  }
  const segments = (await readdir(join(image, VICTIM, 'wal')))
    .filter((n) => n.endsWith('.wal'))
    .sort();
  assert.ok(segments.length >= 4, `several segments: ${segments.join(', ')}`);

  // Undamaged, the image opens with every memory (so what follows is the gap's doing).
  await withCopy(
    image,
    join(image, '..', 'intact'),
    async () => undefined,
    async (registry) => {
      const space = await registry.space(VICTIM);
      assert.equal((await space.stats()).memories, stored.length);
    },
    options,
  );

  const middle = segments[Math.floor(segments.length / 2)]!;
  await withCopy(
    image,
    join(image, '..', 'gap'),
    (root) => rm(join(root, VICTIM, 'wal', middle)),
    async (registry) => {
      const summaries = await registry.listSpaces();
      const victim = summaries.find((s) => s.id === VICTIM);
      assert.equal(victim?.state, 'quarantined', `with ${middle} missing`);
      assert.match(victim.reason ?? '', /segment starts at LSN \d+, expected \d+/);
      await assert.rejects((await registry.space(VICTIM)).get(stored[0]!.id), quarantined);
      await assertServes(await registry.space(BYSTANDER), bystander, 'probe');
    },
    options,
  );
});
