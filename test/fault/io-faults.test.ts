/**
 * I/O faults on the log: ENOSPC and EIO on write (plain or O_DSYNC) and on fdatasync, partial
 * and short writes,
 * a failed directory fsync at segment rotation and a failed rename at checkpoint, all injected
 * through the FileSystem seam (test/helpers/faulty-fs.ts). What must hold: a write the disk
 * refused is never acknowledged and never half-visible after a restart, a failed fdatasync is
 * never retried and then acknowledged, and one space's broken log leaves the others serving.
 * Every "after restart" check reopens the data root with the plain nodeFileSystem.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import {
  Registry,
  isEngramError,
  type EngineOptions,
  type WalSyncMethod,
  type ErrorCode,
  type RememberInput,
  type SpaceHandle,
} from '../../engine/index.ts';
import { decodeEntry, type LogEntry } from '../../engine/log-entry.ts';
import { decodeRecordAt } from '../../engine/wal/wal-record.ts';
import {
  FaultyFs,
  gate,
  onWal,
  recordingLogger,
  type FaultRule,
  type FsCall,
  type FsEvent,
  type FsOp,
} from '../helpers/faulty-fs.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const DIM = 8;
const random = seededRandom(20240611);

function memory(id: string, extra = ''): RememberInput & { vector: Float32Array } {
  return {
    id,
    content: `memory ${id}${extra}`,
    metadata: { id },
    vector: randomVector(random, DIM),
  };
}

function code(expected: ErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      isEngramError(error, expected),
      `expected ${expected}, got ${String((error as { code?: string }).code)}: ${String(error)}`,
    );
    return true;
  };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Observes a promise without letting its rejection go unhandled. */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

interface LogOnDisk {
  records: Array<{ lsn: number; entry: LogEntry }>;
  /** Bytes at the end of the last segment that are not a whole valid record. */
  trailingBytes: number;
}

/** Decodes every segment of a space's log straight from disk, as recovery would. */
async function readLog(dataRoot: string, space: string): Promise<LogOnDisk> {
  const walDir = join(dataRoot, space, 'wal');
  const names = (await readdir(walDir)).filter((name) => name.endsWith('.wal')).sort();
  const records: LogOnDisk['records'] = [];
  let trailingBytes = 0;
  for (const name of names) {
    const buf = await readFile(join(walDir, name));
    let offset = 0;
    for (;;) {
      const result = decodeRecordAt(buf, offset, 4 * 1024 * 1024);
      if (!result.ok) break;
      records.push({
        lsn: result.record.lsn,
        entry: decodeEntry(result.record.type, result.record.payload),
      });
      offset += result.record.bytes;
    }
    trailingBytes = buf.length - offset;
  }
  return { records, trailingBytes };
}

function idsIn(log: LogOnDisk): string[] {
  return log.records.flatMap(({ entry }) => (entry.kind === 'put' ? [entry.record.id] : []));
}

/** Opens the data root with the plain file system, runs `fn`, closes; returns the recovery lines. */
async function afterRestart(
  dataRoot: string,
  fn: (registry: Registry) => Promise<void>,
): Promise<ReturnType<ReturnType<typeof recordingLogger>['recoveries']>> {
  const logger = recordingLogger();
  const registry = await Registry.open({ dataRoot }, { logger });
  try {
    await fn(registry);
  } finally {
    await registry.close();
  }
  return logger.recoveries();
}

async function assertHolds(
  space: SpaceHandle,
  present: ReadonlyArray<RememberInput & { vector: Float32Array }>,
  absent: readonly string[],
): Promise<void> {
  for (const m of present) {
    const got = await space.get(m.id!);
    assert.ok(got, `memory ${m.id} after restart`);
    assert.equal(got.content, m.content, `memory ${m.id} after restart`);
    assert.deepEqual(got.metadata, m.metadata);
    assert.deepEqual(await space.getVector(m.id!), m.vector, `vector of ${m.id}`);
  }
  for (const id of absent) assert.equal(await space.get(id), undefined, `${id} must not exist`);
}

