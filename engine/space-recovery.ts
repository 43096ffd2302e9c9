/**
 * Recovery of one space at open. The checkpoint is two LSNs: W, what the warm tier (LMDB)
 * has applied, and S, what the index snapshot covers (S <= W). Everything above S is replayed
 * from the log: records in (S, W] go to the index only (the warm tier has them), records
 * above W go through the normal apply path (memtable -> warm -> index). Entries only set
 * values, so replaying a record twice changes nothing.
 */
import { join } from 'node:path';
import { EngramError } from './errors.ts';
import { decodeEntry, type LogEntry, type SequencedEntry } from './log-entry.ts';
import type { SpaceContext } from './local-space.ts';
import type { SpaceMeta } from './space-meta.ts';
import { HnswIndex, INDEX_MANIFEST, type HnswParams } from './vector/hnsw-index.ts';
import { scanWal } from './wal/wal-reader.ts';
import { WalWriter, type DurableRecord } from './wal/wal-writer.ts';
import { WarmStore } from './warm/warm-store.ts';

export interface RecoveredSpace {
  warm: WarmStore;
  index: HnswIndex | undefined;
  indexedLsn: number;
  snapshotLsn: number;
  dimension: number | undefined;
  /** Durable records the warm tier has not applied yet, in LSN order. */
  tail: SequencedEntry[];
  openWriter(onDurable: (records: DurableRecord<LogEntry>[]) => void): Promise<WalWriter<LogEntry>>;
}

