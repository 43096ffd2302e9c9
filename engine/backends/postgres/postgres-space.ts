/**
 * A handle on one space of the PostgreSQL backend. It validates exactly as the embedded
 * backend does (same functions, same codes, same messages), then runs one transaction scoped to
 * its space. A write is acknowledged once its transaction has committed: there is no
 * background apply, so every read sees every acknowledged write and stats().pendingApply is 0.
 * Embedding (a remote call, maybe) happens before the transaction, never while it holds a lock.
 */
import {
  checkConsolidationOptions,
  consolidatedRecord,
  type ConsolidationOptions,
} from '../../consolidation.ts';
import { checkRememberInput, embedText } from '../../remember-input.ts';
import { checkListTier } from '../../recall-options.ts';
import type { Embedder } from '../../embed/embedder.ts';
import { EngramError, isEngramError } from '../../errors.ts';
import { checkForgetMode, validatePatch } from '../../memory-fields.ts';
import {
  validateMemoryId,
  validateVector,
  type ListPage,
  type MemoryPatch,
  type MemoryRecord,
  type MemoryView,
  type RecallHit,
  type RememberInput,
} from '../../memory.ts';
import { checkRecallOptions } from '../../recall-options.ts';
import type { SpaceId } from '../../space-id.ts';
import { checkSnapshotMemory, type LoadReport } from '../../space-load.ts';
import type { SnapshotMemory, SpaceSnapshot } from '../../space-snapshot.ts';
import { modeNeedsText } from '../../space-recall.ts';
import { isConstant } from '../../space-settings.ts';
import { checkSpreadOptions } from '../../spreading.ts';
import type {
  CallOptions,
  ForgetOptions,
  ListOptions,
  RecallOptions,
  SpaceHandle,
  SpaceStats,
} from '../../storage.ts';
import { activationOf, type AccessView } from './access-counter.ts';
import { memoryColumns, recordOf, storedAccessOf, type MemoryRow } from './memory-rows.ts';
import type { PostgresEngineContext } from './postgres-engine-context.ts';
import {
  filterValues,
  hybridIds,
  hydrate,
  lexicalIds,
  nearestIds,
  similarityIds,
  type HydratedHit,
  type ScoredId,
} from './postgres-recall.ts';
import { planSpaceConsolidations } from './space-consolidation.ts';
import { spreadFrom } from './space-spreading.ts';
import { putAccess, snapshotMemories } from './space-transfer.ts';
import type { SpaceRow, Tx } from './space-transactions.ts';
import {
  deleteMemory,
  linkMemories,
  patchMemory,
  pruneEvents,
  purgeCitations,
  putMemory,
} from './space-writes.ts';

/** Events are pruned by the write whose LSN is a multiple of this. */
const PRUNE_EVERY_LSNS = 256;
/** A space deleted and created again between reading its embedder and writing: start over this often. */
const STALE_RETRIES = 3;

const NO_ACCESS: AccessView = { accessCount: 0, lastAccess: null };

/** PostgreSQL text cannot hold U+0000 (the embedded backend stores it). */
function rejectNul(content: string): string {
  if (content.includes('\u0000'))
    throw new EngramError(
      'ENG_CONTENT_INVALID',
      'Memory content holds the character U+0000, which PostgreSQL text cannot store',
    );
  return content;
}

export class PostgresSpaceHandle implements SpaceHandle {
  constructor(
    readonly id: SpaceId,
    private readonly ctx: PostgresEngineContext,
  ) {}

  // ---- writes ---------------------------------------------------------------------------