async function openFaulty(options: Partial<EngineOptions> = {}): Promise<{
  dataRoot: string;
  fs: FaultyFs;
  registry: Registry;
  logger: ReturnType<typeof recordingLogger>;
}> {
  const dataRoot = await tempDir();
  const fs = new FaultyFs();
  const logger = recordingLogger();
  const registry = await Registry.open({ dataRoot, ...options }, { fs, logger });
  return { dataRoot, fs, registry, logger };
}

/**
 * Under durability fsync a group is made durable by its O_DSYNC write (sync method dsync, the
 * default) or by the fdatasync after its write: the call whose failure means "not durable".
 */
const SYNC_METHODS = [
  { method: 'dsync', syncOp: 'write' },
  { method: 'fdatasync', syncOp: 'datasync' },
] as const satisfies ReadonlyArray<{ method: WalSyncMethod; syncOp: FsOp }>;

/**
 * A failed sync as the disk produces it: a failed O_DSYNC write has put its bytes in the page
 * cache before the sync under it failed, so the injected write writes them all, then fails.
 */
function wholeThenFail(syncOp: FsOp): Partial<FaultRule> {
  return syncOp === 'write' ? { writeBytes: (call: FsCall) => call.length! } : {};
}

const CASES = [
  { op: 'write', errno: 'ENOSPC', expected: 'ENG_DISK_FULL', method: 'dsync' },
  { op: 'write', errno: 'EIO', expected: 'ENG_WAL_IO', method: 'dsync' },
  { op: 'write', errno: 'ENOSPC', expected: 'ENG_DISK_FULL', method: 'fdatasync' },
  { op: 'write', errno: 'EIO', expected: 'ENG_WAL_IO', method: 'fdatasync' },
  { op: 'datasync', errno: 'ENOSPC', expected: 'ENG_DISK_FULL', method: 'fdatasync' },
  { op: 'datasync', errno: 'EIO', expected: 'ENG_WAL_IO', method: 'fdatasync' },
] as const;

for (const { op, errno, expected, method } of CASES) {
  test(`${errno} on a log ${op} (sync method ${method}) fails the write with ${expected}, unacknowledged and absent after restart`, async () => {
    const { dataRoot, fs, registry } = await openFaulty({ walSyncMethod: method });
    const kept = [memory('kept-1'), memory('kept-2'), memory('kept-3')];
    const failed = memory('refused');
    const later = memory('after-the-fault');
    try {
      await registry.createSpace('faulted', { dimension: DIM });
      const space = await registry.space('faulted');
      for (const m of kept) await space.remember(m);

      // A write fault puts part of the record on disk first (the realistic ENOSPC: the disk fills
      // up mid-write); a datasync fault comes after the whole record was written. Either way the
      // writer must cut the segment back.
      const fault = fs.inject({
        op,
        errno,
        when: onWal('faulted'),
        times: 1,
        ...(op === 'write' ? { writeBytes: 40 } : {}),
      });
      await assert.rejects(space.remember(failed), code(expected));
      assert.equal(fault.fired, 1);
      // The writer itself cut the segment back to the last acknowledged record (before any
      // reopen could repair it as a torn tail).
      await fs.settled();
      const cutBack = await readLog(dataRoot, 'faulted');
      assert.equal(cutBack.trailingBytes, 0, 'the refused bytes were cut off the segment');
      assert.deepEqual(idsIn(cutBack), ['kept-1', 'kept-2', 'kept-3']);
      assert.equal(await space.get('refused'), undefined, 'a refused write is not readable');
      const hits = await space.recall(failed.vector, { k: 10 });
      assert.ok(!hits.some((hit) => hit.memory.id === 'refused'), 'nor recallable');

      // The fault was one-off: the registry reopens the space on its next use and it writes again.
      await space.remember(later);
      await assertHolds(space, [...kept, later], ['refused']);
    } finally {
      await registry.close();
    }

    const log = await readLog(dataRoot, 'faulted');
    assert.equal(log.trailingBytes, 0, 'no partial record is left in the log');
    assert.deepEqual(idsIn(log), ['kept-1', 'kept-2', 'kept-3', 'after-the-fault']);
    assert.deepEqual(
      log.records.map((r) => r.lsn),
      [1, 2, 3, 4],
      'LSNs stay contiguous',
    );
    const recoveries = await afterRestart(dataRoot, async (registry) => {
      await assertHolds(await registry.space('faulted'), [...kept, later], ['refused']);
    });
    assert.deepEqual(
      recoveries.map((r) => r.corrupted),
      [0],
    );
  });
}

