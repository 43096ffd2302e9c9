/**
 * Reads a space's log at open: validates every record of every segment, returns the ones
 * above the checkpoint, and tells a torn tail (cut off by a crash, nothing valid after it:
 * truncated and reported) from mid-log corruption (a damaged record followed by valid ones:
 * refused, never skipped past, so the caller quarantines the space).
 */
import { EngramError } from '../errors.ts';
import type { FileSystem } from '../file-system.ts';
import { decodeRecordAt, findNextValidRecord, type RawRecord } from './wal-record.ts';
import { parseSegmentName, segmentPath, type SegmentInfo } from './wal-segment.ts';

export interface TornTail {
  segment: string;
  offset: number;
  droppedBytes: number;
  reason: string;
}

export interface WalScan {
  segments: SegmentInfo[];
  /** Valid records with an LSN above `fromLsn`, in LSN order. */
  records: RawRecord[];
  /** LSN of the last valid record, or 0 for an empty log. */
  lastLsn: number;
  tornTail: TornTail | undefined;
}

function corrupt(segment: string, offset: number, reason: string): EngramError {
  return new EngramError(
    'ENG_WAL_CORRUPT',
    `Log segment ${segment} is damaged at offset ${offset} (${reason}) and valid records follow: refusing to skip past it`,
    { details: { segment, offset, reason } },
  );
}

export async function scanWal(
  fs: FileSystem,
  walDir: string,
  options: { fromLsn: number; payloadBytesMax: number },
): Promise<WalScan> {
  const firstLsns = (await fs.readdir(walDir))
    .map(parseSegmentName)
    .filter((lsn): lsn is number => lsn !== undefined)
    .sort((a, b) => a - b);

  const segments: SegmentInfo[] = [];
  const records: RawRecord[] = [];
  let expected: number | undefined;
  let tornTail: TornTail | undefined;

  for (const [index, firstLsn] of firstLsns.entries()) {
    const path = segmentPath(walDir, firstLsn);
    const buf = await fs.readFile(path);
    if (expected !== undefined && firstLsn !== expected) {
      throw corrupt(path, 0, `segment starts at LSN ${firstLsn}, expected ${expected}`);
    }
    expected = firstLsn;
    let offset = 0;
    while (offset < buf.length) {
      const result = decodeRecordAt(buf, offset, options.payloadBytesMax);
      if (!result.ok) {
        if (findNextValidRecord(buf, offset + 1, options.payloadBytesMax) !== -1) {
          throw corrupt(path, offset, result.reason);
        }
        const later = firstLsns.slice(index + 1).map((lsn) => segmentPath(walDir, lsn));
        for (const laterPath of later) {
          const laterBuf = await fs.readFile(laterPath);
          if (findNextValidRecord(laterBuf, 0, options.payloadBytesMax) !== -1) {
            throw corrupt(
              path,
              offset,
              `${result.reason}; segment ${laterPath} holds valid records`,
            );
          }
        }
        tornTail = {
          segment: path,
          offset,
          droppedBytes: buf.length - offset,
          reason: result.reason,
        };
        await cutTornTail(fs, walDir, path, offset, later);
        break;
      }
      const { record } = result;
      if (record.lsn !== expected) {
        throw corrupt(path, offset, `record has LSN ${record.lsn}, expected ${expected}`);
      }
      if (record.lsn > options.fromLsn) records.push(record);
      expected += 1;
      offset += record.bytes;
    }
    segments.push({ path, firstLsn, lastLsn: expected - 1, bytes: offset });
    if (tornTail) break;
  }
  const last = segments.at(-1);
  return { segments, records, lastLsn: last ? last.lastLsn : 0, tornTail };
}

/**
 * Truncates the segment at the first damaged byte and removes later segments that hold no
 * valid record (created by a rotation whose first write never completed). The truncation is
 * synced before the log is written again, so a second crash cannot resurrect the torn bytes.
 */
async function cutTornTail(
  fs: FileSystem,
  walDir: string,
  path: string,
  offset: number,
  laterSegments: string[],
): Promise<void> {
  const file = await fs.openWritable(path);
  try {
    await file.truncate(offset);
    await file.datasync();
  } finally {
    await file.close();
  }
  for (const later of laterSegments) await fs.unlink(later);
  if (laterSegments.length > 0) await fs.fsyncDir(walDir);
}

/**
 * Reads the records above `fromLsn` from a live log without changing anything: no truncation,
 * and it stops (rather than failing) at the first record it cannot read, which on a live log is
 * the record being written. Used to replay events to a resuming subscriber.
 * `firstLsn` is the LSN of the oldest record the log still holds (undefined for an empty log).
 */
export async function readWalSince(
  fs: FileSystem,
  walDir: string,
  options: { fromLsn: number; payloadBytesMax: number; limit: number },
): Promise<{ records: RawRecord[]; firstLsn: number | undefined }> {
  const firstLsns = (await fs.readdir(walDir))
    .map(parseSegmentName)
    .filter((lsn): lsn is number => lsn !== undefined)
    .sort((a, b) => a - b);
  const records: RawRecord[] = [];
  // Skip segments that lie wholly at or below fromLsn: the next one starts at or below fromLsn + 1.
  let start = 0;
  while (start + 1 < firstLsns.length && firstLsns[start + 1]! <= options.fromLsn + 1) start += 1;
  for (const firstLsn of firstLsns.slice(start)) {
    let buf: Buffer;
    try {
      buf = await fs.readFile(segmentPath(walDir, firstLsn));
    } catch {
      break; // removed by a checkpoint meanwhile
    }
    for (let offset = 0; offset < buf.length;) {
      const result = decodeRecordAt(buf, offset, options.payloadBytesMax);
      if (!result.ok) return { records, firstLsn: firstLsns[0] };
      if (result.record.lsn > options.fromLsn) records.push(result.record);
      if (records.length >= options.limit) return { records, firstLsn: firstLsns[0] };
      offset += result.record.bytes;
    }
  }
  return { records, firstLsn: firstLsns[0] };
}