  async remember(input: RememberInput, options: CallOptions = {}): Promise<MemoryView> {
    this.ctx.assertOpen();
    const checked = checkRememberInput(input, this.ctx.options);
    const { id, metadata, episode } = checked;
    const content = rejectNul(checked.content);
    const clientVector = checked.vector;
    const fields = {
      confidence: checked.confidence,
      memoryType: checked.memoryType,
      tags: checked.tags,
      observedAt: checked.observedAt,
    };
    for (let attempt = 1; ; attempt++) {
      let vector = clientVector ?? null;
      let key: number | undefined;
      if (!clientVector) {
        const meta = await this.ctx.embedderOf(this.id);
        key = meta.key;
        const missing =
          meta.embedder instanceof EngramError && meta.embedder.code === 'ENG_EMBEDDER_MISSING';
        // A space without an embedder stores text-only memories (not recallable by vector).
        if (!missing) vector = await this.embed(meta.embedder, content, options);
      }
      this.checkCall(options);
      const now = Date.now();
      const record: MemoryRecord = {
        id,
        content,
        metadata,
        ...fields,
        observedAt: fields.observedAt ?? now,
        suppressed: false,
        ...(episode ? { episode } : {}),
        storedAt: now,
        updatedAt: now,
        lsn: 0,
        hasVector: vector !== null,
      };
      const stored = await this.write(async (tx, row) => {
        if (key !== undefined && row.key !== key) {
          tx.abandon();
          return undefined;
        }
        if (vector) await this.fixDimension(tx, row, vector.length);
        const { duplicate, links } = await this.similarOnWrite(tx, row, vector, checked.idGiven);
        if (duplicate) {
          // Merged into the near-identical memory, which keeps the higher confidence.
          if (record.confidence > duplicate.confidence) {
            const patch = { confidence: record.confidence };
            await patchMemory(tx, this.ctx.writes, this.id, duplicate.id, patch, {
              lsn: row.lastLsn,
              updatedAt: now,
            });
          } else tx.abandon();
          return { deduplicated: duplicate.id };
        }
        const full = { ...record, lsn: row.lastLsn };
        await putMemory(tx, this.ctx.writes, this.id, full, vector);
        return { full, links };
      });
      if (stored && 'deduplicated' in stored) {
        const merged = await this.get(stored.deduplicated);
        if (merged) return { ...merged, deduplicated: true };
        continue; // deleted in between: store this one after all
      }
      if (stored) {
        await this.autoLink(id, stored.links);
        return this.view(stored.full, NO_ACCESS);
      }
      this.ctx.forgetEmbedder(this.id);
      if (attempt >= STALE_RETRIES)
        throw new EngramError('ENG_INTERNAL', `Space "${this.id}" keeps being replaced; retry`);
    }
  }

  async update(id: string, patch: MemoryPatch, options: CallOptions = {}): Promise<MemoryView> {
    this.ctx.assertOpen();
    validateMemoryId(id, this.ctx.options);
    const clean = validatePatch(patch, this.ctx.options);
    if (clean.content !== undefined) rejectNul(clean.content);
    this.checkCall(options);
    const row = await this.write(async (tx, space) => {
      const updated = await patchMemory(tx, this.ctx.writes, this.id, id, clean, {
        lsn: space.lastLsn,
        updatedAt: Date.now(),
      });
      if (!updated) throw this.notFound(id);
      return updated;
    });
    return this.view(recordOf(row), storedAccessOf(row));
  }

  async forget(id: string, options: ForgetOptions = {}): Promise<boolean> {
    this.ctx.assertOpen();
    validateMemoryId(id, this.ctx.options);
    const mode = checkForgetMode(options.mode);
    this.checkCall(options);
    const done = await this.write(async (tx, space) => {
      const found =
        mode === 'suppress'
          ? (await patchMemory(
              tx,
              this.ctx.writes,
              this.id,
              id,
              { suppressed: true },
              {
                lsn: space.lastLsn,
                updatedAt: Date.now(),
              },
            )) !== undefined
          : await deleteMemory(tx, this.ctx.writes, this.id, id, space.lastLsn);
      if (!found) tx.abandon();
      else if (mode === 'delete') await purgeCitations(tx, this.ctx.writes, this.id, id);
      return found;
    });
    if (done && mode === 'delete') this.ctx.access.forget(this.id, id);
    return done;
  }

