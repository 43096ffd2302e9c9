/**
 * Hostile bytes against the WAL record decoder: random buffers, and real records with a bit
 * flipped, bytes cut off or garbage appended. The decoder never throws and never accepts a
 * record whose bytes are not exactly the ones written; a body that passes the checksum but is
 * not a log entry fails decodeEntry with an error (recovery quarantines), never a crash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeEntry, encodeEntry, recordTypeOf, type LogEntry } from '../../engine/log-entry.ts';
import { RECORD_TYPES, decodeRecordAt, encodeRecord } from '../../engine/wal/wal-record.ts';
import { fuzzParameters } from '../helpers/fuzz.ts';
import { testRecord } from '../helpers/records.ts';

const MAX_PAYLOAD = 1 << 20;

const entry: fc.Arbitrary<LogEntry> = fc.oneof(
  fc.record({
    kind: fc.constant('delete' as const),
    id: fc.string({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constant('association' as const),
    from: fc.string({ minLength: 1, maxLength: 20 }),
    to: fc.string({ minLength: 1, maxLength: 20 }),
    // msgpack writes -0 as the integer 0: a weight has no sign of zero to keep.
    weight: fc.double({ noNaN: true }).map((w) => w + 0),
  }),
  fc
    .record({
      id: fc.string({ minLength: 1, maxLength: 40 }),
      content: fc.string({ maxLength: 200 }),
      vector: fc.option(fc.float32Array({ minLength: 1, maxLength: 16 }), { nil: null }),
    })
    .map(({ id, content, vector }): LogEntry => ({
      kind: 'put',
      record: (({ lsn: _lsn, ...body }) => body)(
        testRecord(id, { content, hasVector: vector !== null }),
      ),
      vector,
    })),
);

const encoded = fc.tuple(entry, fc.integer({ min: 1, max: 2 ** 40 })).map(([e, lsn]) => ({
  entry: e,
  lsn,
  bytes: encodeRecord(recordTypeOf(e), lsn, encodeEntry(e)),
}));

test('random bytes never make the decoder throw, and are never taken for a record', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(600), (bytes, at) => {
      const buf = Buffer.from(bytes);
      const result = decodeRecordAt(buf, Math.min(at, buf.length), MAX_PAYLOAD);
      assert.equal(result.ok, false);
    }),
    fuzzParameters('wal random bytes', 5000),
  );
});

test('a record with one bit flipped, cut short or followed by garbage is never misread', () => {
  fc.assert(
    fc.property(
      encoded,
      fc.nat(),
      fc.nat(7),
      fc.uint8Array({ maxLength: 64 }),
      ({ entry: original, lsn, bytes }, position, bit, garbage) => {
        const intact = decodeRecordAt(Buffer.concat([bytes, garbage]), 0, MAX_PAYLOAD);
        assert.ok(intact.ok, 'an intact record decodes whatever follows it');
        assert.equal(intact.record.lsn, lsn);
        // structuredClone: fast-check builds objects without a prototype.
        assert.deepEqual(
          decodeEntry(intact.record.type, intact.record.payload),
          structuredClone(original),
        );

        const flipped = Buffer.from(bytes);
        flipped[position % flipped.length]! ^= 1 << bit;
        const damaged = decodeRecordAt(flipped, 0, MAX_PAYLOAD);
        assert.equal(damaged.ok, false, 'CRC32 catches every single-bit error');

        const cut = decodeRecordAt(bytes.subarray(0, position % bytes.length), 0, MAX_PAYLOAD);
        assert.equal(cut.ok, false);
        assert.equal(cut.ok === false && cut.truncated, true, 'a record cut short is a torn tail');
      },
    ),
    fuzzParameters('wal damaged records', 3000),
  );
});

test('a checksum-valid body that is not a log entry is an error, never a crash', () => {
  const types = Object.values(RECORD_TYPES);
  fc.assert(
    fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 256 }), (type, body) => {
      const record = decodeRecordAt(encodeRecord(type, 1, body), 0, MAX_PAYLOAD);
      assert.ok(record.ok);
      try {
        const decoded = decodeEntry(record.record.type, record.record.payload);
        assert.equal(recordTypeOf(decoded), type, 'whatever decodes has the kind its type says');
      } catch (error) {
        assert.ok(error instanceof Error, 'fails with an Error');
      }
    }),
    fuzzParameters('wal entry bodies', 3000),
  );
});
