/**
 * One open space of the embedded backend: its log, warm tier, vector index and the memtable
 * that bridges them.
 *
 * Write path: validate -> append to the log (group commit) -> once durable, the record enters
 * the memtable (so it is readable and recallable at once: read-your-writes) -> acknowledge ->
 * the applier moves memtable entries into LMDB (one transaction per batch, applied-LSN marker
 * included) and then into the HNSW index, and only then drops them from the memtable.
 * Readers consult the memtable first; it holds the newest version of every memory whose
 * latest change has not reached both the warm tier and the index, deletions included.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngramError, isEngramError } from './errors.ts';
import type { FileSystem } from './file-system.ts';
import type { Embedder } from './embed/embedder.ts';
import type { EmbedderCatalog } from './embed/embedder-catalog.ts';
import { eventOf, type EventHub, type SpaceEvent } from './events.ts';
import { readWalSince } from './wal/wal-reader.ts';
import type { Logger } from './logger.ts';
import { Memtable } from './memtable.ts';
import {
  decodeEntry,
  encodeEntry,
  memoryIdOf,
  memoryIdsOf,
  recordTypeOf,
  type LogEntry,
  type SequencedEntry,
} from './log-entry.ts';
import { checkForgetMode, validatePatch } from './memory-fields.ts';
import {
  validateMemoryId,
  validateVector,
  type ListPage,
  type MemoryPatch,
  type MemoryRecord,
  type MemoryView,
  type RecallHit,
  type RecallMode,
  type RememberInput,
} from './memory.ts';
import type { EngineOptions } from './options.ts';
import type { SpaceId } from './space-id.ts';
import { readSpaceMeta, writeSpaceMeta, type SpaceMeta } from './space-meta.ts';
import type {
  CallOptions,
  ForgetOptions,
  ListOptions,
  RecallOptions,
  SpaceStats,
} from './storage.ts';
import { checkListTier, checkRecallOptions, type CheckedRecall } from './recall-options.ts';
import { checkRememberInput, embedText } from './remember-input.ts';
import { AccessStats } from './access-stats.ts';
import { HotTier } from './hot-tier.ts';
import { checkSpaceSettings, isConstant, type SpaceSettings } from './space-settings.ts';
import { checkSpreadOptions, spreadActivation } from './spreading.ts';
import {
  Citations,
  RateMeter,
  consolidatedRecord,
  checkConsolidationOptions,
  planConsolidations,
  type ConsolidationOptions,
  type Episodic,
} from './consolidation.ts';
import { LexicalIndex } from './lexical-index.ts';
import {
  hybridHits,
  lexicalHits,
  modeNeedsText,
  similarityHits,
  type RecallSources,
  type ScoredRecord,
} from './space-recall.ts';
import { hnswParams, recoverSpace } from './space-recovery.ts';
import { readSnapshot, type SnapshotMemory, type SpaceSnapshot } from './space-snapshot.ts';
import { checkSnapshotMemory, type LoadReport } from './space-load.ts';
import type { IndexHost, RemoteIndex } from './vector/index-host.ts';
import { ColdTier } from './cold/cold-tier.ts';
import { demotionBatch, pickDemotions } from './cold/demotion.ts';
import type { DurableRecord, WalWriter } from './wal/wal-writer.ts';
import type { IndexOp, WarmStore } from './warm/warm-store.ts';

export interface SpaceContext {
  id: SpaceId;
  dir: string;
  options: Readonly<EngineOptions>;
  fs: FileSystem;
  logger: Logger;
  embedders: EmbedderCatalog;
  events: EventHub;
  /** Where the space's HNSW graph lives (one of the registry's index threads). */
  indexes: IndexHost;
}

/** consolidation_rate is consolidations per second over this window. */
const CONSOLIDATION_RATE_WINDOW_MS = 10 * 60 * 1000;
/** A failed demotion (disk full, I/O error) is retried after this long, on the next write. */
const DEMOTION_RETRY_MS = 1000;
/** How long a snapshot or a load waits for the applier to reach an LSN before giving up. */
const APPLY_WAIT_MS = 120_000;
/** A load() waits for the applier when more records than this are waiting for it. */
const LOAD_UNAPPLIED_MAX = 20_000;

export interface ConsolidationReport {
  memoryId: string;
  sources: string[];
  strength: number;
}

export class LocalSpace {
  readonly id: SpaceId;
  private readonly memtable: Memtable;
  /** Promoted memories whose move is being applied, with their vectors: see coverTierMoves. */
  private readonly indexing = new Map<string, Float32Array>();
  /**
   * Memories whose demotion is durable but not applied yet. A recall does not copy them into
   * the hot tier: the copy would outlive the move (the warm-tier passes read the hot tier first,
   * and would answer for a memory that only the cold search scores correctly).
   */
  private readonly demotionsPending = new Set<string>();
  private readonly unapplied: Array<SequencedEntry & { durableAt: number }> = [];
  /** Writes queued in the log but not yet durable: their ids' liveness, for existence checks. */
  private readonly pendingIds = new Map<string, { lsn: number; live: boolean }>();
  private wal!: WalWriter<LogEntry>;
  private applier: Promise<void> | undefined;
  private checkpointing: Promise<void> | undefined;
  private applyError: Error | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private appliedSinceSnapshot = 0;
  private closed = false;
  /** The space's embedder, or why there is none usable on this server. */
  private embedder: Embedder | EngramError;
  private readonly settings: SpaceSettings;
  private lexical: LexicalIndex | undefined;
  private readonly access: AccessStats;
  private readonly accessTimer: NodeJS.Timeout;
  private citations: Citations | undefined;
  private readonly hot: HotTier;
  /** Changes to memories (and demotions) entered so far: a recall that saw none promotes freely. */
  private changes = 0;
  /** Set by open() before anything reads. */
  private cold!: ColdTier;
  private demoting: Promise<void> | undefined;
  /** After a failed demotion the next one waits for this timer (a full disk is not retried per write). */
  private demotionRetry: NodeJS.Timeout | undefined;
  private consolidating: Promise<ConsolidationReport[]> | undefined;
  private readonly consolidationTimer: NodeJS.Timeout | undefined;
  private readonly consolidationRate = new RateMeter(CONSOLIDATION_RATE_WINDOW_MS);