  async associate(
    from: string,
    to: string,
    weight: number,
    options: CallOptions = {},
  ): Promise<void> {
    this.ctx.assertOpen();
    validateMemoryId(from, this.ctx.options);
    validateMemoryId(to, this.ctx.options);
    if (!Number.isFinite(weight))
      throw new EngramError('ENG_QUERY_INVALID', 'Association weight must be a finite number');
    this.checkCall(options);
    await this.write(async (tx, space) => {
      const found = new Set(
        (
          await tx.query<{ id: string }>(
            `SELECT id FROM ${this.ctx.schema}.memories WHERE space_id = $1 AND id = ANY($2::text[])`,
            [this.id, [from, to]],
          )
        ).map((row) => row.id),
      );
      for (const id of [from, to]) if (!found.has(id)) throw this.notFound(id);
      await linkMemories(tx, this.ctx.writes, this.id, { from, to, weight }, space.lastLsn);
    });
  }

  /**
   * The space settings' work at write time (engine/space-settings.ts), inside the write's own
   * transaction, which holds the space row's lock: the memory a new one would be merged into
   * (dedup: no client id, a vector that is not constant), and the ones it would be linked to.
   */
  private async similarOnWrite(
    tx: Tx,
    row: SpaceRow,
    vector: Float32Array | null,
    idGiven: boolean,
  ): Promise<{
    duplicate?: { id: string; confidence: number };
    links: Array<{ id: string; similarity: number }>;
  }> {
    const { settings } = row;
    if (!vector) return { links: [] };
    const space = { id: this.id, row };
    if (!idGiven && settings.dedupThreshold !== undefined && !isConstant(vector)) {
      const [duplicate] = await nearestIds(
        tx,
        this.ctx.recallContext,
        space,
        vector,
        1,
        settings.dedupThreshold,
      );
      if (duplicate) return { duplicate, links: [] };
    }
    if (settings.autoLinkThreshold === undefined) return { links: [] };
    const links = await nearestIds(
      tx,
      this.ctx.recallContext,
      space,
      vector,
      settings.autoLinkMax ?? 3,
      settings.autoLinkThreshold,
    );
    return { links };
  }

  /**
   * Links a new memory both ways (weight = cosine) to the memories found at write time, each
   * link its own write (one event each). A crash in between leaves the memory without some of
   * them, as in the embedded backend; a memory forgotten meanwhile is skipped.
   */
  private async autoLink(
    id: string,
    links: ReadonlyArray<{ id: string; similarity: number }>,
  ): Promise<void> {
    for (const link of links) {
      if (link.id === id) continue;
      try {
        await this.associate(id, link.id, link.similarity);
        await this.associate(link.id, id, link.similarity);
      } catch (error) {
        if (!isEngramError(error, 'ENG_MEMORY_NOT_FOUND')) throw error;
      }
    }
  }

  /** A write transaction; events older than the retention go every PRUNE_EVERY_LSNS writes. */
  private async write<T>(fn: (tx: Tx, row: SpaceRow) => Promise<T>): Promise<T> {
    const result = await this.ctx.track(
      this.ctx.tx.write(this.id, async (tx, row) => {
        const out = await fn(tx, row);
        if (row.lastLsn % PRUNE_EVERY_LSNS === 0)
          await pruneEvents(
            tx,
            this.ctx.writes,
            this.id,
            Date.now() - this.ctx.options.eventRetentionMs,
          );
        return out;
      }),
    );
    this.ctx.feed.poke(this.id);
    return result;
  }

  /** The first vector fixes the dimension (and builds the space's HNSW index) in its own transaction. */
  private async fixDimension(tx: Tx, row: SpaceRow, length: number): Promise<void> {
    if (row.dimension === null) {
      await tx.query(`UPDATE ${this.ctx.schema}.spaces SET dimension = $2 WHERE space_id = $1`, [
        this.id,
        length,
      ]);
      await this.ctx.createVectorIndex(tx, this.id, length);
      row.dimension = length;
      return;
    }
    if (length !== row.dimension) {
      throw new EngramError(
        'ENG_VECTOR_DIM_MISMATCH',
        `Cannot store in space "${this.id}": vector has ${length} dimensions, space expects ${row.dimension}`,
        { details: { got: length, expected: row.dimension } },
      );
    }
  }

