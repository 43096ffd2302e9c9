/**
 * The backups a server keeps in `<data_root>/.backups`: create (from a space snapshot), list,
 * look up by name and receive an uploaded file. Every name is checked against BACKUP_NAME
 * before it is joined to the directory, so `..`, `/`, NUL or an overlong name never reach the
 * file system.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngramError } from '../errors.ts';
import type { SpaceHandle } from '../storage.ts';
import { backupName, BACKUP_DIR, isValidBackupName, type BackupHeader } from './backup-format.ts';
import { writeBackup } from './backup-writer.ts';

export interface BackupInfo {
  name: string;
  space: string;
  lsn: number;
  memories: number;
  bytes: number;
  created_at: string;
}

const LIST_MAX = 10_000;

export class BackupStore {
  readonly dir: string;

  constructor(dataRoot: string) {
    this.dir = join(dataRoot, BACKUP_DIR);
  }

  /** A consistent backup of `space`, stored under a fresh name. */
  async create(space: SpaceHandle): Promise<BackupInfo> {
    await mkdir(this.dir, { recursive: true });
    await this.sweep();
    const name = backupName(space.id, new Date(), randomBytes(4).toString('hex'));
    const written = await space.snapshot((snapshot) => writeBackup(snapshot, join(this.dir, name)));
    return info(name, written.header, written.bytes);
  }

  async list(): Promise<BackupInfo[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter(isValidBackupName).sort().slice(0, LIST_MAX);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const out: BackupInfo[] = [];
    for (const name of names) {
      const header = await readHeaderQuick(join(this.dir, name));
      const { size } = await stat(join(this.dir, name));
      if (header) out.push(info(name, header, size));
    }
    return out;
  }

  /** The path of an existing backup; ENG_BACKUP_NAME_INVALID or ENG_BACKUP_NOT_FOUND otherwise. */
  async path(name: string): Promise<string> {
    if (!isValidBackupName(name)) {
      const shown = name.length > 80 ? `${name.slice(0, 80)}…` : name;
      throw new EngramError(
        'ENG_BACKUP_NAME_INVALID',
        `${JSON.stringify(shown)} is not a backup name (<space>-<yyyymmddThhmmssZ>-<8 hex>.engram-backup)`,
      );
    }
    const path = join(this.dir, name);
    try {
      await stat(path);
    } catch {
      throw new EngramError('ENG_BACKUP_NOT_FOUND', `No backup ${JSON.stringify(name)}`);
    }
    return path;
  }

  /**
   * Stores an uploaded backup under a temp name, refusing more than `bytesMax`; the caller
   * removes it with discard() once done.
   */
  async receive(body: Readable, bytesMax: number): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, `.upload-${randomBytes(8).toString('hex')}.tmp`);
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bytesMax)
        body.destroy(
          new EngramError('ENG_BODY_TOO_LARGE', `The backup upload exceeds ${bytesMax} bytes`),
        );
    });
    try {
      await pipeline(body, createWriteStream(path, { flags: 'wx' }));
    } catch (error) {
      await this.discard(path);
      throw error;
    }
    return path;
  }

  /**
   * Removes temp files (a backup or an upload cut off by a crash) left by an earlier process:
   * one process holds the data root at a time, so a temp file older than this process is
   * nobody's work in progress.
   */
  async sweep(): Promise<number> {
    const started = Date.now() - process.uptime() * 1000;
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
      const { mtimeMs } = await stat(join(this.dir, name)).catch(() => ({ mtimeMs: Infinity }));
      if (mtimeMs >= started) continue;
      await rm(join(this.dir, name), { force: true });
      removed += 1;
    }
    return removed;
  }

  async discard(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}

function info(name: string, header: BackupHeader, bytes: number): BackupInfo {
  return {
    name,
    space: header.space,
    lsn: header.lsn,
    memories: header.memories,
    bytes,
    created_at: header.created_at,
  };
}

/** The header of a backup for listing (the full check is verifyBackup). */
async function readHeaderQuick(path: string): Promise<BackupHeader | undefined> {
  const file = await open(path, 'r');
  try {
    const fixed = Buffer.alloc(16);
    await file.read(fixed, 0, 16, 0);
    const length = fixed.readUInt32LE(12);
    if (length > 64 * 1024) return undefined;
    const json = Buffer.alloc(length);
    await file.read(json, 0, length, 16);
    return JSON.parse(json.toString('utf8')) as BackupHeader;
  } catch {
    return undefined;
  } finally {
    await file.close();
  }
}
