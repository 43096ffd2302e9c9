/**
 * Reads and checks backup files (format: backup-format.ts). verifyBackup() reads the whole file
 * once and checks everything (magic, version, header checksum, every frame's length and
 * checksum, the frame count, the digest, nothing after the trailer) before anything is
 * restored; a damaged or truncated file is refused with ENG_BACKUP_CORRUPT naming the offset
 * and frame. readBackupFrames() then yields the decoded memories in batches.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { EngramError } from '../errors.ts';
import type { SnapshotMemory } from '../space-snapshot.ts';
import {
  BACKUP_FORMAT_VERSION,
  BACKUP_MAGIC,
  END_MARKER,
  FRAME_BYTES_MAX,
  HEADER_JSON_BYTES_MAX,
  frameCodec,
  type BackupHeader,
} from './backup-format.ts';

const READ_BYTES = 1024 * 1024;

export interface BackupSummary {
  header: BackupHeader;
  frames: number;
  bytes: number;
  sha256: string;
}

function corrupt(path: string, offset: number, reason: string, frame?: number): EngramError {
  const where =
    frame === undefined ? `at offset ${offset}` : `at offset ${offset} (frame ${frame})`;
  return new EngramError('ENG_BACKUP_CORRUPT', `Backup ${path} is damaged ${where}: ${reason}`, {
    details: { offset, reason, ...(frame === undefined ? {} : { frame }) },
  });
}

/** Sequential reads of exact sizes from a file, hashing what it hands out. */
class ByteReader {
  offset = 0;
  private buffer = Buffer.alloc(0);
  private position = 0;
  private fileOffset = 0;

  constructor(
    private readonly file: FileHandle,
    private readonly hash: Hash | undefined,
  ) {}

  /** Exactly `size` bytes, or fewer when the file ends first. */
  async take(size: number, hashed = true): Promise<Buffer> {
    while (this.buffer.length - this.position < size) {
      const chunk = Buffer.allocUnsafe(Math.max(READ_BYTES, size));
      const { bytesRead } = await this.file.read(chunk, 0, chunk.length, this.fileOffset);
      if (bytesRead === 0) break;
      this.fileOffset += bytesRead;
      this.buffer = Buffer.concat([
        this.buffer.subarray(this.position),
        chunk.subarray(0, bytesRead),
      ]);
      this.position = 0;
    }
    const out = this.buffer.subarray(this.position, this.position + size);
    this.position += out.length;
    this.offset += out.length;
    if (hashed) this.hash?.update(out);
    return out;
  }
}

async function readHeader(path: string, reader: ByteReader): Promise<BackupHeader> {
  const fixed = await reader.take(16);
  if (fixed.length < 16) throw corrupt(path, 0, 'file is shorter than a backup header');
  if (!fixed.subarray(0, 8).equals(BACKUP_MAGIC))
    throw corrupt(path, 0, 'not an engram backup (bad magic)');
  const version = fixed.readUInt32LE(8);
  if (version !== BACKUP_FORMAT_VERSION)
    throw corrupt(path, 8, `format version ${version}, this build reads ${BACKUP_FORMAT_VERSION}`);
  const length = fixed.readUInt32LE(12);
  if (length > HEADER_JSON_BYTES_MAX) throw corrupt(path, 12, `header length ${length} too large`);
  const json = await reader.take(length);
  const crc = await reader.take(4);
  if (json.length < length || crc.length < 4) throw corrupt(path, 16, 'header cut short');
  if (crc32(Buffer.concat([fixed, json])) !== crc.readUInt32LE(0))
    throw corrupt(path, 0, 'header fails its checksum');
  const header = JSON.parse(json.toString('utf8')) as BackupHeader;
  if (typeof header.space !== 'string' || !Number.isSafeInteger(header.memories))
    throw corrupt(path, 16, 'header lacks its space or memory count');
  return header;
}

/** One frame: its payload, or the end marker. */
async function readFrame(path: string, reader: ByteReader, frame: number): Promise<Buffer | 'end'> {
  const at = reader.offset;
  const head = await reader.take(4);
  if (head.length < 4) throw corrupt(path, at, 'file ends before the trailer (truncated)', frame);
  const length = head.readUInt32LE(0);
  if (length === END_MARKER) return 'end';
  if (length === 0 || length > FRAME_BYTES_MAX)
    throw corrupt(path, at, `frame length ${length} is out of range`, frame);
  const crc = await reader.take(4);
  const payload = await reader.take(length);
  if (crc.length < 4 || payload.length < length)
    throw corrupt(path, at, 'file ends inside a frame (truncated)', frame);
  if (crc32(payload) !== crc.readUInt32LE(0))
    throw corrupt(path, at, 'frame fails its checksum', frame);
  return payload;
}

async function readTrailer(
  path: string,
  reader: ByteReader,
  frames: number,
  hash: Hash,
): Promise<string> {
  const at = reader.offset;
  const count = await reader.take(8);
  if (count.length < 8) throw corrupt(path, at, 'trailer cut short (truncated)');
  if (Number(count.readBigUInt64LE(0)) !== frames)
    throw corrupt(
      path,
      at,
      `trailer counts ${count.readBigUInt64LE(0)} frames, file holds ${frames}`,
    );
  const expected = hash.digest();
  const digest = await reader.take(32, false);
  if (digest.length < 32) throw corrupt(path, reader.offset, 'digest cut short (truncated)');
  if (!digest.equals(expected)) throw corrupt(path, at + 8, 'sha256 digest does not match');
  if ((await reader.take(1, false)).length > 0)
    throw corrupt(path, reader.offset - 1, 'bytes follow the trailer');
  return digest.toString('hex');
}

async function withFile<T>(path: string, fn: (file: FileHandle) => Promise<T>): Promise<T> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new EngramError(
      missing ? 'ENG_BACKUP_NOT_FOUND' : 'ENG_BACKUP_CORRUPT',
      `Cannot read backup ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    return await fn(file);
  } finally {
    await file.close();
  }
}

/** Checks the whole file; resolves with its header and counts, or throws ENG_BACKUP_CORRUPT. */
export function verifyBackup(
  path: string,
  options: { onFrame?: (frame: number, offset: number) => void } = {},
): Promise<BackupSummary> {
  return withFile(path, async (file) => {
    const hash = createHash('sha256');
    const reader = new ByteReader(file, hash);
    const header = await readHeader(path, reader);
    let frames = 0;
    for (;;) {
      const payload = await readFrame(path, reader, frames);
      if (payload === 'end') break;
      frames += 1;
      options.onFrame?.(frames, reader.offset);
    }
    if (frames !== header.memories)
      throw corrupt(
        path,
        reader.offset,
        `header says ${header.memories} memories, file holds ${frames}`,
      );
    const sha256 = await readTrailer(path, reader, frames, hash);
    return { header, frames, bytes: reader.offset, sha256 };
  });
}

/** The memories of a verified backup, `batchSize` at a time, in file order. */
export async function* readBackupFrames(
  path: string,
  batchSize: number,
): AsyncGenerator<SnapshotMemory[]> {
  const handle = await open(path, 'r');
  try {
    const reader = new ByteReader(handle, undefined);
    await readHeader(path, reader);
    let batch: SnapshotMemory[] = [];
    for (let frame = 0; ; frame++) {
      const payload = await readFrame(path, reader, frame);
      if (payload === 'end') break;
      batch.push(frameCodec.unpack(payload) as SnapshotMemory);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    await handle.close();
  }
}
