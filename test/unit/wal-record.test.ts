import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  RECORD_TYPES,
  WAL_HEADER_BYTES,
  decodeRecordAt,
  encodeRecord,
  findNextValidRecord,
  payloadCodec,
} from '../../engine/wal/wal-record.ts';

const MAX = 1 << 20;

test('a record decodes to the type, LSN and payload it was encoded with', () => {
  const payload = Buffer.from('hello world');
  const bytes = encodeRecord(RECORD_TYPES.memoryPut, 42, payload);
  assert.equal(bytes.length, WAL_HEADER_BYTES + payload.length);
  const result = decodeRecordAt(bytes, 0, MAX);
  assert.ok(result.ok);
  assert.equal(result.record.lsn, 42);
  assert.equal(result.record.type, RECORD_TYPES.memoryPut);
  assert.deepEqual(result.record.payload, payload);
});

test('every single-bit flip in header or payload is detected', () => {
  const bytes = encodeRecord(
    RECORD_TYPES.memoryUpdate,
    7,
    payloadCodec.pack({ kind: 'x', n: [1, 2, 3] }),
  );
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    const flipped = Buffer.from(bytes);
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(decodeRecordAt(flipped, 0, MAX).ok, false, `flip of bit ${bit} went unnoticed`);
  }
});

test('a record cut short at any length is reported as truncated', () => {
  const bytes = encodeRecord(RECORD_TYPES.memoryDelete, 1, Buffer.alloc(100, 7));
  for (let cut = 0; cut < bytes.length; cut++) {
    const result = decodeRecordAt(bytes.subarray(0, cut), 0, MAX);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.truncated, true, `cut at ${cut}`);
  }
});

test('a length above the payload limit is refused before any allocation', () => {
  const bytes = encodeRecord(RECORD_TYPES.memoryPut, 1, Buffer.alloc(2048));
  const result = decodeRecordAt(bytes, 0, 1024);
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.reason : '', /exceeds/);
});

test('the scanner finds the next valid record after garbage', () => {
  const first = encodeRecord(RECORD_TYPES.memoryPut, 1, Buffer.from('a'));
  const second = encodeRecord(RECORD_TYPES.memoryPut, 2, Buffer.from('b'));
  const buf = Buffer.concat([first, Buffer.from('garbage!'), second]);
  assert.equal(findNextValidRecord(buf, 1, MAX), first.length + 8);
  assert.equal(findNextValidRecord(buf, first.length + 9, MAX), -1);
});

test('a Float32Array round-trips bit for bit through the payload codec', () => {
  const vector = new Float32Array([0.1, -2.5, 1e-38, 3.4e38, Math.PI, -0]);
  const back = payloadCodec.unpack(payloadCodec.pack({ vector })) as { vector: unknown };
  assert.ok(back.vector instanceof Float32Array);
  assert.deepEqual(
    Buffer.from(back.vector.buffer, back.vector.byteOffset, back.vector.byteLength),
    Buffer.from(vector.buffer),
  );
});