export async function recoverSpace(ctx: SpaceContext, meta: SpaceMeta): Promise<RecoveredSpace> {
  const started = performance.now();
  const { fs, options, logger } = ctx;
  const walDir = join(ctx.dir, 'wal');
  await fs.mkdir(walDir);
  const warm = WarmStore.open(join(ctx.dir, 'warm'));
  try {
    const appliedLsn = warm.appliedLsn();
    let dimension = warm.dimension() ?? meta.dimension ?? undefined;
    const params = hnswParams(options);

    let index: HnswIndex | undefined;
    // indexBase: the LSN the in-memory index reflects before replay. snapshotLsn: what the
    // snapshot on disk covers (0 after a rebuild, so the next checkpoint writes one).
    let indexBase = appliedLsn;
    let snapshotLsn = 0;
    if (dimension !== undefined) {
      const loaded = await HnswIndex.load(fs, join(ctx.dir, 'index'), dimension, params);
      if (loaded.ok && loaded.lsn <= appliedLsn) {
        index = loaded.index;
        indexBase = loaded.lsn;
        snapshotLsn = loaded.lsn;
      } else {
        // Missing or damaged snapshot: the warm tier holds every live vector, rebuild from it.
        const reason = loaded.ok
          ? `snapshot LSN ${loaded.lsn} is ahead of the warm tier (${appliedLsn})`
          : loaded.reason;
        index = rebuildIndex(ctx, warm, dimension, reason);
      }
    }

    const scan = await scanWal(fs, walDir, {
      fromLsn: indexBase,
      payloadBytesMax: options.walRecordBytesMax,
    });
    const first = scan.records[0]?.lsn ?? scan.segments[0]?.firstLsn;
    if (first !== undefined && first > indexBase + 1) {
      throw new EngramError(
        'ENG_WAL_CORRUPT',
        `Log of space "${ctx.id}" starts at LSN ${first} but the checkpoint needs LSN ${indexBase + 1}`,
        { details: { first, needed: indexBase + 1 } },
      );
    }
    const tail: SequencedEntry[] = [];
    for (const raw of scan.records) {
      let entry: LogEntry;
      try {
        entry = decodeEntry(raw.type, raw.payload);
      } catch (cause) {
        throw new EngramError(
          'ENG_WAL_CORRUPT',
          `Log record LSN ${raw.lsn} of space "${ctx.id}" passes its checksum but cannot be decoded: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
      if (raw.lsn > appliedLsn) {
        tail.push({ lsn: raw.lsn, entry });
        continue;
      }
      // In (S, W]: the warm tier has it, the index snapshot does not.
      if (entry.kind === 'settings') dimension ??= entry.dimension;
      index = catchUpIndex(index, entry, warm, params);
    }
    if (scan.tornTail) {
      logger.warn({ space: ctx.id, ...scan.tornTail }, 'torn log tail truncated');
    }
    let segments = scan.segments;
    if (scan.lastLsn < appliedLsn) {
      // The log lost records the warm tier had already applied (a power loss in interval or none
      // mode, or damage to an applied last record). The warm tier is ahead and authoritative:
      // drop the snapshot (it may need records the log no longer has), drop the old segments
      // (everything in them is applied) and restart the log above the warm tier, so LSNs stay
      // contiguous. The snapshot goes first: a crash in between leaves a rebuildable state.
      logger.warn(
        { space: ctx.id, logLsn: scan.lastLsn, appliedLsn },
        'log ends below the warm tier; restarting it above the warm tier and rebuilding the index',
      );
      await fs.unlink(join(ctx.dir, 'index', INDEX_MANIFEST)).catch(ignoreMissing);
      for (const segment of segments) await fs.unlink(segment.path);
      await fs.fsyncDir(walDir);
      segments = [];
      index =
        dimension === undefined
          ? undefined
          : rebuildIndex(ctx, warm, dimension, 'log ends below the warm tier');
      snapshotLsn = 0;
    }
    const lastLsn = Math.max(scan.lastLsn, appliedLsn);
    const ms = Math.round(performance.now() - started);
    const entries = scan.records.length;
    const corrupted = scan.tornTail ? 1 : 0;
    logger.info(
      { space: ctx.id, entries, corrupted, ms },
      `Recovered '${ctx.id}': ${entries} entries, ${corrupted} corrupted, took ${ms} ms`,
    );

    return {
      warm,
      index,
      indexedLsn: appliedLsn,
      snapshotLsn,
      dimension,
      tail,
      openWriter: (onDurable) =>
        WalWriter.open(
          fs,
          walDir,
          {
            durability: options.durability,
            syncIntervalMs: options.syncIntervalMs,
            segmentBytesMax: options.walSegmentBytesMax,
            groupRecordsMax: options.groupCommitRecordsMax,
            pendingRecordsMax: options.maxPendingWrites,
          },
          onDurable,
          { segments, nextLsn: lastLsn + 1 },
        ),
    };
  } catch (error) {
    await warm.close();
    throw error;
  }
}

function catchUpIndex(
  index: HnswIndex | undefined,
  entry: LogEntry,
  warm: WarmStore,
  params: HnswParams,
): HnswIndex | undefined {
  if (entry.kind === 'demote' || entry.kind === 'promote' || entry.kind === 'update')
    return catchUpTierMove(index, entry, warm, params);
  if (entry.kind !== 'put' && entry.kind !== 'delete') return index;
  const id = entry.kind === 'put' ? entry.record.id : entry.id;
  const label = warm.labelOf(id);
  if (label === undefined) return index;
  if (entry.kind === 'put' && entry.vector) {
    const target = index ?? HnswIndex.create(entry.vector.length, params);
    target.apply({ op: 'upsert', label, vector: entry.vector });
    return target;
  }
  index?.apply({ op: 'delete', label });
  return index;
}

/**
 * Tier moves replayed into an index snapshot older than them. The warm tier holds the final
 * state, so each id ends as it is there: a memory now warm gets its (possibly dequantized)
 * vector, one now gone from the warm tier leaves the graph. An update may have promoted a cold
 * memory: when its label is missing from the graph it is treated like a promotion.
 */
function catchUpTierMove(
  index: HnswIndex | undefined,
  entry: Extract<LogEntry, { kind: 'demote' | 'promote' | 'update' }>,
  warm: WarmStore,
  params: HnswParams,
): HnswIndex | undefined {
  const ids = entry.kind === 'update' ? [entry.id] : entry.items.map((item) => item.id);
  for (const id of ids) {
    const label = warm.labelOf(id);
    if (label === undefined) continue;
    const vector = warm.getVector(id);
    // An update only matters here when it promoted the memory (its label is not in the graph).
    if (vector && (entry.kind !== 'update' || !index?.has(label))) {
      index ??= HnswIndex.create(vector.length, params);
      index.apply({ op: 'upsert', label, vector });
    } else if (entry.kind === 'demote' && warm.getRecord(id) === undefined) {
      index?.apply({ op: 'delete', label });
    }
  }
  return index;
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

/** Builds the index from every live vector in the warm tier. */
function rebuildIndex(
  ctx: SpaceContext,
  warm: WarmStore,
  dimension: number,
  reason: string,
): HnswIndex {
  const { options } = ctx;
  const started = performance.now();
  const index = HnswIndex.create(dimension, hnswParams(options));
  let inserted = 0;
  for (const { label, vector } of warm.vectorsWithLabels()) {
    index.apply({ op: 'upsert', label, vector });
    inserted += 1;
  }
  if (inserted > 0 || reason !== 'no snapshot') {
    ctx.logger.warn(
      { space: ctx.id, reason, inserted, ms: Math.round(performance.now() - started) },
      'vector index rebuilt from the warm tier',
    );
  }
  return index;
}

export function hnswParams(options: SpaceContext['options']): HnswParams {
  return {
    m: options.hnswM,
    efConstruction: options.hnswEfConstruction,
    efSearch: options.hnswEfSearch,
  };
}