for (const { method, syncOp } of SYNC_METHODS) {
  test(`a failed sync (${method}: the ${syncOp}) is never retried: queued and later writes fail until the space is reopened`, async () => {
    const { dataRoot, fs, registry, logger } = await openFaulty({ walSyncMethod: method });
    const first = memory('before');
    const after = memory('after-reopen');
    try {
      await registry.createSpace('poisoned', { dimension: DIM });
      const space = await registry.space('poisoned');
      await space.remember(first);

      const syncGate = gate();
      const truncateGate = gate();
      const syncFault = fs.inject({
        op: syncOp,
        errno: 'EIO',
        when: onWal('poisoned'),
        times: 1,
        gate: syncGate.promise,
        ...wholeThenFail(syncOp),
      });
      // Holds the writer's cut-back, so the write queued behind the failed group (and its hold on
      // the space) is still pending while the next writes arrive.
      fs.inject({ op: 'truncate', when: onWal('poisoned'), times: 1, gate: truncateGate.promise });

      const inFlight = settle(space.remember(memory('in-flight')));
      await until(() => syncFault.fired === 1, 'the sync to start');
      const queued = settle(space.remember(memory('queued')));
      syncGate.open();
      const inFlightResult = await inFlight;
      assert.ok(!inFlightResult.ok);
      code('ENG_WAL_IO')(inFlightResult.error);

      // The disk is healthy again, but this log saw a failed sync: nothing it holds in the
      // page cache can be trusted, so it refuses every write until the space is reopened.
      fs.clear();
      await assert.rejects(space.remember(memory('while-poisoned')), code('ENG_WAL_IO'));
      await assert.rejects(space.forget('before'), code('ENG_WAL_IO'));
      assert.equal((await space.get('before'))?.content, first.content, 'reads keep working');

      truncateGate.open();
      const queuedResult = await queued;
      assert.ok(!queuedResult.ok, 'the write queued behind the failed group fails too');
      code('ENG_WAL_IO')(queuedResult.error);

      // Idle now: the registry reopens the space (re-reading the log from disk) and writes succeed.
      await space.remember(after);
      assert.ok(
        logger.lines.some((line) => line.message === 'reopening space after a log write failure'),
      );
    } finally {
      await registry.close();
    }

    const syncs = fs.calls(syncOp, (e) => e.path.includes('/poisoned/wal/'));
    const failedAt = syncs.findIndex((e) => !e.ok);
    assert.notEqual(failedAt, -1);
    const failed = syncs[failedAt]!;
    assert.equal(failed.errno, 'EIO');
    assert.ok(
      !syncs.slice(failedAt + 1).some((e) => e.handle === failed.handle),
      `the file whose ${syncOp} failed is never synced again`,
    );
    const nextOk = syncs.slice(failedAt + 1).find((e) => e.ok);
    assert.ok(nextOk, 'the write after reopening was synced');
    const reread = fs.events.find(
      (e) =>
        e.op === 'readFile' &&
        e.path.includes('/poisoned/wal/') &&
        e.seq > failed.seq &&
        e.seq < nextOk.seq,
    );
    assert.ok(reread, 'the log was re-read from disk before the next acknowledged write');

    const log = await readLog(dataRoot, 'poisoned');
    assert.equal(log.trailingBytes, 0);
    assert.deepEqual(idsIn(log), ['before', 'after-reopen']);
    await afterRestart(dataRoot, async (registry) => {
      await assertHolds(
        await registry.space('poisoned'),
        [first, after],
        ['in-flight', 'queued', 'while-poisoned'],
      );
    });
  });

  test(`all writers of one commit group fail together when its sync (${method}: the ${syncOp}) fails`, async () => {
    const { dataRoot, fs, registry } = await openFaulty({ walSyncMethod: method });
    const leader = memory('leader');
    const group = Array.from({ length: 5 }, (_, i) => memory(`grouped-${i}`));
    try {
      await registry.createSpace('grouped', { dimension: DIM });
      const space = await registry.space('grouped');
      const hold = gate();
      const held = fs.inject({
        op: syncOp,
        when: onWal('grouped'),
        times: 1,
        gate: hold.promise,
      });
      const first = space.remember(leader);
      await until(() => held.fired === 1, 'the first sync to start');
      // These queue while the leader's sync is in flight: one group, one write, one sync.
      const followers = group.map((m) => settle(space.remember(m)));
      fs.inject({
        op: syncOp,
        errno: 'EIO',
        when: onWal('grouped'),
        times: 1,
        ...wholeThenFail(syncOp),
      });
      const writesBefore = fs.calls('write', (e) => e.path.includes('/grouped/wal/')).length;
      hold.open();
      await first;
      const results = await Promise.all(followers);
      for (const result of results) {
        assert.ok(!result.ok, 'no member of the failed group is acknowledged');
        code('ENG_WAL_IO')(result.error);
      }
      // The five really were one group: one write of all five records and one (failed) sync.
      const groupWrites = fs
        .calls('write', (e) => e.path.includes('/grouped/wal/'))
        .slice(writesBefore);
      assert.equal(groupWrites.length, 1);
      const syncs = fs.calls(syncOp, (e) => e.path.includes('/grouped/wal/'));
      assert.deepEqual(
        syncs.map((e) => e.ok),
        [true, false],
      );
      for (const m of group) assert.equal(await space.get(m.id!), undefined);
    } finally {
      await registry.close();
    }
    assert.deepEqual(idsIn(await readLog(dataRoot, 'grouped')), ['leader']);
    await afterRestart(dataRoot, async (registry) => {
      await assertHolds(
        await registry.space('grouped'),
        [leader],
        group.map((m) => m.id!),
      );
    });
  });
}