  private constructor(
    private readonly ctx: SpaceContext,
    private meta: SpaceMeta,
    private readonly warm: WarmStore,
    private index: RemoteIndex | undefined,
    private indexedLsn: number,
    private snapshotLsn: number,
    /** Dimension fixed by the space or by a logged settings record (durable or queued). */
    private dimension: number | undefined,
  ) {
    this.id = ctx.id;
    this.embedder = resolveEmbedder(ctx, meta);
    this.settings = checkSpaceSettings(meta.settings);
    this.access = new AccessStats(warm, ctx.options.activationHalfLifeMs);
    this.hot = new HotTier(ctx.options.hotCapacity, (record, now) =>
      this.access.activation(record, this.access.get(record), now),
    );
    this.accessTimer = setInterval(() => {
      this.access
        .flush()
        .catch((error: unknown) =>
          this.ctx.logger.warn({ err: error, space: this.id }, 'flushing access statistics failed'),
        );
    }, ctx.options.accessFlushMs);
    this.accessTimer.unref();
    if (ctx.options.consolidationIntervalMs > 0) {
      this.consolidationTimer = setInterval(() => {
        this.consolidate().catch((error: unknown) =>
          this.ctx.logger.warn({ err: error, space: this.id }, 'scheduled consolidation failed'),
        );
      }, ctx.options.consolidationIntervalMs);
      this.consolidationTimer.unref();
    }
    this.memtable = new Memtable(
      (id) => warm.getRecord(id) !== undefined || warm.labelOf(id) !== undefined,
    );
  }

  /** Opens and recovers the space; throws (and the registry quarantines) on corruption. */
  static async open(ctx: SpaceContext): Promise<LocalSpace> {
    const meta = await readSpaceMeta(ctx.fs, ctx.dir, ctx.id);
    const recovered = await recoverSpace(ctx, meta);
    const space = new LocalSpace(
      ctx,
      meta,
      recovered.warm,
      recovered.index,
      recovered.indexedLsn,
      recovered.snapshotLsn,
      recovered.dimension,
    );
    try {
      space.cold = await ColdTier.open(ctx.fs, join(ctx.dir, 'cold'), recovered.warm);
      for (const { lsn, entry } of recovered.tail) space.applyToMemtable(lsn, entry, Date.now());
      space.wal = await recovered.openWriter((records) => space.onDurable(records));
    } catch (error) {
      await space.cold?.close();
      await recovered.warm.close();
      recovered.index?.dispose();
      throw error;
    }
    space.scheduleApply();
    space.scheduleDemotion();
    return space;
  }

  // ---- writes ---------------------------------------------------------------------------

  async remember(input: RememberInput, options: CallOptions = {}): Promise<MemoryView> {
    const checked = checkRememberInput(input, this.ctx.options);
    const { id, content, episode } = checked;
    const vector =
      checked.vector ??
      (this.embedder instanceof EngramError && this.embedder.code === 'ENG_EMBEDDER_MISSING'
        ? null // a space without an embedder stores text-only memories (not recallable by vector)
        : await this.embed(content, options));
    const now = Date.now();
    const record: Omit<MemoryRecord, 'lsn'> = {
      id,
      content,
      metadata: checked.metadata,
      confidence: checked.confidence,
      memoryType: checked.memoryType,
      tags: checked.tags,
      observedAt: checked.observedAt ?? now,
      suppressed: false,
      ...(episode ? { episode } : {}),
      storedAt: now,
      updatedAt: now,
      hasVector: vector !== null,
    };
    this.checkCall(options);
    this.checkRoom(id);
    if (vector) this.fixDimension(vector.length);
    const settings = this.settings;
    if (
      vector &&
      !checked.idGiven &&
      settings.dedupThreshold !== undefined &&
      !isConstant(vector)
    ) {
      const duplicate = (await this.nearest(vector, 1, settings.dedupThreshold))[0];
      if (duplicate) return this.mergeDuplicate(duplicate.memory, record.confidence);
    }
    const links =
      vector && settings.autoLinkThreshold !== undefined
        ? await this.nearest(vector, settings.autoLinkMax ?? 3, settings.autoLinkThreshold)
        : [];
    const lsn = await this.append({ kind: 'put', record, vector });
    // Auto-links follow the memory; a crash in between leaves it stored without them.
    for (const { memory, score } of links) {
      if (memory.id === id || !this.existsForWrite(memory.id)) continue;
      await this.append({ kind: 'association', from: id, to: memory.id, weight: score });
      await this.append({ kind: 'association', from: memory.id, to: id, weight: score });
    }
    return this.view({ ...record, lsn });
  }

  /** Existing memories nearest to `vector` by cosine, at or above `threshold`. */
  private async nearest(
    vector: Float32Array,
    count: number,
    threshold: number,
  ): Promise<Array<{ memory: MemoryRecord; score: number }>> {
    const sources = this.recallSources();
    const accept = (): boolean => true;
    const warm = await similarityHits(sources, vector, count, -1, accept);
    // Cold memories are duplicates and link targets too (a merge or link then promotes them).
    const cold =
      this.cold.count === 0
        ? []
        : this.cold.search(
            {
              mode: 'similarity',
              vector,
              text: undefined,
              lexical: undefined,
              isCold: (id) => this.isCold(id),
            },
            {
              k: count,
              mode: 'similarity',
              threshold: -1,
              includeSuppressed: true,
              accept,
              selective: false,
            },
          );
    return [...warm, ...cold]
      .filter((hit) => hit.parts.similarity! >= threshold)
      .sort((a, b) => b.parts.similarity! - a.parts.similarity!)
      .slice(0, count)
      .map((hit) => ({ memory: hit.memory, score: hit.parts.similarity! }));
  }

  private async mergeDuplicate(existing: MemoryRecord, confidence: number): Promise<MemoryView> {
    if (confidence > existing.confidence) {
      await this.append({
        kind: 'update',
        id: existing.id,
        patch: { confidence },
        updatedAt: Date.now(),
      });
    }
    const merged = this.currentRecord(existing.id) ?? existing;
    return { ...this.view(merged), deduplicated: true };
  }

  async update(id: string, patch: MemoryPatch, options: CallOptions = {}): Promise<MemoryView> {
    validateMemoryId(id, this.ctx.options);
    const clean = validatePatch(patch, this.ctx.options);
    this.checkCall(options);
    if (!this.existsForWrite(id)) throw this.notFound(id);
    await this.append({ kind: 'update', id, patch: clean, updatedAt: Date.now() });
    const current = this.currentRecord(id);
    if (!current) throw this.notFound(id); // deleted by a write acknowledged in the same group
    return this.view(current);
  }

  async forget(id: string, options: ForgetOptions = {}): Promise<boolean> {
    validateMemoryId(id, this.ctx.options);
    const mode = checkForgetMode(options.mode);
    this.checkCall(options);
    if (!this.existsForWrite(id)) return false;
    if (mode === 'suppress') {
      await this.append({ kind: 'update', id, patch: { suppressed: true }, updatedAt: Date.now() });
    } else {
      await this.append({ kind: 'delete', id });
      await this.purgeCitationsOf(id);
    }
    return true;
  }

