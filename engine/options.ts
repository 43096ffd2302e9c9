import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { EngramError } from './errors.ts';

export type DurabilityMode = 'fsync' | 'interval' | 'none';

/**
 * How durability "fsync" makes a commit group durable: `dsync` writes the log with O_DSYNC (one
 * system call per group; Linux only, elsewhere `fdatasync` is used), `fdatasync` writes it and
 * then calls fdatasync (two).
 */
export type WalSyncMethod = 'dsync' | 'fdatasync';

/** Every limit and tunable of the engine, with its default. Units are in the names. */
export interface EngineOptions {
  /** Directory holding one sub-directory per space. `~` expands to the home directory. */
  dataRoot: string;
  /** How many spaces may exist. */
  maxSpaces: number;
  /** How many spaces stay open at once; idle ones beyond this close and reopen on demand. */
  maxOpenSpaces: number;
  /** Spaces opened (and recovered) when the registry starts, instead of on first use. */
  eagerSpaces: readonly string[];
  /** fsync: acknowledge once the write is synced (default). interval: sync every syncIntervalMs. none: never sync. */
  durability: DurabilityMode;
  /** Under durability fsync: O_DSYNC writes (default) or write + fdatasync. */
  walSyncMethod: WalSyncMethod;
  syncIntervalMs: number;
  /** A log segment is closed and a new one started once it reaches this size. */
  walSegmentBytesMax: number;
  /** Largest payload of one log record. */
  walRecordBytesMax: number;
  /** Most records in one commit group (one write and its sync). */
  groupCommitRecordsMax: number;
  /** Writes waiting for the log in one space before new writes are refused. */
  maxPendingWrites: number;
  /** Durable records not yet applied to the warm tier and index before new writes are refused. */
  maxUnappliedRecords: number;
  /** Records applied to the warm tier in one LMDB transaction. */
  applyBatchRecords: number;
  /** The vector index is snapshotted after this many applied records (and at close). */
  indexSnapshotEveryRecords: number;
  maxContentBytes: number;
  maxMetadataBytes: number;
  maxMemoryIdChars: number;
  maxDimensions: number;
  maxK: number;
  maxListLimit: number;
  /** Recall access counts are written to the warm tier this often (and at close), not through the log. */
  accessFlushMs: number;
  /** Activation halves every this many ms without a recall. */
  activationHalfLifeMs: number;
  /** Memories the hot tier (the in-memory copy of recently recalled memories) holds per space. */
  hotCapacity: number;
  /**
   * Live memories the warm tier (LMDB + vector index) holds per space; past it a background job
   * demotes the lowest-activation ones to the cold tier, down to 90%.
   */
  warmCapacity: number;
  /** Memories the cold tier holds per space; when warm and cold are both full, new memories are refused (ENG_SPACE_FULL). */
  coldCapacity: number;
  /** Consolidation runs this often in every open space (0: only on demand). */
  consolidationIntervalMs: number;
  hnswM: number;
  hnswEfConstruction: number;
  hnswEfSearch: number;
  /** Threads the HNSW graphs of all open spaces run on (inserts and searches leave the event loop). */
  indexThreads: number;
}

export const DEFAULT_DATA_ROOT = '~/.local/share/engram';

export const ENGINE_DEFAULTS: Readonly<Omit<EngineOptions, 'dataRoot'>> = Object.freeze({
  maxSpaces: 10_000,
  maxOpenSpaces: 64,
  eagerSpaces: [],
  durability: 'fsync',
  // Measured on ext4 (bench durable-writes, 1 writer): one O_DSYNC write per group instead of a
  // write and an fdatasync, each a trip through libuv's thread pool, cut the ack from ~1.3 to ~1.05 ms.
  walSyncMethod: 'dsync',
  syncIntervalMs: 50,
  walSegmentBytesMax: 64 * 1024 * 1024,
  walRecordBytesMax: 4 * 1024 * 1024,
  groupCommitRecordsMax: 1024,
  maxPendingWrites: 10_000,
  maxUnappliedRecords: 200_000,
  applyBatchRecords: 1000,
  indexSnapshotEveryRecords: 20_000,
  maxContentBytes: 64 * 1024,
  maxMetadataBytes: 16 * 1024,
  maxMemoryIdChars: 256,
  maxDimensions: 4096,
  maxK: 1000,
  maxListLimit: 1000,
  accessFlushMs: 5000,
  activationHalfLifeMs: 7 * 24 * 3600 * 1000,
  hotCapacity: 10_000,
  warmCapacity: 1_000_000,
  coldCapacity: 10_000_000,
  consolidationIntervalMs: 10 * 60 * 1000,
  hnswM: 16,
  hnswEfConstruction: 200,
  // recall@10 at 100k x 384 clustered vectors (bench recall-quality-100k, raw hnswlib): ef 64
  // 0.84, 128 0.93, 256 0.98. 256 meets the >= 0.95 the benchmarks hold recall to.
  hnswEfSearch: 256,
  indexThreads: 1,
});

