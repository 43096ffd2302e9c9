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
import {
  findSnapshot,
  INDEX_MANIFEST,
  tooManyDeleted,
  type HnswParams,
} from './vector/hnsw-index.ts';
import type { RemoteIndex } from './vector/index-host.ts';
import type { IndexOp } from './warm/warm-store.ts';
import { scanWal } from './wal/wal-reader.ts';
import { WalWriter, type DurableRecord } from './wal/wal-writer.ts';
import { WarmStore } from './warm/warm-store.ts';

export interface RecoveredSpace {
  warm: WarmStore;
  index: RemoteIndex | undefined;
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
  await fs.mkdir(join(ctx.dir, 'index')); // checkpoints publish their snapshots there
  const warm = WarmStore.open(join(ctx.dir, 'warm'));
  const params = hnswParams(options);
  const replay = new IndexReplay(ctx, params);
  try {
    const appliedLsn = warm.appliedLsn();
    let dimension = warm.dimension() ?? meta.dimension ?? undefined;
    // indexBase: the LSN the in-memory index reflects before replay. snapshotLsn: what the
    // snapshot on disk covers (0 after a rebuild, so the next checkpoint writes one).
    let indexBase = appliedLsn;
    let snapshotLsn = 0;
    if (dimension !== undefined) {
      const found = await findSnapshot(fs, join(ctx.dir, 'index'), dimension);
      // A graph heavy with deleted nodes (docs/format/index.md) is rebuilt instead of loaded.
      const bloated = found.ok && tooManyDeleted(found.deletedNodes ?? 0, found.liveNodes ?? 0);
      const loaded =
        found.ok && found.lsn <= appliedLsn && !bloated
          ? await ctx.indexes.open(found.files, dimension, params)
          : undefined;
      if (found.ok && loaded?.ok) {
        replay.index = loaded.index;
        indexBase = found.lsn;
        snapshotLsn = found.lsn;
      } else {
        // Missing or damaged snapshot: the warm tier holds every live vector, rebuild from it.
        const reason = !found.ok
          ? found.reason
          : loaded && !loaded.ok
            ? loaded.reason
            : bloated
              ? `the snapshot has ${found.deletedNodes} deleted nodes and ${found.liveNodes} live ones`
              : `snapshot LSN ${found.lsn} is ahead of the warm tier (${appliedLsn})`;
        rebuildIndex(ctx, replay, warm, dimension, reason);
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
      await catchUpIndex(replay, entry, warm);
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
      replay.reset();
      if (dimension !== undefined)
        rebuildIndex(ctx, replay, warm, dimension, 'log ends below the warm tier');
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

    const index = await replay.finish();
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
            syncMethod: options.walSyncMethod,
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
    replay.reset();
    await warm.close();
    throw error;
  }
}

/** The index being rebuilt or caught up at open: ops are sent in batches, in order. */
class IndexReplay {
  index: RemoteIndex | undefined;
  private ops: IndexOp[] = [];
  private readonly sent: Array<Promise<void>> = [];

  constructor(
    private readonly ctx: SpaceContext,
    private readonly params: HnswParams,
  ) {}

  apply(op: IndexOp): void {
    if (!this.index) {
      if (op.op === 'delete') return;
      this.index = this.ctx.indexes.create(op.vector.length, this.params);
    }
    this.ops.push(op);
    if (this.ops.length >= REPLAY_BATCH) this.send();
  }

  /** Whether the graph holds the label, after every op so far. */
  async has(label: number): Promise<boolean> {
    if (!this.index) return false;
    this.send();
    return this.index.has(label);
  }

  private send(): void {
    if (this.ops.length === 0 || !this.index) return;
    this.sent.push(this.index.apply(this.ops));
    this.ops = [];
  }

  /** Waits until the index thread has staged every op (searchable; the graph applies them after). */
  async finish(): Promise<RemoteIndex | undefined> {
    this.send();
    await Promise.all(this.sent.splice(0));
    return this.index;
  }

  /** Drops the graph (a rebuild starts over, or recovery failed). */
  reset(): void {
    this.index?.dispose();
    this.index = undefined;
    this.ops = [];
    for (const sent of this.sent.splice(0)) sent.catch(() => undefined);
  }
}

/** Index ops sent to the index thread per message while recovering. */
const REPLAY_BATCH = 1000;

async function catchUpIndex(replay: IndexReplay, entry: LogEntry, warm: WarmStore): Promise<void> {
  if (entry.kind === 'demote' || entry.kind === 'promote' || entry.kind === 'update') {
    await catchUpTierMove(replay, entry, warm);
    return;
  }
  if (entry.kind !== 'put' && entry.kind !== 'delete') return;
  const id = entry.kind === 'put' ? entry.record.id : entry.id;
  const label = warm.labelOf(id);
  if (label === undefined) return;
  if (entry.kind === 'put' && entry.vector)
    replay.apply({ op: 'upsert', label, vector: entry.vector });
  else replay.apply({ op: 'delete', label });
}

/**
 * Tier moves replayed into an index snapshot older than them. The warm tier holds the final
 * state, so each id ends as it is there: a memory now warm gets its (possibly dequantized)
 * vector, one now gone from the warm tier leaves the graph. An update may have promoted a cold
 * memory: when its label is missing from the graph it is treated like a promotion.
 */
async function catchUpTierMove(
  replay: IndexReplay,
  entry: Extract<LogEntry, { kind: 'demote' | 'promote' | 'update' }>,
  warm: WarmStore,
): Promise<void> {
  const ids = entry.kind === 'update' ? [entry.id] : entry.items.map((item) => item.id);
  for (const id of ids) {
    const label = warm.labelOf(id);
    if (label === undefined) continue;
    const vector = warm.getVector(id);
    // An update only matters here when it promoted the memory (its label is not in the graph).
    if (vector && (entry.kind !== 'update' || !(await replay.has(label)))) {
      replay.apply({ op: 'upsert', label, vector });
    } else if (entry.kind === 'demote' && warm.getRecord(id) === undefined) {
      replay.apply({ op: 'delete', label });
    }
  }
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

/** Builds the index from every live vector in the warm tier. */
function rebuildIndex(
  ctx: SpaceContext,
  replay: IndexReplay,
  warm: WarmStore,
  dimension: number,
  reason: string,
): void {
  replay.reset();
  replay.index = ctx.indexes.create(dimension, hnswParams(ctx.options));
  let inserted = 0;
  for (const { label, vector } of warm.vectorsWithLabels()) {
    replay.apply({ op: 'upsert', label, vector });
    inserted += 1;
  }
  if (inserted > 0 || reason !== 'no snapshot') {
    ctx.logger.warn({ space: ctx.id, reason, inserted }, 'vector index rebuilt from the warm tier');
  }
}

export function hnswParams(options: SpaceContext['options']): HnswParams {
  return {
    m: options.hnswM,
    efConstruction: options.hnswEfConstruction,
    efSearch: options.hnswEfSearch,
  };
}