  /**
   * A hard delete leaves no trace: consolidated memories citing the deleted one drop it from
   * their sources (through the log, like any update). A crash between the delete and this
   * leaves a citation of a missing id; the next delete or consolidation run does not mind.
   */
  private async purgeCitationsOf(id: string): Promise<void> {
    for (const citer of this.citationIndex().citersOf(id)) {
      const record = this.currentRecord(citer);
      if (!record?.consolidation) continue;
      const sources = record.consolidation.sources.filter((source) => source !== id);
      await this.append({
        kind: 'update',
        id: citer,
        patch: { consolidation: { sources, strength: record.consolidation.strength } },
        updatedAt: Date.now(),
      });
    }
  }

  private citationIndex(): Citations {
    if (this.citations) return this.citations;
    const citations = new Citations();
    for (const record of this.liveRecords()) {
      if (record.consolidation && !this.memtable.has(record.id))
        citations.set(record.id, record.consolidation.sources);
    }
    for (const [id, entry] of this.memtable.entriesView()) {
      if (entry.record?.consolidation) citations.set(id, entry.record.consolidation.sources);
    }
    this.citations = citations;
    return citations;
  }

  /** Groups related episodic memories into semantic ones (see engine/consolidation.ts). One run at a time. */
  consolidate(
    raw: Partial<ConsolidationOptions> = {},
    options: CallOptions = {},
  ): Promise<ConsolidationReport[]> {
    const checked = checkConsolidationOptions(raw);
    this.checkCall(options);
    if (this.consolidating) return this.consolidating;
    this.consolidating = this.runConsolidation(checked).finally(
      () => (this.consolidating = undefined),
    );
    return this.consolidating;
  }

  private async runConsolidation(options: ConsolidationOptions): Promise<ConsolidationReport[]> {
    if (this.dimension === undefined) return [];
    const citations = this.citationIndex();
    const candidates: Episodic[] = [];
    const consider = (record: MemoryRecord): void => {
      if (
        record.memoryType !== 'episodic' ||
        record.suppressed ||
        !record.hasVector ||
        citations.isCited(record.id)
      )
        return;
      const vector = this.currentVector(record.id);
      if (vector) candidates.push({ record, vector });
    };
    for (const record of this.warm.allRecords())
      if (!this.memtable.has(record.id)) consider(record);
    for (const [, entry] of this.memtable.entriesView()) if (entry.record) consider(entry.record);
    const sources = this.recallSources();
    const episodic = (record: MemoryRecord): boolean =>
      record.memoryType === 'episodic' && !record.suppressed;
    const plans = await planConsolidations(
      candidates,
      async (vector, count) =>
        (await similarityHits(sources, vector, count, options.similarity, episodic)).map(
          (hit) => hit.memory.id,
        ),
      options,
    );
    const reports: ConsolidationReport[] = [];
    for (const plan of plans) {
      const record = consolidatedRecord(plan, Date.now());
      await this.append({ kind: 'put', record, vector: plan.vector });
      this.consolidationRate.mark(1, Date.now());
      reports.push({ memoryId: record.id, sources: plan.sources, strength: plan.strength });
    }
    if (reports.length > 0)
      this.ctx.logger.info(
        { space: this.id, consolidations: reports.length },
        'consolidated episodic memories',
      );
    return reports;
  }

  /** Consolidated (semantic) memories made by consolidation, newest first. */
  consolidations(limit: number): MemoryView[] {
    const out: MemoryRecord[] = [];
    for (const [id] of this.citationIndex().all()) {
      const record = this.currentRecord(id);
      if (record?.consolidation) out.push(record);
    }
    return out
      .sort((a, b) => b.storedAt - a.storedAt || (a.id < b.id ? -1 : 1))
      .slice(0, limit)
      .map((record) => this.view(record));
  }

  /** One text through the space's embedder; a failure fails the call, never a fallback vector. */
  private embed(text: string, options: CallOptions): Promise<Float32Array> {
    return embedText(this.embedder, text, options, this.ctx.options);
  }

  async associate(
    from: string,
    to: string,
    weight: number,
    options: CallOptions = {},
  ): Promise<void> {
    validateMemoryId(from, this.ctx.options);
    validateMemoryId(to, this.ctx.options);
    if (!Number.isFinite(weight))
      throw new EngramError('ENG_QUERY_INVALID', 'Association weight must be a finite number');
    this.checkCall(options);
    for (const id of [from, to]) if (!this.existsForWrite(id)) throw this.notFound(id);
    await this.append({ kind: 'association', from, to, weight });
  }

  // ---- snapshot and load (backup, restore, export, import) ---------------------------------

  /**
   * Runs `fn` over a consistent snapshot (engine/space-snapshot.ts) that holds every write
   * acknowledged before the call; writes go on meanwhile. The space stays open while `fn` runs.
   */
  async snapshot<T>(fn: (snapshot: SpaceSnapshot) => Promise<T>): Promise<T> {
    this.checkCall({});
    await this.waitApplied(this.wal.lastAssignedLsn);
    await this.access.flush();
    const cold = this.cold;
    return readSnapshot(
      { id: this.id, meta: this.meta, warm: this.warm, cold: (location) => cold.read(location) },
      fn,
    );
  }

  /**
   * Stores memories as they are (ids, timestamps, suppression, citations), each validated by
   * checkSnapshotMemory (engine/space-load.ts), through the log like any write, then their
   * associations whose target exists, then their access statistics. Loading the same items
   * twice gives the same state. Answers per item: one bad item fails alone.
   */
  async load(items: readonly SnapshotMemory[], options: CallOptions = {}): Promise<LoadReport> {
    this.checkCall(options);
    const errors: LoadReport['errors'] = items.map(() => undefined);
    const valid: Array<{ position: number; item: SnapshotMemory }> = [];
    items.forEach((raw, position) => {
      try {
        valid.push({ position, item: checkSnapshotMemory(raw, this.ctx.options) });
      } catch (error) {
        if (!isEngramError(error)) throw error;
        errors[position] = error;
      }
    });
    await this.embedMissing(valid, errors, options);
    const writes: Array<Promise<number>> = [];
    const stored: SnapshotMemory[] = [];
    for (const { position, item } of valid) {
      if (errors[position]) continue;
      try {
        this.checkRoom(item.record.id); // capacities hold for loads as for remember()
        if (item.vector) this.fixDimension(item.vector.length);
        const { lsn: _lsn, ...body } = item.record;
        writes.push(this.append({ kind: 'put', record: body, vector: item.vector }));
        stored.push(item);
      } catch (error) {
        if (!isEngramError(error)) throw error;
        errors[position] = error;
      }
    }
    let lastLsn = Math.max(0, ...(await Promise.all(writes)));
    const links = stored.flatMap(({ record, associations }) =>
      associations.map((link) => ({ from: record.id, ...link })),
    );
    const { unresolved, lsn } = await this.loadLinks(links);
    lastLsn = Math.max(lastLsn, lsn);
    const access = new Map(
      stored.flatMap(({ record, access: a }) => (a ? [[record.id, a] as const] : [])),
    );
    // Access statistics live in the warm tier only, so their memories must be there first; a
    // long load also waits when the applier falls behind, instead of filling its queue.
    if (access.size > 0 || this.unapplied.length > LOAD_UNAPPLIED_MAX)
      await this.waitApplied(lastLsn);
    if (access.size > 0) await this.warm.setAccess(access);
    return { errors, unresolved, lastLsn };
  }

