/**
 * Appends records to a space's log with group commit: records queued while a group's write is
 * in flight go out together in the next write and share its sync. In `fsync` mode a record's
 * promise resolves only once the group holding it is on stable storage: the segment is opened
 * with O_DSYNC, so the write returns only then (sync method `dsync`, the default), or the write
 * is followed by an fdatasync (`fdatasync`).
 *
 * A failed write or sync poisons the writer: every queued and later append fails, and nothing
 * is retried. (After a failed fsync the kernel may have dropped the dirty pages and cleared the
 * error, so a retried fsync can "succeed" without the data being on disk.) The space must be
 * reopened, which re-reads the log from disk and trusts only what is there.
 */
import { dirname } from 'node:path';
import { EngramError, ioError } from '../errors.ts';
import type { FileSystem, WritableFile } from '../file-system.ts';
import { DSYNC_WRITES, writeFully } from '../file-system.ts';
import type { DurabilityMode, WalSyncMethod } from '../options.ts';
import { encodeRecord, type RecordTypeCode } from './wal-record.ts';
import { segmentPath, type SegmentInfo } from './wal-segment.ts';

export interface WalWriterOptions {
  durability: DurabilityMode;
  syncMethod: WalSyncMethod;
  syncIntervalMs: number;
  segmentBytesMax: number;
  groupRecordsMax: number;
  pendingRecordsMax: number;
}

export interface DurableRecord<T> {
  lsn: number;
  type: RecordTypeCode;
  body: T;
}