test('durability fsync opens log segments with O_DSYNC and never fdatasyncs them (sync method dsync); the other modes and methods do not, and none never syncs', async () => {
  const cases: Array<{ options: Partial<EngineOptions>; dsync: boolean; fdatasync: boolean }> = [
    { options: {}, dsync: true, fdatasync: false },
    { options: { walSyncMethod: 'fdatasync' }, dsync: false, fdatasync: true },
    { options: { durability: 'interval', syncIntervalMs: 5 }, dsync: false, fdatasync: true },
    { options: { durability: 'none' }, dsync: false, fdatasync: false },
  ];
  for (const { options, dsync, fdatasync } of cases) {
    const { fs, registry } = await openFaulty({ walSegmentBytesMax: 4096, ...options });
    const label = JSON.stringify(options);
    try {
      await registry.createSpace('synced', { dimension: DIM });
      const space = await registry.space('synced');
      // 4 KiB segments: these rotate, so the opens include segments started by a rotation.
      for (let i = 0; i < 40; i++) await space.remember(memory(`m-${i}`, 'x'.repeat(100)));
      if (options.durability === 'interval')
        await until(
          () => fs.calls('datasync', (e) => onWal('synced')(e)).length > 0,
          'an interval sync',
        );
    } finally {
      await registry.close();
    }
    const opens = fs.calls('openWritable', (e) => onWal('synced')(e));
    assert.ok(opens.length >= 3, `${label}: segments rotated (${opens.length} opened)`);
    for (const open of opens) assert.equal(open.dsync, dsync, `${label}: ${open.path} O_DSYNC`);
    const syncs = fs.calls('datasync', (e) => onWal('synced')(e));
    if (fdatasync) assert.ok(syncs.length > 0, `${label}: the log is fdatasynced`);
    else assert.equal(syncs.length, 0, `${label}: no fdatasync on the log`);
  }
});

