import { join } from 'node:path';

/** Segment files are named by the LSN of their first record, zero-padded so names sort by LSN. */
const SEGMENT_NAME = /^(\d{20})\.wal$/;

export function segmentName(firstLsn: number): string {
  return `${String(firstLsn).padStart(20, '0')}.wal`;
}

export function parseSegmentName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export interface SegmentInfo {
  path: string;
  firstLsn: number;
  /** LSN of the last record; firstLsn - 1 for an empty segment. */
  lastLsn: number;
  bytes: number;
}

export function segmentPath(walDir: string, firstLsn: number): string {
  return join(walDir, segmentName(firstLsn));
}