  private embed(
    embedder: Embedder | EngramError,
    text: string,
    options: CallOptions,
  ): Promise<Float32Array> {
    return embedText(embedder, text, options, this.ctx.options);
  }

  private checkCall(options: CallOptions): void {
    this.ctx.assertOpen();
    if (options.signal?.aborted)
      throw new EngramError('ENG_ABORTED', 'The call was aborted before it was queued');
  }

  private notFound(id: string): EngramError {
    return new EngramError(
      'ENG_MEMORY_NOT_FOUND',
      `No memory ${JSON.stringify(id)} in space "${this.id}"`,
    );
  }

  private view(record: MemoryRecord, stored: AccessView): MemoryView {
    return { ...record, ...this.ctx.access.view(this.id, record, stored) };
  }

  // ---- reads ----------------------------------------------------------------------------

  private read<T>(fn: (tx: Tx, row: SpaceRow) => Promise<T>): Promise<T> {
    this.ctx.assertOpen();
    return this.ctx.track(this.ctx.tx.read(this.id, fn));
  }

  async get(id: string): Promise<MemoryView | undefined> {
    validateMemoryId(id, this.ctx.options);
    const columns = memoryColumns(this.ctx.schema);
    const [row] = await this.read((tx) =>
      tx.query<MemoryRow>(
        `SELECT ${columns.select} FROM ${this.ctx.schema}.memories m ${columns.join}
         WHERE m.space_id = $1 AND m.id = $2`,
        [this.id, id],
      ),
    );
    return row && this.view(recordOf(row), storedAccessOf(row));
  }

  async getVector(id: string): Promise<Float32Array | undefined> {
    validateMemoryId(id, this.ctx.options);
    const [row] = await this.read((tx) =>
      tx.query<{ embedding: string | null }>(
        `SELECT embedding::text AS embedding FROM ${this.ctx.schema}.memories WHERE space_id = $1 AND id = $2`,
        [this.id, id],
      ),
    );
    return row?.embedding ? this.ctx.vectors.parse(row.embedding) : undefined;
  }

  async associations(id: string): Promise<Array<{ to: string; weight: number }>> {
    validateMemoryId(id, this.ctx.options);
    return this.read(async (tx) => {
      const exists = await tx.query(
        `SELECT 1 FROM ${this.ctx.schema}.memories WHERE space_id = $1 AND id = $2`,
        [this.id, id],
      );
      if (exists.length === 0) throw this.notFound(id);
      return tx.query<{ to: string; weight: number }>(
        `SELECT to_id AS "to", weight FROM ${this.ctx.schema}.associations
         WHERE space_id = $1 AND from_id = $2 ORDER BY to_id`,
        [this.id, id],
      );
    });
  }