test('reopening a log syncs its existing tail before acknowledging anything (an O_DSYNC write flushes only its own bytes)', async () => {
  const dataRoot = await tempDir();
  const unsynced = [memory('written-unsynced-1'), memory('written-unsynced-2')];
  // Durability none: these reach the page cache and are never synced by their writer.
  const first = await Registry.open({ dataRoot, durability: 'none' });
  try {
    await first.createSpace('tail', { dimension: DIM });
    const space = await first.space('tail');
    for (const m of unsynced) await space.remember(m);
  } finally {
    await first.close();
  }
  const fs = new FaultyFs();
  const registry = await Registry.open({ dataRoot }, { fs, logger: recordingLogger() });
  const next = memory('acknowledged');
  try {
    const space = await registry.space('tail');
    await space.remember(next);
    await assertHolds(space, [...unsynced, next], []);
  } finally {
    await registry.close();
  }
  const segment = fs.calls('openWritable', (e) => onWal('tail')(e))[0]!;
  const ack = fs.calls('write', (e) => e.path === segment.path && e.ok)[0];
  assert.ok(ack, 'the new record was written to the reopened segment');
  const tailSync = fs.calls('fsyncFile', (e) => e.path === segment.path && e.ok);
  assert.ok(
    tailSync.some((e) => e.seq < ack.seq),
    `no sync of ${segment.path} before the write acknowledging a new record (#${ack.seq})`,
  );
});

test('a space whose log cannot be written leaves every other space serving', async () => {
  const { dataRoot, fs, registry } = await openFaulty();
  const healthy = Array.from({ length: 6 }, (_, i) => memory(`healthy-${i}`));
  try {
    await registry.createSpace('broken', { dimension: DIM });
    await registry.createSpace('healthy', { dimension: DIM });
    const broken = await registry.space('broken');
    const good = await registry.space('healthy');
    await broken.remember(memory('broken-0'));
    fs.inject({ op: 'write', errno: 'EIO', when: onWal('broken') }); // every write, until cleared

    for (const [i, m] of healthy.entries()) {
      const [b, h] = await Promise.all([
        settle(broken.remember(memory(`broken-${i + 1}`))),
        good.remember(m),
      ]);
      assert.ok(!b.ok, 'the broken space keeps refusing writes');
      code('ENG_WAL_IO')(b.error);
      assert.equal(h.id, m.id);
    }
    await assertHolds(good, healthy, []);
    const hits = await good.recall(healthy[3]!.vector, { k: 1 });
    assert.equal(hits[0]?.memory.id, 'healthy-3');
    assert.equal((await broken.get('broken-0'))?.content, 'memory broken-0', 'and serves reads');
    const states = Object.fromEntries((await registry.listSpaces()).map((s) => [s.id, s.state]));
    assert.deepEqual(
      states,
      { broken: 'open', healthy: 'open' },
      'a write fault is not a quarantine',
    );

    fs.clear();
    await broken.remember(memory('broken-healed'));
  } finally {
    await registry.close();
  }
  await afterRestart(dataRoot, async (registry) => {
    await assertHolds(await registry.space('healthy'), healthy, []);
    const broken = await registry.space('broken');
    assert.deepEqual(
      (await broken.list({ limit: 100 })).memories.map((m) => m.id),
      ['broken-0', 'broken-healed'],
    );
  });
});

