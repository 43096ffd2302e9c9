/**
 * One log record on disk (format version 1, see docs/format/wal.md):
 *
 *   offset size field
 *   0      4    magic        0x4D524745 ("EGRM" little-endian)
 *   4      1    version      1
 *   5      1    type         RECORD_TYPES
 *   6      2    flags        0 (reserved)
 *   8      8    lsn          u64, exactly previous + 1
 *   16     4    length       payload bytes
 *   20     4    crc32        zlib crc32 over bytes 0..19 and the payload
 *   24     n    payload      msgpack (moreTypes) of the record's body
 *
 * The checksum covers the header too, so a flipped bit in the type, LSN or length is caught,
 * not only one in the payload.
 */
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';

export const WAL_MAGIC = 0x4d524745;
export const WAL_FORMAT_VERSION = 1;
export const WAL_HEADER_BYTES = 24;

export const RECORD_TYPES = {
  memoryPut: 1,
  memoryUpdate: 2,
  memoryDelete: 3,
  association: 4,
  spaceSettings: 5,
  tierDemote: 6,
  tierPromote: 7,
} as const;
export type RecordTypeName = keyof typeof RECORD_TYPES;
export type RecordTypeCode = (typeof RECORD_TYPES)[RecordTypeName];
const KNOWN_TYPES = new Set<number>(Object.values(RECORD_TYPES));

/**
 * msgpackr with default options turns a Float32Array into something else on the way back;
 * moreTypes keeps typed arrays as typed arrays. useRecords:false keeps every payload
 * self-describing, so a record never depends on structures defined by another record.
 */
export const payloadCodec = new Packr({ moreTypes: true, useRecords: false });

export interface RawRecord {
  type: RecordTypeCode;
  lsn: number;
  payload: Buffer;
  /** Total bytes on disk, header included. */
  bytes: number;
}

export function encodeRecord(type: RecordTypeCode, lsn: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(WAL_HEADER_BYTES + payload.length);
  out.writeUInt32LE(WAL_MAGIC, 0);
  out.writeUInt8(WAL_FORMAT_VERSION, 4);
  out.writeUInt8(type, 5);
  out.writeUInt16LE(0, 6);
  out.writeBigUInt64LE(BigInt(lsn), 8);
  out.writeUInt32LE(payload.length, 16);
  out.set(payload, WAL_HEADER_BYTES);
  out.writeUInt32LE(checksum(out, 0, payload.length), 20);
  return out;
}

function checksum(buf: Buffer, offset: number, payloadLength: number): number {
  const headerCrc = crc32(buf.subarray(offset, offset + 20));
  const start = offset + WAL_HEADER_BYTES;
  return crc32(buf.subarray(start, start + payloadLength), headerCrc);
}

export type DecodeResult =
  { ok: true; record: RawRecord } | { ok: false; reason: string; truncated: boolean };

/**
 * Decodes the record at `offset`, checking everything before trusting anything: magic,
 * version, type, length bound, that the bytes are all there, then the checksum.
 * `truncated` means the buffer ended inside the record (a torn write looks like this).
 */
export function decodeRecordAt(buf: Buffer, offset: number, payloadBytesMax: number): DecodeResult {
  if (buf.length - offset < WAL_HEADER_BYTES) {
    return { ok: false, reason: 'header cut short', truncated: true };
  }
  if (buf.readUInt32LE(offset) !== WAL_MAGIC)
    return { ok: false, reason: 'bad magic', truncated: false };
  const version = buf.readUInt8(offset + 4);
  if (version !== WAL_FORMAT_VERSION) {
    return { ok: false, reason: `unknown format version ${version}`, truncated: false };
  }
  const type = buf.readUInt8(offset + 5);
  const length = buf.readUInt32LE(offset + 16);
  if (length > payloadBytesMax) {
    return {
      ok: false,
      reason: `payload length ${length} exceeds ${payloadBytesMax}`,
      truncated: false,
    };
  }
  if (offset + WAL_HEADER_BYTES + length > buf.length) {
    return { ok: false, reason: 'payload cut short', truncated: true };
  }
  if (buf.readUInt32LE(offset + 20) !== checksum(buf, offset, length)) {
    return { ok: false, reason: 'checksum mismatch', truncated: false };
  }
  if (!KNOWN_TYPES.has(type) || buf.readUInt16LE(offset + 6) !== 0) {
    return { ok: false, reason: `unknown record type ${type}`, truncated: false };
  }
  const lsn = Number(buf.readBigUInt64LE(offset + 8));
  const start = offset + WAL_HEADER_BYTES;
  return {
    ok: true,
    record: {
      type: type as RecordTypeCode,
      lsn,
      payload: buf.subarray(start, start + length),
      bytes: WAL_HEADER_BYTES + length,
    },
  };
}

/** The first offset after `from` where a complete, checksum-valid record starts, or -1. */
export function findNextValidRecord(buf: Buffer, from: number, payloadBytesMax: number): number {
  for (
    let offset = buf.indexOf(MAGIC_BYTES, from);
    offset !== -1;
    offset = buf.indexOf(MAGIC_BYTES, offset + 1)
  ) {
    if (decodeRecordAt(buf, offset, payloadBytesMax).ok) return offset;
  }
  return -1;
}

const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(WAL_MAGIC, 0);