  async recall(
    query: string | Float32Array | readonly number[],
    options: RecallOptions,
  ): Promise<RecallHit[]> {
    const limits = this.ctx.options;
    const checked = checkRecallOptions(options, limits);
    const text = typeof query === 'string' ? query : undefined;
    if (text !== undefined && text.trim() === '') {
      throw new EngramError('ENG_QUERY_INVALID', 'A text query must not be empty');
    }
    const filter = filterValues(options.filter, checked.includeSuppressed);
    const recall = { k: checked.k, threshold: checked.threshold, filter };
    for (let attempt = 1; ; attempt++) {
      // A text query: hybrid when the space can embed it, else lexical. A vector query: similarity.
      const meta = text === undefined ? undefined : await this.ctx.embedderOf(this.id);
      const canEmbed = meta !== undefined && !(meta.embedder instanceof EngramError);
      const plain = text === undefined ? 'similarity' : canEmbed ? 'hybrid' : 'lexical';
      const mode = checked.mode ?? plain;
      if ((mode === 'lexical' || mode === 'hybrid') && text === undefined) modeNeedsText(mode);
      this.checkCall(options);
      // Spreading seeds from the mode a plain recall of this query would use.
      const spread = mode === 'spreading' ? checkSpreadOptions(options.spread) : undefined;
      const scoring = mode === 'spreading' ? plain : mode;
      const vector =
        scoring === 'lexical'
          ? undefined
          : text === undefined
            ? validateVector(query, limits)
            : await this.embed(meta!.embedder, text, options);
      const hits = await this.read(async (tx, row) => {
        if (meta && row.key !== meta.key) return undefined;
        const space = { id: this.id, row };
        const scoreWith = spread
          ? { ...recall, k: Math.max(recall.k, spread.seeds), threshold: -1 }
          : recall;
        const scored = await this.score(tx, space, scoring, { text, vector }, scoreWith);
        if (!spread) return hydrate(tx, this.ctx.schema, this.id, scored, checked.accept);
        const seeds = scored.filter((hit) => hit.score > 0).slice(0, spread.seeds);
        return spreadFrom(tx, this.ctx.schema, this.id, seeds, {
          ...spread,
          k: checked.k,
          threshold: checked.threshold,
          accept: checked.accept,
        });
      });
      if (hits) return this.finishRecall(hits);
      this.ctx.forgetEmbedder(this.id);
      if (attempt >= STALE_RETRIES)
        throw new EngramError('ENG_INTERNAL', `Space "${this.id}" keeps being replaced; retry`);
    }
  }

  private async score(
    tx: Tx,
    space: { id: SpaceId; row: SpaceRow },
    mode: 'similarity' | 'lexical' | 'hybrid',
    query: { text: string | undefined; vector: Float32Array | undefined },
    recall: Parameters<typeof similarityIds>[4],
  ): Promise<ScoredId[]> {
    const ctx = this.ctx.recallContext;
    const { row } = space;
    if (mode === 'lexical' || (row.dimension === null && mode === 'hybrid'))
      return lexicalIds(tx, ctx, space, query.text!, recall);
    if (row.dimension === null) return [];
    const vector = query.vector!;
    if (vector.length !== row.dimension) {
      throw new EngramError(
        'ENG_VECTOR_DIM_MISMATCH',
        `Cannot recall in space "${this.id}": query has ${vector.length} dimensions, space expects ${row.dimension}`,
        { details: { got: vector.length, expected: row.dimension } },
      );
    }
    return mode === 'hybrid'
      ? hybridIds(tx, ctx, space, { text: query.text!, vector }, recall)
      : similarityIds(tx, ctx, space, vector, recall);
  }

  /** Attaches access statistics and activation, then counts this recall as an access. */
  private finishRecall(hits: Array<HydratedHit & { path?: string[] }>): RecallHit[] {
    const now = Date.now();
    const out = hits.map(({ record, stored, score, parts, path }): RecallHit => {
      const memory = this.view(record, stored);
      const activation = activationOf(record, memory, now, this.ctx.options.activationHalfLifeMs);
      return {
        memory,
        score,
        parts: { ...parts, confidence: record.confidence, activation },
        // No hot tier here: PostgreSQL's buffer cache plays that part.
        tier: 'warm',
        ...(path ? { path } : {}),
      };
    });
    this.ctx.access.touch(
      this.id,
      hits.map((hit) => hit.record),
      now,
    );
    return out;
  }