  /**
   * Memories loaded without a vector (an export without vectors) get one from the space's
   * embedder, as remember() would give them, in one batch; a space without an embedder keeps
   * them text-only. An embedder failure fails those items.
   */
  private async embedMissing(
    valid: Array<{ position: number; item: SnapshotMemory }>,
    errors: LoadReport['errors'],
    options: CallOptions,
  ): Promise<void> {
    const missing = valid.filter(({ item }) => item.vector === null);
    if (missing.length === 0 || this.embedder instanceof EngramError) return;
    const embedder = this.embedder;
    try {
      const vectors = await embedder.embed(
        missing.map(({ item }) => item.record.content),
        options.signal ? { signal: options.signal } : {},
      );
      missing.forEach((entry, i) => {
        const vector = validateVector(vectors[i], this.ctx.options);
        entry.item = { ...entry.item, vector, record: { ...entry.item.record, hasVector: true } };
      });
    } catch (cause) {
      const error = isEngramError(cause)
        ? cause
        : new EngramError(
            'ENG_EMBEDDER_UNAVAILABLE',
            `Embedder ${embedder.name} failed: ${(cause as Error).message}`,
            { cause },
          );
      for (const { position } of missing) errors[position] = error;
    }
  }

  /** Appends the associations whose two ends exist; returns the others. */
  async loadLinks(
    links: ReadonlyArray<{ from: string; to: string; weight: number }>,
  ): Promise<{ unresolved: LoadReport['unresolved']; lsn: number }> {
    const unresolved: LoadReport['unresolved'] = [];
    const writes: Array<Promise<number>> = [];
    for (const link of links) {
      if (this.existsForWrite(link.from) && this.existsForWrite(link.to))
        writes.push(this.append({ kind: 'association', ...link }));
      else unresolved.push(link);
    }
    return { unresolved, lsn: Math.max(0, ...(await Promise.all(writes))) };
  }

  /** Resolves once the warm tier has applied `lsn` (bounded wait; fails if the log failed). */
  private async waitApplied(lsn: number): Promise<void> {
    const deadline = Date.now() + APPLY_WAIT_MS;
    while (this.warm.appliedLsn() < lsn) {
      if (this.closed || this.wal.failed || Date.now() > deadline) {
        throw new EngramError(
          'ENG_APPLY_TIMEOUT',
          `Space "${this.id}" did not apply its log up to LSN ${lsn} (applied ${this.warm.appliedLsn()})${this.wal.failed ? `: ${this.wal.failed.message}` : ''}`,
        );
      }
      await sleep(5);
    }
  }

  // ---- tier moves (see engine/cold/) ---------------------------------------------------------

  /** A new memory needs room in the warm tier, or in the cold tier to make room in the warm one. */
  private checkRoom(id: string): void {
    const { warmCapacity, coldCapacity } = this.ctx.options;
    const warm = this.warm.count() + this.memtable.size;
    const cold = this.cold.count;
    if (warm < warmCapacity || cold < coldCapacity || this.existsForWrite(id)) return;
    throw new EngramError(
      'ENG_SPACE_FULL',
      `Space "${this.id}" is full: ${warm} warm memories (warm_capacity ${warmCapacity}) and ${cold} cold (cold_capacity ${coldCapacity}); forget memories or raise a capacity`,
      { details: { warm, cold, warmCapacity, coldCapacity } },
    );
  }

  /** Starts the demotion job when the warm tier is past warm_capacity (one run at a time). */
  private scheduleDemotion(): void {
    if (this.demoting || this.closed || this.wal.failed) return;
    if (this.demotionRetry) return;
    if (this.warm.count() <= this.ctx.options.warmCapacity) return;
    this.demoting = this.runDemotion()
      .catch((error: unknown) => {
        this.demotionRetry = setTimeout(() => {
          this.demotionRetry = undefined;
          this.scheduleDemotion();
        }, DEMOTION_RETRY_MS);
        this.demotionRetry.unref();
        this.ctx.logger.warn(
          { err: error, space: this.id },
          'demotion to the cold tier failed; the memories stay warm, retrying in 1 s',
        );
      })
      .finally(() => (this.demoting = undefined));
  }

  /**
   * Demotes in bounded batches until the warm tier is under its low-water mark. Each batch:
   * (1) the records are copied to a cold segment and fsynced; (2) a demote log record names
   * their locations; (3) the applier moves them in one LMDB transaction and drops them from the
   * vector index. A kill after (1) leaves unreferenced bytes (the memories stay warm); after
   * (2) recovery replays the move. Memories with a change in flight are skipped, and a change
   * logged after the copy turns the move of that memory into a no-op (its LSN differs).
   */
  private async runDemotion(): Promise<void> {
    while (!this.closed && !this.wal.failed) {
      const count = demotionBatch(
        { warm: this.warm.count(), cold: this.cold.count },
        this.ctx.options,
      );
      if (count === 0) return;
      const now = Date.now();
      const chosen = pickDemotions(this.warm.allRecords(), count, {
        skip: (id) => this.memtable.has(id) || this.pendingIds.has(id),
        activation: (record) => this.access.activation(record, this.access.get(record), now),
        lastTouch: (record) => this.access.get(record).lastAccess ?? record.storedAt,
      });
      if (chosen.length === 0) return;
      const locations = await this.cold.write(
        chosen.map((record) => ({ record, vector: this.warm.getVector(record.id) ?? null })),
      );
      const items = chosen.map(({ id }, i) => ({ id, ...locations[i]! }));
      const lsn = await this.append({ kind: 'demote', items });
      while (this.warm.appliedLsn() < lsn && !this.closed && !this.wal.failed) await sleep(5);
      this.ctx.logger.debug({ space: this.id, demoted: items.length }, 'demoted to the cold tier');
    }
  }

  /** Recalled cold memories move back to the warm tier, in the background, through the log. */
  private promoteRecalled(items: Array<{ id: string; lsn: number }>): void {
    if (this.closed) return;
    this.append({ kind: 'promote', items }).catch((error: unknown) => {
      this.ctx.logger.warn({ err: error, space: this.id }, 'promoting recalled memories failed');
    });
  }

  private checkCall(options: CallOptions): void {
    if (this.closed) throw new EngramError('ENG_SPACE_CLOSED', `Space "${this.id}" is closed`);
    if (options.signal?.aborted)
      throw new EngramError('ENG_ABORTED', 'The call was aborted before it was queued');
  }