const INTEGER_RANGES: Record<string, readonly [number, number]> = {
  maxSpaces: [1, 1_000_000],
  maxOpenSpaces: [1, 100_000],
  syncIntervalMs: [1, 60_000],
  walSegmentBytesMax: [4096, 1024 * 1024 * 1024],
  walRecordBytesMax: [1024, 64 * 1024 * 1024],
  groupCommitRecordsMax: [1, 65_536],
  maxPendingWrites: [1, 10_000_000],
  maxUnappliedRecords: [1, 100_000_000],
  applyBatchRecords: [1, 100_000],
  indexSnapshotEveryRecords: [1, 100_000_000],
  maxContentBytes: [1, 16 * 1024 * 1024],
  maxMetadataBytes: [2, 16 * 1024 * 1024],
  maxMemoryIdChars: [1, 4096],
  maxDimensions: [1, 65_536],
  maxK: [1, 100_000],
  maxListLimit: [1, 100_000],
  accessFlushMs: [10, 3_600_000],
  activationHalfLifeMs: [1000, 100 * 365 * 24 * 3600 * 1000],
  hotCapacity: [1, 10_000_000],
  warmCapacity: [1, 100_000_000],
  coldCapacity: [0, 1_000_000_000],
  consolidationIntervalMs: [0, 7 * 24 * 3600 * 1000],
  hnswM: [2, 128],
  hnswEfConstruction: [1, 10_000],
  hnswEfSearch: [1, 10_000],
  indexThreads: [1, 64],
};

const RENAMED: Record<string, string> = {
  data_root: 'dataRoot',
  max_spaces: 'maxSpaces',
  max_open_spaces: 'maxOpenSpaces',
  dataDir: 'dataRoot',
};

export function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

function invalid(message: string): EngramError {
  return new EngramError('ENG_OPTIONS_INVALID', message);
}

/** Validates engine options once and returns a frozen value; unknown keys are rejected. */
export function validateEngineOptions(input: Partial<EngineOptions>): Readonly<EngineOptions> {
  for (const key of Object.keys(input)) {
    if (key === 'dataRoot' || key in ENGINE_DEFAULTS) continue;
    const hint = RENAMED[key];
    throw invalid(`Unknown engine option "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
  }
  const merged: EngineOptions = { ...ENGINE_DEFAULTS, dataRoot: DEFAULT_DATA_ROOT, ...input };
  if (typeof merged.dataRoot !== 'string' || merged.dataRoot.trim() === '') {
    throw invalid('Option "dataRoot" must be a non-empty path');
  }
  const expanded = expandHome(merged.dataRoot.trim());
  merged.dataRoot = isAbsolute(expanded) ? expanded : resolve(expanded);
  for (const [key, [min, max]] of Object.entries(INTEGER_RANGES)) {
    const value = (merged as unknown as Record<string, unknown>)[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(
        `Option "${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (!['fsync', 'interval', 'none'].includes(merged.durability)) {
    throw invalid(
      `Option "durability" must be "fsync", "interval" or "none", got ${JSON.stringify(merged.durability)}`,
    );
  }
  if (!['dsync', 'fdatasync'].includes(merged.walSyncMethod)) {
    throw invalid(
      `Option "walSyncMethod" must be "dsync" or "fdatasync", got ${JSON.stringify(merged.walSyncMethod)}`,
    );
  }
  if (!Array.isArray(merged.eagerSpaces) || merged.eagerSpaces.some((s) => typeof s !== 'string')) {
    throw invalid('Option "eagerSpaces" must be a list of space ids');
  }
  merged.eagerSpaces = Object.freeze([...(merged.eagerSpaces as readonly string[])]);
  return Object.freeze(merged);
}
