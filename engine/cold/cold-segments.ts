/**
 * Cold segments: the cold tier's append-only files, `<space>/cold/NNNNNNNN.seg` (format version 1,
 * see docs/format/cold.md). One record per demoted memory:
 *
 *   offset size field
 *   0      4    magic        0x444C4F43 ("COLD" little-endian)
 *   4      1    version      1
 *   5      1    codec        0 = content stored as UTF-8, 1 = content deflate-raw compressed
 *   6      2    reserved     0
 *   8      8    lsn          u64, the LSN of the memory version this record holds
 *   16     4    length       payload bytes
 *   20     4    crc32        over bytes 0..19 and the payload
 *   24     n    payload      msgpack (moreTypes) of { r: record without content, c: content
 *                            bytes, q: int8 vector or null, s: its scale }
 *
 * Vectors are quantized symmetrically per vector: q = round(v / maxabs * 127), v' = q * maxabs / 127
 * (lossy: a promoted memory comes back with v'). Records are found through the catalog (an LMDB
 * database in the warm tier), never by scanning, so a record that no log entry points to (a
 * crash between the fsync here and the demote log record) is unreferenced garbage, not a memory.
 * Each open appends to a fresh segment, so a torn tail left by a crash is never appended after.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import { EngramError } from '../errors.ts';
import type { FileSystem, WritableFile } from '../file-system.ts';
import type { MemoryRecord } from '../memory.ts';

export const COLD_MAGIC = 0x444c4f43;
export const COLD_FORMAT_VERSION = 1;
export const COLD_HEADER_BYTES = 24;
const CODEC_RAW = 0;
const CODEC_DEFLATE = 1;
const SEGMENT_NAME = /^(\d{8})\.seg$/;

/** moreTypes keeps Int8Array an Int8Array; useRecords:false keeps each payload self-describing. */
const codec = new Packr({ moreTypes: true, useRecords: false });

/** Where one cold record lives; `length` counts the header too. `lsn` is the memory's version. */
export interface ColdLocation {
  segment: number;
  offset: number;
  length: number;
  lsn: number;
}

export interface QuantizedVector {
  values: Int8Array;
  /** v' = values[i] * scale */
  scale: number;
}

export interface ColdEntry {
  record: MemoryRecord;
  vector: QuantizedVector | null;
}

export function quantize(vector: Float32Array): QuantizedVector {
  let maxAbs = 0;
  for (const v of vector) maxAbs = Math.max(maxAbs, Math.abs(v));
  const values = new Int8Array(vector.length);
  if (maxAbs === 0) return { values, scale: 0 };
  for (const [i, v] of vector.entries()) values[i] = Math.round((v / maxAbs) * 127);
  return { values, scale: maxAbs / 127 };
}

export function dequantize({ values, scale }: QuantizedVector): Float32Array {
  const out = new Float32Array(values.length);
  for (const [i, q] of values.entries()) out[i] = q * scale;
  return out;
}

export function encodeColdRecord(record: MemoryRecord, vector: Float32Array | null): Buffer {
  const { content, ...rest } = record;
  const raw = Buffer.from(content, 'utf8');
  const deflated = deflateRawSync(raw);
  const compressed = deflated.length < raw.length;
  const q = vector ? quantize(vector) : null;
  const payload = codec.pack({
    r: rest,
    c: compressed ? deflated : raw,
    q: q?.values ?? null,
    s: q?.scale ?? 0,
  });
  const out = Buffer.alloc(COLD_HEADER_BYTES + payload.length);
  out.writeUInt32LE(COLD_MAGIC, 0);
  out.writeUInt8(COLD_FORMAT_VERSION, 4);
  out.writeUInt8(compressed ? CODEC_DEFLATE : CODEC_RAW, 5);
  out.writeBigUInt64LE(BigInt(record.lsn), 8);
  out.writeUInt32LE(payload.length, 16);
  out.set(payload, COLD_HEADER_BYTES);
  out.writeUInt32LE(crcOf(out, 0, payload.length), 20);
  return out;
}

function crcOf(buf: Buffer, offset: number, payloadLength: number): number {
  const start = offset + COLD_HEADER_BYTES;
  return crc32(
    buf.subarray(start, start + payloadLength),
    crc32(buf.subarray(offset, offset + 20)),
  );
}

export type ColdDecode =
  { ok: true; entry: ColdEntry; bytes: number } | { ok: false; reason: string; truncated: boolean };

/** Checks magic, version, length, completeness and checksum before trusting a byte of the payload. */
export function decodeColdRecordAt(buf: Buffer, offset: number): ColdDecode {
  if (buf.length - offset < COLD_HEADER_BYTES)
    return { ok: false, reason: 'header cut short', truncated: true };
  if (buf.readUInt32LE(offset) !== COLD_MAGIC)
    return { ok: false, reason: 'bad magic', truncated: false };
  const version = buf.readUInt8(offset + 4);
  if (version !== COLD_FORMAT_VERSION)
    return { ok: false, reason: `unknown format version ${version}`, truncated: false };
  const length = buf.readUInt32LE(offset + 16);
  if (offset + COLD_HEADER_BYTES + length > buf.length)
    return { ok: false, reason: 'payload cut short', truncated: true };
  if (buf.readUInt32LE(offset + 20) !== crcOf(buf, offset, length))
    return { ok: false, reason: 'checksum mismatch', truncated: false };
  const start = offset + COLD_HEADER_BYTES;
  const body = codec.unpack(buf.subarray(start, start + length)) as {
    r: Omit<MemoryRecord, 'content'>;
    c: Uint8Array;
    q: Int8Array | null;
    s: number;
  };
  const bytes = Buffer.from(body.c);
  const content = (
    buf.readUInt8(offset + 5) === CODEC_DEFLATE ? inflateRawSync(bytes) : bytes
  ).toString('utf8');
  const lsn = Number(buf.readBigUInt64LE(offset + 8));
  if (body.r.lsn !== lsn)
    return { ok: false, reason: `header LSN ${lsn} != record LSN ${body.r.lsn}`, truncated: false };
  return {
    ok: true,
    entry: {
      record: { ...body.r, content },
      vector: body.q ? { values: body.q, scale: body.s } : null,
    },
    bytes: COLD_HEADER_BYTES + length,
  };
}