  /** The first vector fixes the dimension through a logged settings record, queued ahead of the put. */
  private fixDimension(length: number): void {
    if (this.dimension === undefined) {
      this.dimension = length;
      void this.append({ kind: 'settings', dimension: length }).catch(() => {
        // The put queued behind this record fails with the same error; the caller sees it there.
      });
      return;
    }
    if (length !== this.dimension) {
      throw new EngramError(
        'ENG_VECTOR_DIM_MISMATCH',
        `Cannot store in space "${this.id}": vector has ${length} dimensions, space expects ${this.dimension}`,
        { details: { got: length, expected: this.dimension } },
      );
    }
  }

  private async append(entry: LogEntry): Promise<number> {
    if (this.unapplied.length >= this.ctx.options.maxUnappliedRecords) {
      throw new EngramError(
        'ENG_WRITE_QUEUE_FULL',
        `Space "${this.id}" has ${this.unapplied.length} records waiting for the warm tier and index (max_unapplied_records); retry later`,
      );
    }
    const id = memoryIdOf(entry);
    const promise = this.wal.append(recordTypeOf(entry), encodeEntry(entry), entry);
    const lsn = this.wal.lastAssignedLsn;
    if (id !== undefined) this.pendingIds.set(id, { lsn, live: entry.kind !== 'delete' });
    try {
      return await promise;
    } finally {
      if (id !== undefined && this.pendingIds.get(id)?.lsn === lsn) this.pendingIds.delete(id);
    }
  }

  /** Called by the log writer once per durable group, in LSN order, before any caller is answered. */
  private onDurable(records: DurableRecord<LogEntry>[]): void {
    const now = Date.now();
    const events: SpaceEvent[] = [];
    for (const { lsn, body } of records) {
      this.applyToMemtable(lsn, body, now);
      const event = eventOf(this.id, lsn, body, now);
      if (event) events.push(event);
    }
    this.scheduleApply();
    this.scheduleDemotion(); // also while the applier never idles under a steady write load
    if (events.length > 0) this.ctx.events.publish(this.id, events);
  }

  /**
   * Events after `afterLsn` (at most `limit`), read back from the log. Fails with
   * ENG_EVENTS_EXPIRED when a checkpoint already removed some of them.
   */
  async eventsAfter(afterLsn: number, limit: number): Promise<SpaceEvent[]> {
    if (!Number.isInteger(afterLsn) || afterLsn < 0) {
      throw new EngramError(
        'ENG_QUERY_INVALID',
        `An event id must be a non-negative integer, got ${JSON.stringify(afterLsn)}`,
      );
    }
    const { records, firstLsn } = await readWalSince(this.ctx.fs, join(this.ctx.dir, 'wal'), {
      fromLsn: afterLsn,
      payloadBytesMax: this.ctx.options.walRecordBytesMax,
      limit,
    });
    const oldest = records[0]?.lsn ?? firstLsn;
    if (afterLsn < this.wal.lastAssignedLsn && oldest !== undefined && oldest > afterLsn + 1) {
      throw new EngramError(
        'ENG_EVENTS_EXPIRED',
        `Space "${this.id}" no longer holds events after ${afterLsn} (its log starts at ${oldest}); resubscribe without Last-Event-ID`,
        { details: { oldest } },
      );
    }
    const now = Date.now();
    return records.flatMap(
      (raw) => eventOf(this.id, raw.lsn, decodeEntry(raw.type, raw.payload), now) ?? [],
    );
  }

  private applyToMemtable(lsn: number, entry: LogEntry, durableAt: number): void {
    this.unapplied.push({ lsn, entry, durableAt });
    const changed = memoryIdOf(entry);
    if (changed !== undefined) this.hot.invalidate(changed);
    if (entry.kind === 'demote') {
      for (const { id } of entry.items) {
        this.hot.invalidate(id);
        this.demotionsPending.add(id);
      }
    }
    if (changed !== undefined || entry.kind === 'demote') this.changes += 1;
    switch (entry.kind) {
      case 'put':
        this.lexical?.set(entry.record.id, entry.record.content);
        this.citations?.set(entry.record.id, entry.record.consolidation?.sources);
        this.memtable.set(entry.record.id, {
          lsn,
          record: { ...entry.record, lsn },
          vector: entry.vector ?? undefined,
          durableAt,
        });
        break;
      case 'update': {
        const base = this.currentRecord(entry.id);
        if (!base) break;
        const record = { ...base, ...entry.patch, updatedAt: entry.updatedAt, lsn };
        const vector = base.hasVector ? this.currentVector(entry.id) : undefined;
        if (entry.patch.content !== undefined) this.lexical?.set(entry.id, record.content);
        if (entry.patch.consolidation !== undefined)
          this.citations?.set(entry.id, record.consolidation?.sources);
        this.memtable.set(entry.id, { lsn, record, vector, durableAt });
        break;
      }
      case 'delete':
        this.lexical?.remove(entry.id);
        this.access.forget(entry.id);
        this.citations?.drop(entry.id);
        this.memtable.set(entry.id, { lsn, record: undefined, vector: undefined, durableAt });
        break;
      case 'settings':
        this.dimension ??= entry.dimension;
        break;
      case 'association':
      case 'demote': // tier moves change no content: reads follow the warm tier and the catalog
      case 'promote':
        break;
    }
  }

  // ---- reads ----------------------------------------------------------------------------

  private currentRecord(id: string): MemoryRecord | undefined {
    const entry = this.memtable.get(id);
    return entry
      ? entry.record
      : (this.hot.get(id) ?? this.warm.getRecord(id) ?? this.cold.getRecord(id));
  }

  /** A cold memory's vector is the dequantized (lossy) one. */
  private currentVector(id: string): Float32Array | undefined {
    const entry = this.memtable.get(id);
    return entry ? entry.vector : (this.warm.getVector(id) ?? this.cold.getVector(id));
  }

  /** True when the memory's newest version is the one in the cold tier. */
  private isCold(id: string): boolean {
    return !this.memtable.has(id) && this.cold.has(id);
  }

  /** Every applied record, warm and cold, skipping ids the memtable holds a newer version of. */
  private *liveRecords(): Generator<MemoryRecord> {
    for (const record of this.warm.allRecords()) if (!this.memtable.has(record.id)) yield record;
    for (const { id } of this.warm.coldCatalog()) {
      const record = this.memtable.has(id) ? undefined : this.cold.getRecord(id);
      if (record) yield record;
    }
  }

  private existsForWrite(id: string): boolean {
    const pending = this.pendingIds.get(id);
    return pending ? pending.live : this.currentRecord(id) !== undefined;
  }

