/**
 * Tier moves applied to the warm tier directly (real LMDB and cold segments): a demote moves
 * exactly the version it copied, a change logged in between turns it into a no-op, a replay
 * changes nothing, and promote / update / put / delete of a cold memory leave one copy.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ColdSegments } from '../../engine/cold/cold-segments.ts';
import { nodeFileSystem } from '../../engine/file-system.ts';
import type { LogEntry, SequencedEntry } from '../../engine/log-entry.ts';
import type { MemoryRecord } from '../../engine/memory.ts';
import { WarmStore } from '../../engine/warm/warm-store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = await tempDir();
const warm = WarmStore.open(join(dir, 'warm'));
const segments = await ColdSegments.open(nodeFileSystem, join(dir, 'cold'), {
  segmentBytesMax: 1 << 20,
});
after(async () => {
  await segments.close();
  await warm.close();
});

let lsn = 0;
const apply = (...entries: LogEntry[]) =>
  warm.apply(
    entries.map((entry): SequencedEntry => ({ lsn: ++lsn, entry })),
    segments,
  );
const put = (id: string, content: string): LogEntry => ({
  kind: 'put',
  record: {
    id,
    content,
    metadata: {},
    confidence: 0.5,
    memoryType: 'semantic',
    tags: [],
    observedAt: 1,
    suppressed: false,
    storedAt: 1,
    updatedAt: 1,
    hasVector: true,
  },
  vector: new Float32Array([1, 0.5, -0.25]),
});

/** Copies the current warm version to a segment and returns the demote entry naming it. */
async function copyToCold(id: string): Promise<LogEntry> {
  const record = warm.getRecord(id) as MemoryRecord;
  const [location] = await segments.append([{ record, vector: warm.getVector(id)! }]);
  return { kind: 'demote', items: [{ id, ...location! }] };
}

const where = (id: string) => ({
  warm: warm.getRecord(id)?.content,
  cold: warm.coldLocation(id) && segments.read(warm.coldLocation(id)!).record.content,
});

test('a demote moves the version it copied, in one transaction, with its index label', async () => {
  await apply(put('a', 'alpha'));
  const ops = await apply(await copyToCold('a'));
  assert.deepEqual(where('a'), { warm: undefined, cold: 'alpha' });
  assert.equal(warm.getVector('a'), undefined);
  assert.equal(ops[0]![0]!.op, 'delete');
  assert.equal(warm.count(), 0);
  assert.equal(warm.coldCount(), 1);
});

test('a change logged between the copy and the demote makes the demote a no-op', async () => {
  await apply(put('b', 'beta'));
  const demote = await copyToCold('b');
  await apply({ kind: 'update', id: 'b', patch: { content: 'beta 2' }, updatedAt: 2 }, demote);
  assert.deepEqual(where('b'), { warm: 'beta 2', cold: undefined });
  await apply(put('c', 'gamma'));
  const demoteC = await copyToCold('c');
  await apply({ kind: 'delete', id: 'c' }, demoteC);
  assert.deepEqual(where('c'), { warm: undefined, cold: undefined });
});

test('replaying an applied demote changes nothing', async () => {
  await apply(put('d', 'delta'));
  const demote = await copyToCold('d');
  await apply(demote);
  const before = warm.appliedLsn();
  await warm.apply([{ lsn: before, entry: demote }], segments);
  assert.deepEqual(where('d'), { warm: undefined, cold: 'delta' });
});

test('promote, update, put and delete of a cold memory each leave one copy or none', async () => {
  for (const id of ['p', 'u', 'r', 'x']) {
    await apply(put(id, `${id} old`));
    await apply(await copyToCold(id));
  }
  const lsnOf = (id: string) => warm.coldLocation(id)!.lsn;
  await apply({ kind: 'promote', items: [{ id: 'p', lsn: lsnOf('p') + 1 }] }); // stale: no-op
  assert.deepEqual(where('p'), { warm: undefined, cold: 'p old' });
  const ops = await apply({ kind: 'promote', items: [{ id: 'p', lsn: lsnOf('p') }] });
  assert.deepEqual(where('p'), { warm: 'p old', cold: undefined });
  assert.equal(ops[0]![0]!.op, 'upsert');
  const vector = warm.getVector('p')!;
  assert.ok(Math.abs(vector[1]! - 0.5) < 0.005, 'the dequantized vector comes back');
  await apply({ kind: 'update', id: 'u', patch: { confidence: 0.9 }, updatedAt: 5 });
  assert.deepEqual(where('u'), { warm: 'u old', cold: undefined });
  assert.equal(warm.getRecord('u')?.confidence, 0.9);
  await apply(put('r', 'r new'));
  assert.deepEqual(where('r'), { warm: 'r new', cold: undefined });
  await apply({ kind: 'delete', id: 'x' });
  assert.deepEqual(where('x'), { warm: undefined, cold: undefined });
});