/** Every record of a segment, in order, up to the first bad one (a torn tail is reported, not thrown). */
export function scanColdSegment(buf: Buffer): {
  entries: Array<{ offset: number; entry: ColdEntry }>;
  tornTail?: { offset: number; reason: string };
} {
  const entries: Array<{ offset: number; entry: ColdEntry }> = [];
  for (let offset = 0; offset < buf.length;) {
    const decoded = decodeColdRecordAt(buf, offset);
    if (!decoded.ok) return { entries, tornTail: { offset, reason: decoded.reason } };
    entries.push({ offset, entry: decoded.entry });
    offset += decoded.bytes;
  }
  return { entries };
}

export const segmentFileName = (segment: number): string =>
  `${String(segment).padStart(8, '0')}.seg`;

export class ColdSegments {
  private active: { segment: number; file: WritableFile; position: number } | undefined;
  private readonly readers = new Map<number, number>();

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
    private readonly segmentBytesMax: number,
    private nextSegment: number,
    private sizes: Map<number, number>,
  ) {}

  static async open(
    fs: FileSystem,
    dir: string,
    options: { segmentBytesMax: number },
  ): Promise<ColdSegments> {
    await fs.mkdir(dir);
    const sizes = new Map<number, number>();
    for (const name of await fs.readdir(dir)) {
      const match = SEGMENT_NAME.exec(name);
      if (match) sizes.set(Number(match[1]), (await fs.size(join(dir, name))) ?? 0);
    }
    const last = Math.max(0, ...sizes.keys());
    return new ColdSegments(fs, dir, options.segmentBytesMax, last + 1, sizes);
  }

  /** Bytes in every segment, garbage included. */
  get bytes(): number {
    let total = 0;
    for (const size of this.sizes.values()) total += size;
    return total;
  }

  get segmentCount(): number {
    return this.sizes.size;
  }

  /**
   * Appends the records and makes them durable (fdatasync, plus a directory fsync when the
   * segment file is new, so a power loss cannot drop the file a log record will point into).
   * Only after this resolves may a demote log record name these locations.
   */
  async append(
    items: ReadonlyArray<{ record: MemoryRecord; vector: Float32Array | null }>,
  ): Promise<ColdLocation[]> {
    const encoded = items.map(({ record, vector }) => encodeColdRecord(record, vector));
    const total = encoded.reduce((n, b) => n + b.length, 0);
    let created = false;
    if (
      !this.active ||
      (this.active.position > 0 && this.active.position + total > this.segmentBytesMax)
    ) {
      await this.active?.file.close();
      const segment = this.nextSegment++;
      this.active = {
        segment,
        file: await this.fs.openWritable(this.pathOf(segment)),
        position: 0,
      };
      created = true;
    }
    const active = this.active;
    try {
      const data = Buffer.concat(encoded);
      for (let written = 0; written < data.length;) {
        written += await active.file.write(data.subarray(written), active.position + written);
      }
      await active.file.datasync();
      if (created) await this.fs.fsyncDir(this.dir);
    } catch (error) {
      // The file may end in a partial record: never append after it, start a new segment.
      this.active = undefined;
      await active.file.close().catch(() => undefined);
      throw error;
    }
    const locations: ColdLocation[] = [];
    for (const [i, buf] of encoded.entries()) {
      locations.push({
        segment: active.segment,
        offset: active.position,
        length: buf.length,
        lsn: items[i]!.record.lsn,
      });
      active.position += buf.length;
    }
    this.sizes.set(active.segment, active.position);
    return locations;
  }

  /** Reads and verifies one record; damage is ENG_COLD_CORRUPT (the space is quarantined at open). */
  read(location: ColdLocation): ColdEntry {
    const buf = Buffer.alloc(location.length);
    let got: number;
    try {
      got = readSync(this.reader(location.segment), buf, 0, location.length, location.offset);
    } catch (cause) {
      throw this.corrupt(location, (cause as Error).message);
    }
    const decoded = got === location.length ? decodeColdRecordAt(buf, 0) : undefined;
    if (!decoded?.ok)
      throw this.corrupt(location, decoded ? decoded.reason : `only ${got} bytes readable`);
    if (decoded.entry.record.lsn !== location.lsn)
      throw this.corrupt(
        location,
        `holds LSN ${decoded.entry.record.lsn}, catalog says ${location.lsn}`,
      );
    return decoded.entry;
  }

  private corrupt(location: ColdLocation, reason: string): EngramError {
    return new EngramError(
      'ENG_COLD_CORRUPT',
      `Cold record at ${segmentFileName(location.segment)}:${location.offset} in ${this.dir} is damaged: ${reason}`,
      { details: { ...location } },
    );
  }

  private reader(segment: number): number {
    let fd = this.readers.get(segment);
    if (fd === undefined) {
      fd = openSync(this.pathOf(segment), 'r');
      this.readers.set(segment, fd);
    }
    return fd;
  }

  private pathOf(segment: number): string {
    return join(this.dir, segmentFileName(segment));
  }

  async close(): Promise<void> {
    for (const fd of this.readers.values()) closeSync(fd);
    this.readers.clear();
    await this.active?.file.close();
    this.active = undefined;
  }
}