  private notFound(id: string): EngramError {
    return new EngramError(
      'ENG_MEMORY_NOT_FOUND',
      `No memory ${JSON.stringify(id)} in space "${this.id}"`,
    );
  }

  get(id: string): MemoryView | undefined {
    validateMemoryId(id, this.ctx.options);
    const record = this.currentRecord(id);
    return record && this.view(record);
  }

  getVector(id: string): Float32Array | undefined {
    validateMemoryId(id, this.ctx.options);
    return this.currentVector(id);
  }

  associations(id: string): Array<{ to: string; weight: number }> {
    validateMemoryId(id, this.ctx.options);
    if (!this.currentRecord(id)) throw this.notFound(id);
    // Start from the warm tier and replay the not-yet-applied log entries over it with the
    // warm tier's own rules (a delete drops every link to and from the memory). Replaying an
    // entry the warm tier already holds changes nothing.
    const links = new Map(this.warm.associationsOf(id).map(({ to, weight }) => [to, weight]));
    for (const { entry } of this.unapplied) {
      if (entry.kind === 'association' && entry.from === id) links.set(entry.to, entry.weight);
      else if (entry.kind === 'delete' && entry.id === id) links.clear();
      else if (entry.kind === 'delete') links.delete(entry.id);
    }
    return [...links].map(([to, weight]) => ({ to, weight }));
  }

  /**
   * Exact scan of the memtable (the not-yet-indexed tail) plus an HNSW search of the rest.
   * A memtable entry always wins over what the index returns for the same id.
   */
  async recall(
    query: string | Float32Array | readonly number[],
    options: RecallOptions,
  ): Promise<RecallHit[]> {
    const checked = checkRecallOptions(options, this.ctx.options);
    const changesBefore = this.changes;
    const text = typeof query === 'string' ? query : undefined;
    if (text !== undefined && text.trim() === '') {
      throw new EngramError('ENG_QUERY_INVALID', 'A text query must not be empty');
    }
    // A text query: hybrid when the space can embed it, else lexical (a space of client vectors
    // can still be searched by its words). A vector query: similarity.
    const canEmbed = !(this.embedder instanceof EngramError);
    const mode =
      checked.mode ?? (text === undefined ? 'similarity' : canEmbed ? 'hybrid' : 'lexical');
    if ((mode === 'lexical' || mode === 'hybrid') && text === undefined) modeNeedsText(mode);
    this.checkCall(options);
    if (mode !== 'spreading') {
      return this.finishRecall(
        await this.recallTiers(mode, query, text, checked, options),
        changesBefore,
      );
    }
    // Seeds from the mode a plain recall of this query would use, then activation spreads.
    const spread = checkSpreadOptions(options.spread);
    const seedMode = text === undefined ? 'similarity' : canEmbed ? 'hybrid' : 'lexical';
    // The strongest few hits seed the spread; the rest can still be reached through them.
    const seeds = (
      await this.scoreRecall(
        seedMode,
        query,
        text,
        { ...checked, k: Math.max(checked.k, spread.seeds), threshold: -1 },
        options,
      )
    )
      .filter((hit) => hit.score > 0)
      .slice(0, spread.seeds);
    const reached = spreadActivation(
      seeds,
      {
        neighbours: (id) => this.associations(id),
        record: (id) => this.currentRecord(id),
        accept: checked.accept,
      },
      spread,
    );
    const ranked = reached
      .filter((hit) => hit.score >= checked.threshold)
      .sort((a, b) => b.score - a.score || (a.memory.id < b.memory.id ? -1 : 1))
      .slice(0, checked.k);
    return this.finishRecall(ranked, changesBefore);
  }

  private async scoreRecall(
    mode: RecallMode,
    query: string | Float32Array | readonly number[],
    text: string | undefined,
    checked: CheckedRecall,
    options: RecallOptions,
    /** Receives the query vector, for a cold search after this one. */
    used: { vector?: Float32Array } = {},
  ): Promise<ScoredRecord[]> {
    const { k, threshold, accept } = checked;
    const sources = this.recallSources();
    if (mode === 'lexical')
      return lexicalHits(sources, this.lexicalIndex(), text!, k, threshold, accept);
    const vector =
      text === undefined
        ? validateVector(query, this.ctx.options)
        : await this.embed(text, options);
    if (this.dimension !== undefined && vector.length === this.dimension) used.vector = vector;
    if (this.dimension === undefined) {
      return mode === 'hybrid'
        ? lexicalHits(sources, this.lexicalIndex(), text!, k, threshold, accept)
        : [];
    }
    if (vector.length !== this.dimension) {
      throw new EngramError(
        'ENG_VECTOR_DIM_MISMATCH',
        `Cannot recall in space "${this.id}": query has ${vector.length} dimensions, space expects ${this.dimension}`,
        { details: { got: vector.length, expected: this.dimension } },
      );
    }
    if (mode === 'hybrid')
      return hybridHits(
        sources,
        this.lexicalIndex(),
        { text: text!, vector },
        k,
        threshold,
        accept,
      );
    return similarityHits(sources, vector, k, threshold, accept);
  }

  /**
   * Recall over hot + warm, then over the cold tier too when the caller asks (includeCold) or
   * when fewer than k warmer hits passed the threshold. Cold hits compete on the same scores.
   */
  private async recallTiers(
    mode: RecallMode,
    query: string | Float32Array | readonly number[],
    text: string | undefined,
    checked: CheckedRecall,
    options: RecallOptions,
  ): Promise<ScoredRecord[]> {
    const used: { vector?: Float32Array } = {};
    const warm = await this.scoreRecall(mode, query, text, checked, options, used);
    if (this.cold.count === 0 || (options.includeCold !== true && warm.length >= checked.k))
      return warm;
    const lexical = text !== undefined && mode !== 'similarity' ? this.lexicalIndex() : undefined;
    const cold = this.cold.search(
      { mode, vector: used.vector, text, lexical, isCold: (id) => this.isCold(id) },
      checked,
    );
    const seen = new Set(warm.map((hit) => hit.memory.id));
    return [...warm, ...cold.filter((hit) => !seen.has(hit.memory.id))]
      .sort((a, b) => b.score - a.score || (a.memory.id < b.memory.id ? -1 : 1))
      .slice(0, checked.k);
  }