test('short writes are completed by the writer and the log reads back intact', async () => {
  const { dataRoot, fs, registry } = await openFaulty();
  const shortRandom = seededRandom(7);
  // Every log write puts at most 1..64 bytes on disk and says so.
  fs.inject({
    op: 'write',
    when: onWal('short'),
    writeBytes: () => 1 + Math.floor(shortRandom() * 64),
  });
  const sequential = Array.from({ length: 8 }, (_, i) =>
    memory(`seq-${i}`, ' '.padEnd(i * 37, 'x')),
  );
  const concurrent = Array.from({ length: 24 }, (_, i) => memory(`par-${i}`));
  try {
    await registry.createSpace('short', { dimension: DIM });
    const space = await registry.space('short');
    for (const m of sequential) await space.remember(m);
    await Promise.all(concurrent.map((m) => space.remember(m)));
    await assertHolds(space, [...sequential, ...concurrent], []);
  } finally {
    await registry.close();
  }
  const writes = fs.calls('write', (e) => e.path.includes('/short/wal/'));
  const shortened = writes.filter((e: FsEvent) => e.injected && e.written! < e.length!);
  assert.ok(shortened.length > 0, 'some writes were short');
  assert.ok(writes.every((e) => e.ok));

  const log = await readLog(dataRoot, 'short');
  assert.equal(log.trailingBytes, 0);
  assert.equal(log.records.length, sequential.length + concurrent.length);
  assert.deepEqual(
    log.records.map((r) => r.lsn),
    log.records.map((_, i) => i + 1),
  );
  const recoveries = await afterRestart(dataRoot, async (registry) => {
    await assertHolds(await registry.space('short'), [...sequential, ...concurrent], []);
  });
  assert.deepEqual(
    recoveries.map((r) => r.corrupted),
    [0],
  );
});

test('a log write that makes no progress fails with ENG_WAL_IO instead of looping', async () => {
  const { dataRoot, fs, registry } = await openFaulty();
  try {
    await registry.createSpace('stuck', { dimension: DIM });
    const space = await registry.space('stuck');
    await space.remember(memory('ok'));
    fs.inject({ op: 'write', when: onWal('stuck'), writeBytes: 0, times: 1 });
    await assert.rejects(space.remember(memory('never')), code('ENG_WAL_IO'));
  } finally {
    await registry.close();
  }
  assert.deepEqual(idsIn(await readLog(dataRoot, 'stuck')), ['ok']);
});

test('a partial write whose cut-back also fails is dropped as a torn tail at the next open', async () => {
  const { dataRoot, fs, registry } = await openFaulty();
  const kept = [memory('kept-a'), memory('kept-b')];
  try {
    await registry.createSpace('torn', { dimension: DIM });
    const space = await registry.space('torn');
    for (const m of kept) await space.remember(m);
    fs.inject({ op: 'write', errno: 'ENOSPC', writeBytes: 50, when: onWal('torn'), times: 1 });
    fs.inject({ op: 'truncate', errno: 'EIO', when: onWal('torn'), times: 1 });
    await assert.rejects(space.remember(memory('half-written')), code('ENG_DISK_FULL'));
  } finally {
    await registry.close();
  }
  // The worst case on disk: 50 bytes of the refused record follow the last good one.
  const before = await readLog(dataRoot, 'torn');
  assert.equal(before.trailingBytes, 50);
  const first = await afterRestart(dataRoot, async (registry) => {
    await assertHolds(await registry.space('torn'), kept, ['half-written']);
  });
  assert.deepEqual(
    first.map((r) => r.corrupted),
    [1],
    'the torn tail is reported',
  );
  assert.equal((await readLog(dataRoot, 'torn')).trailingBytes, 0, 'and cut off');
  const second = await afterRestart(dataRoot, async (registry) => {
    await assertHolds(await registry.space('torn'), kept, ['half-written']);
  });
  assert.deepEqual(
    second.map((r) => r.corrupted),
    [0],
  );
});