interface Pending<T> {
  record: DurableRecord<T>;
  bytes: Buffer;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class WalWriter<T> {
  private readonly queue: Pending<T>[] = [];
  private readonly segments: SegmentInfo[];
  private file: WritableFile;
  private nextLsn: number;
  private pumping = false;
  private syncRequested = false;
  private unsynced = false;
  private failure: EngramError | undefined;
  private closed = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;
  /** Segments are opened with O_DSYNC: a group is durable once its write returned. */
  private readonly writeThrough: boolean;

  private constructor(
    private readonly fs: FileSystem,
    private readonly walDir: string,
    private readonly options: WalWriterOptions,
    /** Called once per durable group, in LSN order, before any of its promises resolve. */
    private readonly onDurable: (records: DurableRecord<T>[]) => void,
    file: WritableFile,
    segments: SegmentInfo[],
    nextLsn: number,
  ) {
    this.file = file;
    this.segments = segments;
    this.nextLsn = nextLsn;
    this.writeThrough = writesThrough(options);
    if (options.durability === 'interval') {
      this.timer = setInterval(() => {
        if (this.unsynced) {
          this.syncRequested = true;
          this.pump();
        }
      }, options.syncIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Opens the log for appending after a scan: continues the last segment (already cut to its
   * last valid record by the scan) or starts the first one.
   */
  static async open<T>(
    fs: FileSystem,
    walDir: string,
    options: WalWriterOptions,
    onDurable: (records: DurableRecord<T>[]) => void,
    scanned: { segments: SegmentInfo[]; nextLsn: number },
  ): Promise<WalWriter<T>> {
    const segments = scanned.segments.map((s) => ({ ...s }));
    const dsync = writesThrough(options);
    let last = segments.at(-1);
    // The scan read the log through the page cache: its tail may never have been synced (written
    // under durability interval or none, or by a process killed between a write and its sync).
    // Sync it before anything new is acknowledged; an O_DSYNC write flushes only its own bytes.
    if (last && last.bytes > 0) await fs.fsyncFile(last.path);
    if (!last || last.bytes >= options.segmentBytesMax || last.lastLsn + 1 !== scanned.nextLsn) {
      last = {
        path: segmentPath(walDir, scanned.nextLsn),
        firstLsn: scanned.nextLsn,
        lastLsn: scanned.nextLsn - 1,
        bytes: 0,
      };
      if (segments.at(-1)?.firstLsn === last.firstLsn) segments.pop();
      segments.push(last);
      const file = await fs.openWritable(last.path, { dsync });
      // The new segment's directory entry must survive a crash before records in it are acknowledged.
      await fs.fsyncDir(walDir);
      return new WalWriter(fs, walDir, options, onDurable, file, segments, scanned.nextLsn);
    }
    const file = await fs.openWritable(last.path, { dsync });
    // The segment may have been created by a rotation whose directory fsync failed or was cut
    // short by a crash: make its directory entry durable before acknowledging anything in it.
    await fs.fsyncDir(walDir);
    return new WalWriter(fs, walDir, options, onDurable, file, segments, scanned.nextLsn);
  }

  /** LSN the next append will get. */
  get lastAssignedLsn(): number {
    return this.nextLsn - 1;
  }

  get pendingRecords(): number {
    return this.queue.length;
  }

  get failed(): EngramError | undefined {
    return this.failure;
  }

  segmentList(): readonly SegmentInfo[] {
    return this.segments;
  }

  /**
   * Queues a record. The LSN is assigned now, synchronously, so the order of append() calls is
   * the order in the log. Resolves with the LSN once the record is durable (per the mode).
   */
  append(type: RecordTypeCode, payload: Uint8Array, body: T): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed)
      return Promise.reject(new EngramError('ENG_SPACE_CLOSED', 'The log is closed'));
    if (this.queue.length >= this.options.pendingRecordsMax) {
      return Promise.reject(
        new EngramError(
          'ENG_WRITE_QUEUE_FULL',
          `${this.queue.length} writes are already waiting for the log (max_pending_writes); retry later`,
        ),
      );
    }
    const lsn = this.nextLsn++;
    const record: DurableRecord<T> = { lsn, type, body };
    return new Promise<number>((resolve, reject) => {
      this.queue.push({
        record,
        bytes: encodeRecord(type, lsn, payload),
        resolve: () => resolve(lsn),
        reject,
      });
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    // Start on the next turn of the event loop, not now: writers woken by the previous group's
    // acknowledgements append in this turn, and they should share the next sync instead of
    // the first of them getting one to itself.
    void new Promise((resolve) => setImmediate(resolve))
      .then(() => this.run())
      .finally(() => {
        this.pumping = false;
        this.markIdle();
      });
  }

  private async run(): Promise<void> {
    while (!this.failure && (this.queue.length > 0 || this.syncRequested)) {
      if (this.queue.length === 0) {
        this.syncRequested = false;
        await this.guard(() => this.sync(), []);
        continue;
      }
      const group = this.queue.splice(0, this.options.groupRecordsMax);
      const segment = this.segments.at(-1)!;
      const start = segment.bytes;
      const ok = await this.guard(
        async () => {
          await writeFully(this.file, Buffer.concat(group.map((p) => p.bytes)), start);
          segment.bytes = start + group.reduce((n, p) => n + p.bytes.length, 0);
          segment.lastLsn = group.at(-1)!.record.lsn;
          if (this.writeThrough) return;
          this.unsynced = true;
          if (this.options.durability === 'fsync') await this.sync();
        },
        group,
        start,
      );
      if (!ok) break;
      try {
        this.onDurable(group.map((p) => p.record));
      } catch (cause) {
        // The records are durable, so they are acknowledged; but the in-memory state that
        // follows the log may now be behind it, so the space must reopen (and replay) first.
        this.failure = new EngramError(
          'ENG_INTERNAL',
          `Applying durable records in memory failed: ${(cause as Error).message}`,
          { cause },
        );
      }
      for (const p of group) p.resolve();
      // Let the writers just answered append their next records before the next group is cut.
      await new Promise((resolve) => setImmediate(resolve));
      if (segment.bytes >= this.options.segmentBytesMax) {
        await this.guard(() => this.rotate(), []);
      }
    }
    if (this.failure) this.failAll(this.failure);
  }

  /**
   * Runs one I/O step; on failure poisons the writer, fails `group`, and cuts the segment back
   * to `cutTo` (best effort) so the unacknowledged bytes are not replayed as if they had been
   * acknowledged. If the cut fails too, the record may reappear after a restart: it was never
   * acknowledged, and it is complete and checksummed, never partial.
   */
  private async guard(
    step: () => Promise<void>,
    group: Pending<T>[],
    cutTo?: number,
  ): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (cause) {
      this.failure = ioError(`Cannot write the log in ${this.walDir}`, cause);
      for (const p of group) p.reject(this.failure);
      if (cutTo !== undefined) {
        try {
          await this.file.truncate(cutTo);
          this.segments.at(-1)!.bytes = cutTo;
        } catch {
          // Best effort only; see above.
        }
      }
      return false;
    }
  }

  private async sync(): Promise<void> {
    if (!this.unsynced) return;
    this.unsynced = false;
    await this.file.datasync();
  }

  /** Starts a new segment named by the next LSN to be written. */
  private async rotate(): Promise<void> {
    if (this.options.durability !== 'none') await this.sync();
    await this.file.close();
    const firstLsn = this.segments.at(-1)!.lastLsn + 1;
    const path = segmentPath(this.walDir, firstLsn);
    this.file = await this.fs.openWritable(path, { dsync: this.writeThrough });
    this.segments.push({ path, firstLsn, lastLsn: firstLsn - 1, bytes: 0 });
    await this.fs.fsyncDir(dirname(path));
  }

  private failAll(error: EngramError): void {
    for (const p of this.queue.splice(0)) p.reject(error);
  }

  /** Removes whole segments whose records are all at or below `lsn`; never the active one. */
  async removeSegmentsThrough(lsn: number): Promise<number> {
    let removed = 0;
    while (this.segments.length > 1 && this.segments[0]!.lastLsn <= lsn) {
      const [oldest] = this.segments.splice(0, 1);
      await this.fs.unlink(oldest!.path);
      removed += 1;
    }
    if (removed > 0) await this.fs.fsyncDir(this.walDir);
    return removed;
  }

  /** Writes what is queued, syncs (unless mode none), and closes the segment file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle;
    if (this.pumping) await this.idle;
    try {
      if (!this.failure && this.options.durability !== 'none') await this.sync();
    } finally {
      await this.file.close();
    }
  }
}

/**
 * Under durability fsync with sync method dsync, the log is written with O_DSYNC, on Linux only:
 * Windows has no O_DSYNC, and on macOS libuv's fdatasync is F_FULLFSYNC (it flushes the drive's
 * cache), which O_DSYNC does not do; there the method is fdatasync whatever the option says.
 */
function writesThrough(options: WalWriterOptions): boolean {
  return options.durability === 'fsync' && options.syncMethod === 'dsync' && DSYNC_WRITES;
}
