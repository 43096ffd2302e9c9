/**
 * The backup file format, version 1 (docs/format/backup.md): one self-contained file per space.
 *
 *   header   "ENGRAMBK" | u32 version | u32 n | n bytes of JSON (BackupHeader) | u32 crc32
 *   frames   u32 length | u32 crc32 | msgpack (moreTypes) of one SnapshotMemory   (repeated)
 *   trailer  u32 0xFFFFFFFF | u64 frame count | 32-byte sha256 of every byte before it
 *
 * Every frame has its own length and checksum (a reader can name the damaged frame and its
 * offset); the count and digest in the trailer catch a truncated file, a dropped frame and
 * damage anywhere, the header included. Numbers are little-endian.
 */
import { Packr } from 'msgpackr';
import type { SnapshotSettings } from '../space-snapshot.ts';

export const BACKUP_MAGIC = Buffer.from('ENGRAMBK', 'latin1');
export const BACKUP_FORMAT_VERSION = 1;
export const HEADER_JSON_BYTES_MAX = 64 * 1024;
/** A memory holds at most 64 KiB content, 16 KiB metadata and a 65,536-float vector: far below this. */
export const FRAME_BYTES_MAX = 16 * 1024 * 1024;
export const END_MARKER = 0xffffffff;
export const TRAILER_BYTES = 4 + 8 + 32;
export const BACKUP_EXTENSION = '.engram-backup';
/** Where a server keeps backups: `<data_root>/.backups` (a dot name is never a space id). */
export const BACKUP_DIR = '.backups';

export interface BackupHeader {
  format_version: number;
  /** The space the backup was taken from. */
  space: string;
  /** The LSN the snapshot reflects. */
  lsn: number;
  created_at: string;
  memories: number;
  source: SnapshotSettings;
}

/** moreTypes keeps Float32Array vectors as Float32Array (msgpackr's default silently does not). */
export const frameCodec = new Packr({ moreTypes: true, useRecords: false });

/**
 * Names of backups kept on the server: `<space>-<yyyymmddThhmmssZ>-<8 hex>.engram-backup`.
 * Every route checks a name against this before touching the file system, so no name can
 * reach outside the backup directory.
 */
export const BACKUP_NAME = /^[a-z0-9_-]{3,64}-\d{8}T\d{6}Z-[0-9a-f]{8}\.engram-backup$/;

export function isValidBackupName(name: string): boolean {
  return name.length <= 128 && BACKUP_NAME.test(name);
}

export function backupName(space: string, at: Date, random: string): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${space}-${stamp}-${random}${BACKUP_EXTENSION}`;
}
