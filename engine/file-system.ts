/**
 * The file-system seam. Every byte the engine writes for durability (log segments, space.json,
 * index snapshots) goes through this interface, so fault tests can inject ENOSPC, EIO, short
 * writes and failed syncs exactly where a real disk would produce them.
 */
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

export interface WritableFile {
  /** Writes at an absolute position; may write fewer bytes than asked (a short write). */
  write(data: Uint8Array, position: number): Promise<number>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** O_DSYNC writes are used for the log (sync method dsync) on Linux only: see wal-writer.ts. */
export const DSYNC_WRITES = process.platform === 'linux' && typeof constants.O_DSYNC === 'number';

export interface OpenWritableOptions {
  /**
   * Open with O_DSYNC: each write returns only once its own bytes, and the metadata needed to
   * read them back (the file's size), are on stable storage. Unlike fdatasync it does not flush
   * other dirty pages of the file.
   */
  dsync?: boolean;
}

export interface FileSystem {
  /** Opens a file for writing at explicit positions, creating it if missing; never truncates. */
  openWritable(path: string, options?: OpenWritableOptions): Promise<WritableFile>;
  readFile(path: string): Promise<Buffer>;
  /** Size in bytes, or undefined when the path does not exist. */
  size(path: string): Promise<number | undefined>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  /** fsyncs a directory, making creations, renames and unlinks inside it durable. */
  fsyncDir(path: string): Promise<void>;
  /** fsyncs an existing file written by someone else (hnswlib writes its own snapshot file). */
  fsyncFile(path: string): Promise<void>;
}

class NodeWritableFile implements WritableFile {
  constructor(private readonly handle: fsp.FileHandle) {}
  async write(data: Uint8Array, position: number): Promise<number> {
    const { bytesWritten } = await this.handle.write(data, 0, data.length, position);
    return bytesWritten;
  }
  datasync(): Promise<void> {
    return this.handle.datasync();
  }
  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }
  close(): Promise<void> {
    return this.handle.close();
  }
}

export const nodeFileSystem: FileSystem = {
  async openWritable(path, options) {
    const flags = constants.O_WRONLY | constants.O_CREAT | (options?.dsync ? constants.O_DSYNC : 0);
    return new NodeWritableFile(await fsp.open(path, flags, 0o644));
  },
  readFile: (path) => fsp.readFile(path),
  async size(path) {
    try {
      return (await fsp.stat(path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  },
  readdir: (path) => fsp.readdir(path),
  async mkdir(path) {
    await fsp.mkdir(path, { recursive: true });
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  rm: (path) => fsp.rm(path, { recursive: true, force: true }),
  async fsyncDir(path) {
    const handle = await fsp.open(path, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  async fsyncFile(path) {
    const handle = await fsp.open(path, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/** Writes all of `data`, looping over short writes; a write of zero bytes is an error. */
export async function writeFully(
  file: WritableFile,
  data: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const written = await file.write(data.subarray(done), position + done);
    if (written <= 0) {
      throw Object.assign(new Error(`write made no progress at offset ${position + done}`), {
        code: 'EIO',
      });
    }
    done += written;
  }
}

/**
 * Replaces a small file atomically: a crash leaves either the old or the new content, never a
 * mix. Temp file -> write -> fdatasync (the bytes are on disk before the name points at them)
 * -> rename -> fsync the directory (the rename itself survives a power loss).
 */
export async function writeFileAtomic(
  fs: FileSystem,
  path: string,
  data: Uint8Array,
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const file = await fs.openWritable(temp);
  try {
    await file.truncate(0);
    await writeFully(file, data, 0);
    await file.datasync();
  } finally {
    await file.close();
  }
  await fs.rename(temp, path);
  await fs.fsyncDir(dirname(path));
}