  async list(options: ListOptions): Promise<ListPage> {
    const { after, limit } = options;
    checkListTier(options.tier);
    // No hot or cold tier here (every memory is searchable): those listings are empty pages.
    if (options.tier === 'hot' || options.tier === 'cold')
      return { memories: [], nextCursor: undefined };
    if (!Number.isInteger(limit) || limit < 1 || limit > this.ctx.options.maxListLimit) {
      throw new EngramError(
        'ENG_QUERY_INVALID',
        `limit must be an integer from 1 to ${this.ctx.options.maxListLimit}, got ${JSON.stringify(limit)}`,
      );
    }
    if (after !== undefined && typeof after !== 'string')
      throw new EngramError('ENG_QUERY_INVALID', 'cursor must be a string');
    const columns = memoryColumns(this.ctx.schema);
    const rows = await this.read((tx) =>
      tx.query<MemoryRow>(
        `SELECT ${columns.select} FROM ${this.ctx.schema}.memories m ${columns.join}
         WHERE m.space_id = $1 AND ($2::text IS NULL OR m.id > $2::text) ORDER BY m.id LIMIT $3`,
        [this.id, after ?? null, limit + 1],
      ),
    );
    const memories = rows
      .slice(0, limit)
      .map((row) => this.view(recordOf(row), storedAccessOf(row)));
    return { memories, nextCursor: rows.length > limit ? memories.at(-1)?.id : undefined };
  }

  async stats(): Promise<SpaceStats> {
    const row = await this.read(async (_tx, space) => space);
    return {
      id: this.id,
      state: 'open',
      memories: row.memories,
      dimension: row.dimension,
      lastLsn: row.lastLsn,
      // Writes are applied when they commit: nothing is ever waiting.
      appliedLsn: row.lastLsn,
      indexedLsn: row.lastLsn,
      snapshotLsn: row.lastLsn,
      pendingApply: 0,
      indexBacklog: 0,
      embedder: row.embedder,
      // No hot tier in this backend: nothing to measure, so no pressure figure.
      hotMemories: 0,
      hotCapacity: 0,
      pressure: null,
      consolidationRate: this.ctx.consolidationRate(this.id).perSecond(Date.now()),
      applying: false,
      applyLagMs: 0,
      walSegments: 0,
      walBytes: 0,
    };
  }

  // ---- consolidation --------------------------------------------------------------------

  /** Groups related episodic memories into semantic ones; one run per space at a time in this process. */
  consolidate(
    raw: Partial<ConsolidationOptions> = {},
    options: CallOptions = {},
  ): Promise<Array<{ memoryId: string; sources: string[]; strength: number }>> {
    const checked = checkConsolidationOptions(raw);
    this.checkCall(options);
    return this.ctx.exclusive(`consolidate:${this.id}`, () => this.runConsolidation(checked));
  }

  private async runConsolidation(
    options: ConsolidationOptions,
  ): Promise<Array<{ memoryId: string; sources: string[]; strength: number }>> {
    const plans = await this.read((tx, row) =>
      planSpaceConsolidations(tx, this.ctx.recallContext, { id: this.id, row }, options),
    );
    const reports = [];
    for (const plan of plans) {
      const record: MemoryRecord = { ...consolidatedRecord(plan, Date.now()), lsn: 0 };
      await this.write(async (tx, row) => {
        await this.fixDimension(tx, row, plan.vector.length);
        await putMemory(tx, this.ctx.writes, this.id, { ...record, lsn: row.lastLsn }, plan.vector);
      });
      this.ctx.consolidationRate(this.id).mark(1, Date.now());
      reports.push({ memoryId: record.id, sources: plan.sources, strength: plan.strength });
    }
    return reports;
  }

  /** Memories made by consolidation, newest first. */
  async consolidations(limit: number): Promise<MemoryView[]> {
    const columns = memoryColumns(this.ctx.schema);
    const rows = await this.read((tx) =>
      tx.query<MemoryRow>(
        `SELECT ${columns.select} FROM ${this.ctx.schema}.memories m ${columns.join}
         WHERE m.space_id = $1 AND m.consolidation IS NOT NULL
         ORDER BY m.stored_at DESC, m.id LIMIT $2`,
        [this.id, limit],
      ),
    );
    return rows.map((row) => this.view(recordOf(row), storedAccessOf(row)));
  }

  // ---- backup, restore, export, import (space-transfer.ts) -----------------------------------