  /** Attaches access statistics and activation, then counts this recall as an access. */
  private finishRecall(scored: ScoredRecord[], changesBefore: number): RecallHit[] {
    const now = Date.now();
    const hits = scored.map(({ memory, score, parts, path }): RecallHit => {
      const view = this.view(memory);
      const activation = this.access.activation(memory, view, now);
      return {
        memory: view,
        score,
        parts: { ...parts, confidence: memory.confidence, activation },
        tier: this.hot.has(memory.id) ? 'hot' : this.isCold(memory.id) ? 'cold' : 'warm',
        ...(path ? { path } : {}),
      };
    });
    // Recalled memories move to the hot tier (a copy of their current version: any later change
    // drops them from it). Only if still current: a change that arrived while this recall waited
    // for the index has already dropped the memory from the hot tier, and putting back the
    // version this recall read would serve it again once the change leaves the memtable.
    // A cold hit is not copied: it is promoted back to the warm tier below, and until that is
    // applied a copy would let the warm-tier passes (which read the hot tier first) answer for a
    // memory that only the cold search scores correctly. Nor is one on its way to the cold tier.
    const unchanged = this.changes === changesBefore;
    this.hot.promote(
      scored.flatMap(({ memory }, i) =>
        hits[i]!.tier !== 'cold' &&
        !this.demotionsPending.has(memory.id) &&
        (unchanged || this.currentRecord(memory.id)?.lsn === memory.lsn)
          ? [memory]
          : [],
      ),
      now,
    );
    this.access.touch(
      hits.map((hit) => hit.memory),
      now,
    );
    const cold = hits.filter((hit) => hit.tier === 'cold' || this.isCold(hit.memory.id));
    if (cold.length > 0)
      this.promoteRecalled(cold.map(({ memory }) => ({ id: memory.id, lsn: memory.lsn })));
    return hits;
  }

  private view(record: MemoryRecord): MemoryView {
    return { ...record, ...this.access.get(record) };
  }

  /** The BM25 index, built on first use from the warm tier and the memtable, then kept current. */
  private lexicalIndex(): LexicalIndex {
    if (this.lexical) return this.lexical;
    const lexical = new LexicalIndex();
    for (const record of this.liveRecords()) {
      if (!this.memtable.has(record.id)) lexical.set(record.id, record.content);
    }
    for (const [id, entry] of this.memtable.entriesView())
      if (entry.record) lexical.set(id, entry.record.content);
    this.lexical = lexical;
    return lexical;
  }

  list(options: ListOptions): ListPage {
    const { after, limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > this.ctx.options.maxListLimit) {
      throw new EngramError(
        'ENG_QUERY_INVALID',
        `limit must be an integer from 1 to ${this.ctx.options.maxListLimit}, got ${JSON.stringify(limit)}`,
      );
    }
    checkListTier(options.tier);
    const { tier } = options;
    if (tier === 'hot') return this.listHot(after, limit);
    if (after !== undefined && typeof after !== 'string')
      throw new EngramError('ENG_QUERY_INVALID', 'cursor must be a string');
    const page = new Map<string, MemoryRecord>();
    // Over-fetch by every memtable entry: each may hide one applied record of either tier.
    const fetch = limit + this.memtable.size + 1;
    if (tier !== 'cold') {
      for (const record of this.warm.range(after, fetch))
        if (!this.memtable.has(record.id)) page.set(record.id, record);
    }
    if (tier !== 'warm') {
      for (const id of this.warm.coldRange(after, fetch)) {
        const record = this.memtable.has(id) ? undefined : this.cold.getRecord(id);
        if (record) page.set(id, record);
      }
    }
    // A pending change of a cold memory makes it warm once applied.
    for (const [id, entry] of tier === 'cold' ? [] : this.memtable.entriesView()) {
      if (entry.record && (after === undefined || id > after)) page.set(id, entry.record);
    }
    const ids = [...page.keys()].sort();
    const memories = ids.slice(0, limit).map((id) => this.view(page.get(id)!));
    return { memories, nextCursor: ids.length > limit ? memories.at(-1)?.id : undefined };
  }

  /** The memories in the hot tier, by id. */
  private listHot(after: string | undefined, limit: number): ListPage {
    const ids = this.hot
      .ids()
      .filter((id) => after === undefined || id > after)
      .sort();
    const memories: MemoryView[] = [];
    for (const id of ids) {
      const record = this.currentRecord(id);
      if (record) memories.push(this.view(record));
      if (memories.length > limit) break;
    }
    const page = memories.slice(0, limit);
    return { memories: page, nextCursor: memories.length > limit ? page.at(-1)?.id : undefined };
  }

  stats(): SpaceStats {
    const coldCount = this.cold.count;
    let memories = this.warm.count() + coldCount;
    let coldChanging = 0;
    for (const [id, entry] of this.memtable.entriesView()) {
      // The warm tier may hold an older version, or (between its commit and settle()) this one.
      const inCold = this.cold.has(id);
      const applied = inCold || this.warm.getRecord(id) !== undefined;
      memories += (entry.record ? 1 : 0) - (applied ? 1 : 0);
      if (inCold) coldChanging += 1; // updated (warm once applied) or deleted
    }
    const coldMemories = coldCount - coldChanging;
    const { warmCapacity, coldCapacity } = this.ctx.options;
    const segments = this.wal.segmentList();
    const oldest = this.unapplied[0];
    return {
      id: this.id,
      state: 'open',
      memories,
      dimension: this.dimension ?? null,
      lastLsn: this.wal.lastAssignedLsn,
      appliedLsn: this.warm.appliedLsn(),
      indexedLsn: this.indexedLsn,
      snapshotLsn: this.snapshotLsn,
      pendingApply: this.unapplied.length,
      indexBacklog: this.index?.backlog ?? 0,
      applying: this.applier !== undefined,
      consolidationRate: this.consolidationRate.perSecond(Date.now()),
      embedder: this.meta.embedder,
      hotMemories: this.hot.size,
      hotCapacity: this.hot.capacity,
      warmMemories: memories - coldMemories,
      warmCapacity,
      coldMemories,
      coldCapacity,
      coldBytes: this.cold.bytes,
      // The fullest tier's occupancy: what decides when memories move or writes are refused.
      pressure: Math.max(
        this.hot.pressure,
        (memories - coldMemories) / warmCapacity,
        coldCapacity === 0 ? 0 : coldMemories / coldCapacity,
      ),
      applyLagMs: oldest ? Date.now() - oldest.durableAt : 0,
      walSegments: segments.length,
      walBytes: segments.reduce((n, s) => n + s.bytes, 0),
    };
  }

  /**
   * True once the log refused a write or the index thread was lost: the registry reopens the
   * space, re-reading the log from disk and rebuilding the graph.
   */
  private recallSources(): RecallSources {
    return {
      memtable: this.memtable,
      warm: this.warm,
      hot: this.hot,
      index: this.index,
      indexing: this.indexing,
    };
  }

  get needsReopen(): boolean {
    return this.wal.failed !== undefined || this.index?.lost === true;
  }

  // ---- background apply, snapshot and checkpoint -------------------------------------------

  private scheduleApply(): void {
    if (this.applier || this.unapplied.length === 0 || this.retryTimer) return;
    this.applier = this.runApplier().finally(() => {
      this.applier = undefined;
      if (!this.applyError && !this.closed) this.scheduleApply();
      this.scheduleDemotion();
    });
  }

