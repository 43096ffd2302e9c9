/**
 * Writes a backup file from a space snapshot (format: backup-format.ts). The file is written
 * under a temp name, fsynced, renamed into place and the directory fsynced: a crash leaves no
 * backup or a complete one, never a file that looks whole but is cut short.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { SpaceSnapshot } from '../space-snapshot.ts';
import {
  BACKUP_FORMAT_VERSION,
  BACKUP_MAGIC,
  END_MARKER,
  frameCodec,
  type BackupHeader,
} from './backup-format.ts';
import { fsyncDirectory } from './sync-dir.ts';

const FLUSH_BYTES = 1024 * 1024;

export interface BackupWritten {
  path: string;
  bytes: number;
  header: BackupHeader;
}

function u32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(value, 0);
  return out;
}

export function encodeHeader(header: BackupHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.concat([BACKUP_MAGIC, u32(BACKUP_FORMAT_VERSION), u32(json.length), json]);
  return Buffer.concat([head, u32(crc32(head))]);
}

export function encodeFrame(value: unknown): Buffer {
  const payload = frameCodec.pack(value);
  return Buffer.concat([u32(payload.length), u32(crc32(payload)), payload]);
}

/** Writes `snapshot` to `path` (replacing nothing: the caller picks a fresh name). */
export async function writeBackup(
  snapshot: SpaceSnapshot,
  path: string,
  options: { onMemory?: (count: number) => void } = {},
): Promise<BackupWritten> {
  const header: BackupHeader = {
    format_version: BACKUP_FORMAT_VERSION,
    space: snapshot.space,
    lsn: snapshot.lsn,
    created_at: new Date().toISOString(),
    memories: snapshot.memoryCount,
    source: {
      createdAt: snapshot.createdAt,
      dimension: snapshot.dimension,
      embedder: snapshot.embedder,
      settings: snapshot.settings,
    },
  };
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const file = await open(temp, 'wx');
  const hash = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let bytes = 0;
  const write = async (chunk: Buffer, last = false): Promise<void> => {
    if (!last) hash.update(chunk); // the digest covers every byte before itself
    pending.push(chunk);
    pendingBytes += chunk.length;
    bytes += chunk.length;
    if (pendingBytes >= FLUSH_BYTES || last) {
      await file.write(Buffer.concat(pending));
      pending = [];
      pendingBytes = 0;
    }
  };
  try {
    await write(encodeHeader(header));
    let frames = 0;
    for await (const memory of snapshot.memories()) {
      await write(encodeFrame(memory));
      frames += 1;
      options.onMemory?.(frames);
    }
    // The header's count and the frames written come from the same read transaction.
    if (frames !== snapshot.memoryCount)
      throw new Error(`snapshot counted ${snapshot.memoryCount} memories but yielded ${frames}`);
    const count = Buffer.allocUnsafe(8);
    count.writeBigUInt64LE(BigInt(frames), 0);
    await write(Buffer.concat([u32(END_MARKER), count]));
    await write(hash.digest(), true);
    await file.sync(); // the bytes are on disk before the name says the backup exists
  } catch (error) {
    await file.close();
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  await rename(temp, path);
  await fsyncDirectory(dirname(path));
  return { path, bytes, header };
}