for (const { method, syncOp } of SYNC_METHODS) {
  test(`if the cut-back after a failed sync (${method}) fails too, the unacknowledged record returns whole or not at all`, async () => {
    const { dataRoot, fs, registry } = await openFaulty({ walSyncMethod: method });
    const kept = memory('kept');
    const unacked = memory('unacknowledged');
    try {
      await registry.createSpace('whole', { dimension: DIM });
      const space = await registry.space('whole');
      await space.remember(kept);
      // The whole group reaches the file and then its sync fails: with O_DSYNC, the write itself.
      fs.inject({
        op: syncOp,
        errno: 'EIO',
        when: onWal('whole'),
        times: 1,
        ...wholeThenFail(syncOp),
      });
      fs.inject({ op: 'truncate', errno: 'EIO', when: onWal('whole'), times: 1 });
      await assert.rejects(space.remember(unacked), code('ENG_WAL_IO'));
    } finally {
      await registry.close();
    }
    const log = await readLog(dataRoot, 'whole');
    assert.equal(log.trailingBytes, 0, 'never a partial record');
    const recoveries = await afterRestart(dataRoot, async (registry) => {
      const space = await registry.space('whole');
      await assertHolds(space, [kept], []);
      const back = await space.get('unacknowledged');
      if (back) await assertHolds(space, [unacked], []); // documented: complete and checksummed
    });
    assert.deepEqual(
      recoveries.map((r) => r.corrupted),
      [0],
    );
  });

  test(`a new log segment whose directory fsync failed is made durable before a record in it is acknowledged (${method})`, async () => {
    const { dataRoot, fs, registry } = await openFaulty({
      walSegmentBytesMax: 4096,
      walSyncMethod: method,
    });
    const written: Array<RememberInput & { vector: Float32Array }> = [];
    const walDir = join(dataRoot, 'rotating', 'wal');
    try {
      await registry.createSpace('rotating', { dimension: DIM });
      const space = await registry.space('rotating');
      await space.stats(); // opens the space (and creates its first segment) before the fault
      const dirFault = fs.inject({
        op: 'fsyncDir',
        errno: 'EIO',
        when: (call) => call.path === walDir,
        times: 1,
      });
      // Write until a rotation happens; the record that filled the segment is acknowledged first.
      while (dirFault.fired === 0) {
        const m = memory(`r-${written.length}`, ' '.padEnd(200, '.'));
        await space.remember(m);
        written.push(m);
        await fs.settled(); // a rotation runs after the acknowledgement: let it finish
        assert.ok(written.length < 100, 'the segment never rotated');
      }
      const failedDirSync = fs.calls('fsyncDir', (e) => e.path === walDir && !e.ok)[0];
      assert.equal(failedDirSync?.errno, 'EIO');

      const next = memory('in-the-new-segment');
      await space.remember(next);
      written.push(next);

      // The sync that acknowledged `next`, and every directory fsync before it.
      const ack = fs.calls(syncOp, (e) => e.path.startsWith(walDir) && e.ok).at(-1)!;
      const newSegment = fs
        .calls('openWritable', (e) => e.path.startsWith(walDir) && e.seq < failedDirSync.seq)
        .at(-1);
      assert.ok(newSegment, 'the rotation created a segment');
      assert.equal(ack.path, newSegment.path, 'the record went to the new segment');
      const durableDir = fs.calls(
        'fsyncDir',
        (e) => e.path === walDir && e.ok && e.seq > failedDirSync.seq && e.seq < ack.seq,
      );
      assert.ok(
        durableDir.length > 0,
        `no successful fsync of ${walDir} between the failed one (#${failedDirSync.seq}) and the ` +
          `${syncOp} acknowledging a record in ${newSegment.path} (#${ack.seq}): a power loss can ` +
          'drop the segment, and that acknowledged record with it',
      );
    } finally {
      await registry.close();
      await afterRestart(dataRoot, async (registry) => {
        await assertHolds(await registry.space('rotating'), written, []);
      });
    }
  });
}

test('a failed rename while snapshotting the index at close loses nothing', async () => {
  const { dataRoot, fs, registry, logger } = await openFaulty();
  const stored = Array.from({ length: 12 }, (_, i) => memory(`snap-${i}`));
  try {
    await registry.createSpace('snapshot', { dimension: DIM });
    const space = await registry.space('snapshot');
    for (const m of stored) await space.remember(m);
    fs.inject({
      op: 'rename',
      errno: 'EIO',
      when: (call) => call.path.includes('/snapshot/index/'),
    });
  } finally {
    await registry.close();
  }
  assert.ok(
    logger.lines.some((line) => line.message === 'space closed without a final checkpoint'),
  );
  await afterRestart(dataRoot, async (registry) => {
    const space = await registry.space('snapshot');
    await assertHolds(space, stored, []);
    for (const m of stored) {
      const [hit] = await space.recall(m.vector, { k: 1 });
      assert.equal(hit?.memory.id, m.id);
    }
  });
});