  /** The space as of one REPEATABLE READ snapshot, streamed page by page while `fn` runs. */
  async snapshot<T>(fn: (snapshot: SpaceSnapshot) => Promise<T>): Promise<T> {
    await this.ctx.flushAccess();
    return this.read(async (tx, row) => {
      const [meta] = await tx.query<{ created_at: Date }>(
        `SELECT created_at FROM ${this.ctx.schema}.spaces WHERE space_id = $1`,
        [this.id],
      );
      return fn({
        space: this.id,
        lsn: row.lastLsn,
        createdAt: meta!.created_at.toISOString(),
        dimension: row.dimension,
        embedder: row.embedder,
        settings: { ...row.settings },
        memoryCount: row.memories,
        memories: () => snapshotMemories(tx, this.ctx.schema, this.ctx.vectors, this.id),
      });
    });
  }

  /**
   * Stores memories as they were (engine/space-load.ts validates each as strictly as a live
   * write), one transaction each, then the associations whose two ends exist. Loading the same
   * items twice gives the same state; a bad item fails alone.
   */
  async load(items: readonly SnapshotMemory[], options: CallOptions = {}): Promise<LoadReport> {
    this.ctx.assertOpen();
    this.checkCall(options);
    const errors: LoadReport['errors'] = items.map(() => undefined);
    const valid: SnapshotMemory[] = [];
    let lastLsn = 0;
    for (const [position, raw] of items.entries()) {
      try {
        const item = await this.withVector(checkSnapshotMemory(raw, this.ctx.options), options);
        lastLsn = Math.max(lastLsn, await this.putLoaded(item));
        valid.push(item);
      } catch (error) {
        if (!isEngramError(error)) throw error;
        errors[position] = error;
      }
    }
    const links = valid.flatMap(({ record, associations }) =>
      associations.map((link) => ({ from: record.id, ...link })),
    );
    const { unresolved, lsn } = await this.loadLinks(links);
    return { errors, unresolved, lastLsn: Math.max(lastLsn, lsn) };
  }

  /** Links whose two ends exist are stored; the others are returned for a later try. */
  async loadLinks(
    links: ReadonlyArray<{ from: string; to: string; weight: number }>,
  ): Promise<{ unresolved: LoadReport['unresolved']; lsn: number }> {
    const unresolved: LoadReport['unresolved'] = [];
    let lsn = 0;
    for (const link of links) {
      const stored = await this.write(async (tx, row) => {
        const found = await tx.query(
          `SELECT id FROM ${this.ctx.schema}.memories WHERE space_id = $1 AND id = ANY($2::text[])`,
          [this.id, [link.from, link.to]],
        );
        if (found.length < (link.from === link.to ? 1 : 2)) {
          tx.abandon();
          return false;
        }
        await linkMemories(tx, this.ctx.writes, this.id, link, row.lastLsn);
        lsn = Math.max(lsn, row.lastLsn);
        return true;
      });
      if (!stored) unresolved.push(link);
    }
    return { unresolved, lsn };
  }

  /** An item loaded without a vector gets one from the space's embedder, as remember() would. */
  private async withVector(item: SnapshotMemory, options: CallOptions): Promise<SnapshotMemory> {
    if (item.vector !== null) return item;
    const { embedder } = await this.ctx.embedderOf(this.id);
    if (embedder instanceof EngramError && embedder.code === 'ENG_EMBEDDER_MISSING') return item;
    const vector = await this.embed(embedder, item.record.content, options);
    return { ...item, vector, record: { ...item.record, hasVector: true } };
  }

  private putLoaded(item: SnapshotMemory): Promise<number> {
    return this.write(async (tx, row) => {
      if (item.vector) await this.fixDimension(tx, row, item.vector.length);
      const record = { ...item.record, hasVector: item.vector !== null, lsn: row.lastLsn };
      await putMemory(tx, this.ctx.writes, this.id, record, item.vector);
      if (item.access) await putAccess(tx, this.ctx.schema, this.id, record, item.access);
      return row.lastLsn;
    });
  }
}