  private async runApplier(): Promise<void> {
    try {
      while (this.unapplied.length > 0) {
        const batch = this.unapplied.slice(0, this.ctx.options.applyBatchRecords);
        const promoted = this.coverTierMoves(batch);
        try {
          const ops = await this.warm.apply(batch, this.cold);
          for (const { entry } of batch) {
            this.cold.sync(memoryIdsOf(entry));
            if (entry.kind === 'demote')
              for (const { id } of entry.items) this.demotionsPending.delete(id);
            if (entry.kind === 'settings' && this.meta.dimension === null)
              await this.persistDimension(entry.dimension);
          }
          // The graph is on an index thread (see vector/index-host.ts): the event loop goes on
          // while it inserts, and the memtable keeps these memories recallable until the
          // thread has staged them (searchable there from then on).
          const indexOps = ops.flatMap((perEntry) => perEntry ?? []);
          const index = this.indexFor(indexOps);
          if (index && indexOps.length > 0) await index.apply(indexOps);
        } finally {
          for (const id of promoted) this.indexing.delete(id);
        }
        for (const { lsn, entry } of batch) {
          const id = memoryIdOf(entry);
          if (id !== undefined) this.memtable.settle(id, lsn);
        }
        this.unapplied.splice(0, batch.length);
        this.indexedLsn = batch.at(-1)!.lsn;
        this.appliedSinceSnapshot += batch.length;
        if (this.appliedSinceSnapshot >= this.ctx.options.indexSnapshotEveryRecords)
          this.startCheckpoint();
        // The graph may fall behind its staged ops only so far: past that, writes wait here
        // (and, once maxUnappliedRecords are waiting, are refused with ENG_WRITE_QUEUE_FULL).
        await this.index?.settleBacklog(this.ctx.options.maxUnappliedRecords);
      }
      this.applyError = undefined;
    } catch (error) {
      // The memtable still holds everything, so reads stay correct; retry later.
      this.applyError = error as Error;
      this.ctx.logger.error(
        { err: error, space: this.id },
        'applying the log to the warm tier failed; retrying in 1 s',
      );
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.applyError = undefined;
        this.scheduleApply();
      }, 1000);
      this.retryTimer.unref();
    }
  }

  /**
   * A tier move is visible once its warm-tier transaction commits, which can be before
   * warm.apply returns, and a promoted memory reaches the index thread later still. Until both are
   * done the memory must stay findable: a demoted one gets its cold RAM vector now (cold search
   * skips it until the catalog names it), and a promoted one is scanned exactly by recall from
   * `indexing` (skipped there until the warm tier holds it). Returns the promoted ids.
   */
  private coverTierMoves(batch: readonly SequencedEntry[]): string[] {
    const promoted: string[] = [];
    for (const { entry } of batch) {
      if (entry.kind === 'demote') this.cold.prepareDemotions(entry.items);
      if (entry.kind !== 'promote') continue;
      for (const { id } of entry.items) {
        const vector = this.indexing.has(id) ? undefined : this.cold.getVector(id);
        if (!vector) continue;
        this.indexing.set(id, vector);
        promoted.push(id);
      }
    }
    return promoted;
  }

  /** The space's graph, created (on the thread with the fewest) when the first vector arrives. */
  private indexFor(ops: IndexOp[]): RemoteIndex | undefined {
    if (!this.index) {
      const first = ops.find((op) => op.op === 'upsert');
      if (!first) return undefined; // deletes of memories that never had a vector
      this.index = this.ctx.indexes.create(first.vector.length, hnswParams(this.ctx.options));
    }
    return this.index;
  }

  private async persistDimension(dimension: number): Promise<void> {
    this.meta = { ...this.meta, dimension };
    await writeSpaceMeta(this.ctx.fs, this.ctx.dir, this.meta);
  }

  /**
   * Checkpoints beside the applier: the snapshot waits on the index thread until the graph
   * holds every op staged before it, and applying (and staging) goes on meanwhile. The snapshot
   * request is posted before this returns, so it covers exactly the ops up to indexedLsn.
   */
  private startCheckpoint(): void {
    if (this.checkpointing || this.closed) return;
    this.checkpointing = this.checkpoint()
      .catch((error: unknown) => {
        this.ctx.logger.warn(
          { err: error, space: this.id },
          'checkpoint failed; the log keeps every record, retrying after the next batch',
        );
      })
      .finally(() => (this.checkpointing = undefined));
  }

  /** Snapshots the index, then removes log segments that both the warm tier and the snapshot cover. */
  private async checkpoint(): Promise<void> {
    const lsn = this.indexedLsn;
    const applied = this.appliedSinceSnapshot;
    this.appliedSinceSnapshot = 0;
    try {
      if (this.index) await this.index.snapshot(this.ctx.fs, join(this.ctx.dir, 'index'), lsn);
    } catch (error) {
      this.appliedSinceSnapshot += applied;
      throw error;
    }
    this.snapshotLsn = lsn;
    await this.warm.flushed(); // the warm tier's batches must be on disk before their log records go
    const removed = await this.wal.removeSegmentsThrough(Math.min(this.warm.appliedLsn(), lsn));
    this.ctx.logger.debug({ space: this.id, lsn, removedSegments: removed }, 'checkpoint');
  }

  /** Drains the log and the applier, snapshots the index, checkpoints and closes LMDB. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearInterval(this.accessTimer);
    clearTimeout(this.demotionRetry);
    if (this.consolidationTimer) clearInterval(this.consolidationTimer);
    try {
      await this.consolidating?.catch(() => undefined);
      await this.demoting;
      await this.wal.close();
      while (this.applier) await this.applier;
      if (this.unapplied.length > 0) await this.runApplier();
      await this.checkpointing;
      if (
        this.unapplied.length === 0 &&
        !this.wal.failed &&
        (this.appliedSinceSnapshot > 0 || this.snapshotLsn < this.indexedLsn)
      ) {
        await this.checkpoint();
      }
      await this.access.flush();
    } catch (error) {
      // Nothing is lost: the log still holds every record the warm tier or snapshot lacks.
      this.ctx.logger.warn(
        { err: error, space: this.id },
        'space closed without a final checkpoint',
      );
    } finally {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.index?.dispose();
      await this.cold.close();
      await this.warm.close();
    }
  }
}

function resolveEmbedder(ctx: SpaceContext, meta: SpaceMeta): Embedder | EngramError {
  if (meta.embedder === null) {
    return new EngramError(
      'ENG_EMBEDDER_MISSING',
      `Space "${ctx.id}" has no embedder: send vectors, or create the space with an embedder`,
    );
  }
  try {
    return ctx.embedders.create(meta.embedder, meta.dimension ?? undefined);
  } catch (error) {
    if (error instanceof EngramError) return error;
    throw error;
  }
}
