/** Cold segment records: round trip, checksum, torn tails, compression and int8 quantization. */
import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  COLD_HEADER_BYTES,
  ColdSegments,
  decodeColdRecordAt,
  dequantize,
  encodeColdRecord,
  quantize,
  scanColdSegment,
  segmentFileName,
} from '../../engine/cold/cold-segments.ts';
import { nodeFileSystem } from '../../engine/file-system.ts';
import type { MemoryRecord } from '../../engine/memory.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const record = (id: string, content: string, lsn = 7): MemoryRecord => ({
  id,
  content,
  metadata: { source: 'test', n: 1 },
  confidence: 0.4,
  memoryType: 'episodic',
  tags: ['a', 'b'],
  observedAt: 1000,
  suppressed: true,
  episode: { what: 'x', who: ['me'] },
  storedAt: 2000,
  updatedAt: 3000,
  lsn,
  hasVector: true,
});

test('a cold record round-trips every field, its vector within the quantization step', () => {
  const vector = randomVector(seededRandom(1), 384);
  const original = record('r1', 'héllo wörld ✓');
  const decoded = decodeColdRecordAt(encodeColdRecord(original, vector), 0);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.entry.record, original);
  const back = dequantize(decoded.entry.vector!);
  const step = Math.max(...vector.map(Math.abs)) / 127;
  for (const [i, v] of vector.entries()) assert.ok(Math.abs(back[i]! - v) <= step / 2 + 1e-7);
  const none = decodeColdRecordAt(encodeColdRecord(record('r2', 'no vector'), null), 0);
  assert.ok(none.ok);
  assert.equal(none.entry.vector, null);
});

test('quantization maps the largest magnitude to 127 and a zero vector to zeros', () => {
  const q = quantize(new Float32Array([0.5, -1, 0.25]));
  assert.deepEqual([...q.values], [64, -127, 32]);
  assert.deepEqual([...dequantize(quantize(new Float32Array(3)))], [0, 0, 0]);
});

test('the checksum catches a flipped bit anywhere in a record', () => {
  const bytes = encodeColdRecord(record('r', 'some content'), new Float32Array([1, 2, 3]));
  for (const offset of [0, 5, 9, 17, COLD_HEADER_BYTES + 3, bytes.length - 1]) {
    const damaged = Buffer.from(bytes);
    damaged[offset] = damaged[offset]! ^ 0x10;
    const decoded = decodeColdRecordAt(damaged, 0);
    assert.equal(decoded.ok, false, `flip at ${offset}`);
  }
});

test('compression shrinks repetitive content', () => {
  const content = 'the same sentence again and again. '.repeat(200);
  const bytes = encodeColdRecord(record('r', content), null);
  assert.ok(bytes.length < content.length / 10, `${bytes.length} bytes for ${content.length}`);
  const decoded = decodeColdRecordAt(bytes, 0);
  assert.ok(decoded.ok);
  assert.equal(decoded.entry.record.content, content);
});

test('segments append durably, read back by location, and a torn tail is ignored', async () => {
  const dir = await tempDir();
  const segments = await ColdSegments.open(nodeFileSystem, dir, { segmentBytesMax: 1 << 20 });
  const items = [0, 1, 2].map((i) => ({
    record: record(`m${i}`, `memory ${i}`, 10 + i),
    vector: new Float32Array([i, 1, -1]),
  }));
  const locations = await segments.append(items);
  assert.deepEqual(
    locations.map((l) => l.lsn),
    [10, 11, 12],
  );
  for (const [i, location] of locations.entries())
    assert.equal(segments.read(location).record.content, `memory ${i}`);
  await segments.close();
  // A crash in the middle of the next append leaves half a record at the end.
  const path = join(dir, segmentFileName(locations[0]!.segment));
  const half = encodeColdRecord(record('m3', 'torn'), null);
  await appendFile(path, half.subarray(0, half.length >> 1));
  const scan = scanColdSegment(await readFile(path));
  assert.equal(scan.entries.length, 3);
  assert.equal(scan.tornTail?.reason, 'payload cut short');
  // Reopened, the next append starts a fresh segment: never after a torn tail.
  const reopened = await ColdSegments.open(nodeFileSystem, dir, { segmentBytesMax: 1 << 20 });
  const [next] = await reopened.append([{ record: record('m4', 'after'), vector: null }]);
  assert.equal(next?.segment, locations[0]!.segment + 1);
  assert.equal(next?.offset, 0);
  assert.equal(reopened.read(locations[2]!).record.id, 'm2');
  // A damaged record is ENG_COLD_CORRUPT, naming the segment and offset.
  const bytes = await readFile(path);
  const at = locations[1]!.offset + COLD_HEADER_BYTES + 2;
  bytes[at] = bytes[at]! ^ 0x01;
  await writeFile(path, bytes);
  const fresh = await ColdSegments.open(nodeFileSystem, dir, { segmentBytesMax: 1 << 20 });
  assert.throws(() => fresh.read(locations[1]!), {
    code: 'ENG_COLD_CORRUPT',
    message: /00000001\.seg:\d+ .* checksum mismatch/,
  });
  await fresh.close();
  await reopened.close();
});

test('a segment past its size limit is closed and the next append starts a new one', async () => {
  const dir = await tempDir();
  const segments = await ColdSegments.open(nodeFileSystem, dir, { segmentBytesMax: 300 });
  const one = (i: number) => [{ record: record(`m${i}`, `memory ${i} `.repeat(10)), vector: null }];
  const [a] = await segments.append(one(0));
  const [b] = await segments.append(one(1));
  const [c] = await segments.append(one(2));
  assert.equal(a?.segment, 1);
  assert.ok(b!.segment === 1 || b!.segment === 2);
  assert.ok(c!.segment > a.segment);
  assert.equal(segments.read(c!).record.id, 'm2');
  await segments.close();
});
