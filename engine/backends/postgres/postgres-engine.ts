/**
 * The StorageEngine on PostgreSQL (+ pgvector). Stateless apart from caches and not yet flushed
 * access counts: several servers may share one database, each write is one transaction, and a
 * space is a set of rows (plus its own partition of `memories`) rather than a directory.
 * Every statement runs in a transaction scoped to one space with row-level security doing the
 * scoping a second time (space-transactions.ts); open() refuses a role that would bypass it.
 */
import pg from 'pg';
import type { Embedder } from '../../embed/embedder.ts';
import { EmbedderCatalog, type EmbedderFactory } from '../../embed/embedder-catalog.ts';
import { RateMeter } from '../../consolidation.ts';
import { checkCreateSpace } from '../../create-space-options.ts';
import { EngramError } from '../../errors.ts';
import type { SpaceEventListener } from '../../events.ts';
import { SILENT_LOGGER, type Logger } from '../../logger.ts';
import { parseSpaceId, type SpaceId } from '../../space-id.ts';
import type {
  CreateSpaceOptions,
  SpaceHandle,
  SpaceSummary,
  DiscoveryReport,
  ServedEngine,
} from '../../storage.ts';
import { AccessCounter, type AccessDelta } from './access-counter.ts';
import { EventFeed } from './event-feed.ts';
import { migratePostgres } from './migrate.ts';
import { pgNotificationConnection } from './notification-connection.ts';
import type { PostgresEngineContext } from './postgres-engine-context.ts';
import { databaseError } from './postgres-errors.ts';
import { validatePostgresOptions, type PostgresEngineOptions } from './postgres-options.ts';
import type { RecallContext } from './postgres-recall.ts';
import { PostgresSpaceHandle } from './postgres-space.ts';
import { SCHEMA_VERSION } from './schema-migrations.ts';
import { CATALOGUE_SCOPE, SpaceTransactions, type Tx } from './space-transactions.ts';
import type { WriteContext } from './space-writes.ts';
import type { VectorSql } from './vector-sql.ts';
import { checkRole, detectVectors } from './startup-checks.ts';

/** consolidation_rate is consolidations per second over this window (as in the embedded backend). */
const CONSOLIDATION_RATE_WINDOW_MS = 10 * 60 * 1000;

export interface PostgresEngineDeps {
  logger?: Logger;
  /** Embedders beyond the built-in "hash", by name. */
  embedders?: Record<string, EmbedderFactory>;
}

export class PostgresEngine implements ServedEngine, PostgresEngineContext {
  readonly backend = 'postgres' as const;
  discovery: DiscoveryReport = { spaces: 0, skipped: [], ms: 0 };
  readonly schema: string;
  readonly access = new AccessCounter();
  readonly writes: WriteContext;
  readonly recallContext: RecallContext;
  readonly feed: EventFeed;
  private readonly embedderCache = new Map<
    SpaceId,
    { key: number; embedder: Embedder | EngramError }
  >();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly rates = new Map<SpaceId, RateMeter>();
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly flushTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    readonly options: Readonly<PostgresEngineOptions>,
    private readonly pool: pg.Pool,
    readonly tx: SpaceTransactions,
    readonly vectors: VectorSql,
    private readonly embedders: EmbedderCatalog,
    private readonly logger: Logger,
  ) {
    this.schema = tx.schema;
    const channel = `${options.schema}_events`;
    this.writes = { schema: this.schema, channel, vectors };
    this.recallContext = {
      schema: this.schema,
      vectors,
      efSearch: options.hnswEfSearch,
      exactScanMaxMemories: options.exactScanMaxMemories,
    };
    const notifications =
      options.notifications ??
      (options.url === undefined
        ? undefined
        : () => pgNotificationConnection({ connectionString: options.url }));
    this.feed = new EventFeed(
      tx,
      { channel, pageSize: 1000, pollMs: options.eventPollMs, notifications },
      logger,
    );
    this.flushTimer = setInterval(() => void this.flushAccess(), options.accessFlushMs);
    this.flushTimer.unref();
  }

  static async open(
    input: Partial<PostgresEngineOptions>,
    deps: PostgresEngineDeps = {},
  ): Promise<PostgresEngine> {
    const options = validatePostgresOptions(input);
    const logger = (deps.logger ?? SILENT_LOGGER).child({ component: 'postgres' });
    const owned = options.pool === undefined;
    const pool =
      options.pool ?? new pg.Pool({ connectionString: options.url, max: options.poolMax });
    // An idle pooled connection that breaks emits 'error'; unheard, it would end the process.
    if (owned)
      pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection failed'));
    try {
      if (options.migrate) {
        await migratePostgres(
          { pool, schema: options.schema, ...(options.role ? { appRole: options.role } : {}) },
          { logger },
        );
      }
      const schema = `"${options.schema}"`;
      const vectors = await detectVectors(pool, options.schema, SCHEMA_VERSION);
      const tx = new SpaceTransactions(
        pool,
        {
          schema,
          role: options.role,
          statementTimeoutMs: options.statementTimeoutMs,
          maxRetries: options.maxTransactionRetries,
        },
        logger,
      );
      const role = await checkRole(pool, options);
      const engine = new PostgresEngine(
        options,
        pool,
        tx,
        vectors,
        new EmbedderCatalog(deps.embedders),
        logger,
      );
      const started = performance.now();
      const spaces = await engine.listSpaces({ counts: false });
      engine.discovery = {
        spaces: spaces.length,
        skipped: [],
        ms: Math.round(performance.now() - started),
      };
      logger.info(
        { schema: options.schema, role, vectors: vectors.storage, version: SCHEMA_VERSION },
        'postgres engine open',
      );
      return engine;
    } catch (error) {
      if (owned) await pool.end().catch(() => undefined);
      throw databaseError(`Cannot open the PostgreSQL engine on schema "${options.schema}"`, error);
    }
  }

  /** Host, database and schema; never the user or password of the connection string. */
  get location(): string {
    const schema = `schema "${this.options.schema}"`;
    if (this.options.url === undefined) return `postgres (caller's pool), ${schema}`;
    try {
      const url = new URL(this.options.url);
      return `postgres://${url.host}${url.pathname}, ${schema}`;
    } catch {
      return `postgres, ${schema}`;
    }
  }

  // ---- context for the space handles --------------------------------------------------------

  assertOpen(): void {
    if (this.closed) throw new EngramError('ENG_SPACE_CLOSED', 'The engine is closed');
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    void work.catch(() => undefined).finally(() => this.inflight.delete(work));
    return work;
  }

  consolidationRate(space: SpaceId): RateMeter {
    let meter = this.rates.get(space);
    if (!meter) {
      meter = new RateMeter(CONSOLIDATION_RATE_WINDOW_MS);
      this.rates.set(space, meter);
    }
    return meter;
  }

  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.running.get(key);
    if (running) return running as Promise<T>;
    const work = this.track(fn()).finally(() => this.running.delete(key));
    this.running.set(key, work);
    return work;
  }

  async embedderOf(space: SpaceId): Promise<{ key: number; embedder: Embedder | EngramError }> {
    const cached = this.embedderCache.get(space);
    if (cached) return cached;
    const row = await this.track(this.tx.read(space, async (_tx, spaceRow) => spaceRow));
    const resolved = { key: row.key, embedder: this.resolveEmbedder(space, row) };
    this.embedderCache.set(space, resolved);
    return resolved;
  }

  forgetEmbedder(space: SpaceId): void {
    this.embedderCache.delete(space);
  }

  private resolveEmbedder(
    space: SpaceId,
    row: { embedder: string | null; dimension: number | null },
  ): Embedder | EngramError {
    if (row.embedder === null) {
      return new EngramError(
        'ENG_EMBEDDER_MISSING',
        `Space "${space}" has no embedder: send vectors, or create the space with an embedder`,
      );
    }
    try {
      return this.embedders.create(row.embedder, row.dimension ?? undefined);
    } catch (error) {
      if (error instanceof EngramError) return error;
      throw error;
    }
  }

  async createVectorIndex(tx: Tx, space: SpaceId, dimension: number): Promise<void> {
    if (this.vectors.storage !== 'pgvector') return;
    await tx.query(`SELECT ${this.schema}.create_space_vector_index($1, $2, $3, $4)`, [
      space,
      dimension,
      this.options.hnswM,
      this.options.hnswEfConstruction,
    ]);
  }

  // ---- StorageEngine ------------------------------------------------------------------------

  async createSpace(
    rawId: string,
    options: CreateSpaceOptions = {},
  ): Promise<{ id: SpaceId; created: boolean }> {
    this.assertOpen();
    const {
      id,
      dimension: fixed,
      embedder,
      settings,
    } = checkCreateSpace(rawId, options, this.options, this.embedders);
    const S = this.schema;
    const created = await this.track(
      this.tx.scoped(
        CATALOGUE_SCOPE,
        async (tx) => {
          // One creation at a time across servers, so max_spaces holds.
          await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`engram-spaces:${S}`]);
          const [state] = await tx.query<{ spaces: number; exists: boolean }>(
            `SELECT count(*)::float8 AS spaces, bool_or(space_id = $1) AS exists FROM ${S}.spaces`,
            [id],
          );
          if (state!.exists) return false;
          if (state!.spaces >= this.options.maxSpaces) {
            throw new EngramError(
              'ENG_SPACE_LIMIT_REACHED',
              `Cannot create space "${id}": ${state!.spaces} spaces exist and max_spaces is ${this.options.maxSpaces}`,
            );
          }
          // From here on the transaction is the new space's own.
          await tx.query(`SELECT set_config('app.current_space', $1, true)`, [id]);
          await tx.query(
            `INSERT INTO ${S}.spaces (space_id, dimension, embedder, settings) VALUES ($1, $2, $3, $4)`,
            [id, fixed, embedder, JSON.stringify(settings)],
          );
          await tx.query(`SELECT ${S}.create_space_storage($1)`, [id]);
          if (fixed !== null) await this.createVectorIndex(tx, id, fixed);
          return true;
        },
        { lockTimeoutMs: this.options.ddlLockTimeoutMs },
      ),
    );
    if (created) this.logger.info({ space: id }, 'space created');
    return { id, created };
  }

  async space(rawId: string): Promise<SpaceHandle> {
    this.assertOpen();
    const id = parseSpaceId(rawId);
    await this.track(this.tx.read(id, async () => undefined)); // ENG_SPACE_NOT_FOUND if absent
    return new PostgresSpaceHandle(id, this);
  }

  /** Whether the space exists (the embedded registry answers this from memory; here it is a query). */
  async hasSpace(rawId: string): Promise<boolean> {
    this.assertOpen();
    const id = parseSpaceId(rawId);
    const rows = await this.track(
      this.tx.scoped(CATALOGUE_SCOPE, (tx) =>
        tx.query(`SELECT 1 FROM ${this.schema}.spaces WHERE space_id = $1`, [id]),
      ),
    );
    return rows.length > 0;
  }

  async listSpaces(options: { counts?: boolean } = {}): Promise<SpaceSummary[]> {
    this.assertOpen();
    const counts = options.counts ?? true;
    const rows = await this.track(
      this.tx.scoped(CATALOGUE_SCOPE, (tx) =>
        tx.query<{ id: SpaceId; dimension: number | null; memories: number }>(
          `SELECT space_id AS id, dimension, memories::float8 AS memories FROM ${this.schema}.spaces ORDER BY space_id`,
        ),
      ),
    );
    return rows.map(({ id, dimension, memories }) => ({
      id,
      state: 'open',
      memories: counts ? memories : null,
      dimension,
    }));
  }

  /**
   * Removes the space's row, its partition (memories, vectors, HNSW index), associations,
   * access counts and events in one transaction: a crash leaves the whole space or none of it.
   */
  async deleteSpace(rawId: string): Promise<boolean> {
    this.assertOpen();
    const id = parseSpaceId(rawId);
    const S = this.schema;
    const deleted = await this.track(
      this.tx.scoped(
        id,
        async (tx) => {
          const [gone] = await tx.query<{ key: number }>(
            `DELETE FROM ${S}.spaces WHERE space_id = $1 RETURNING space_key::float8 AS key`,
            [id],
          );
          if (!gone) return false;
          for (const table of ['associations', 'access', 'events'])
            await tx.query(`DELETE FROM ${S}.${table} WHERE space_id = $1`, [id]);
          await tx.query(`SELECT ${S}.drop_space_storage($1, $2)`, [id, gone.key]);
          return true;
        },
        { lockTimeoutMs: this.options.ddlLockTimeoutMs },
      ),
    );
    if (deleted) {
      this.access.forgetSpace(id);
      this.forgetEmbedder(id);
      this.rates.delete(id);
      this.logger.info({ space: id }, 'space deleted');
    }
    return deleted;
  }

  /**
   * Live events of one space and, with `afterLsn`, the retained ones after it first (the
   * Registry's contract). Events written by other servers arrive through LISTEN/NOTIFY.
   */
  async subscribe(
    rawId: string,
    listener: SpaceEventListener,
    options: { afterLsn?: number; replayLimit?: number } = {},
  ): Promise<() => void> {
    this.assertOpen();
    return this.track(this.feed.subscribe(parseSpaceId(rawId), listener, options));
  }

  subscriberCount(): number {
    return this.feed.subscriberCount();
  }

  /** Writes the access counts gathered since the last flush, one transaction per space. */
  async flushAccess(): Promise<void> {
    for (const [space, deltas] of this.access.drain()) {
      try {
        await this.tx.scoped(space, (tx) => writeAccess(tx, this.schema, space, deltas));
      } catch (error) {
        this.access.restore(space, deltas);
        this.logger.warn({ space, err: error }, 'flushing access statistics failed');
      }
    }
  }

  /** Waits for calls in flight, flushes access counts, stops listening and ends its own pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.flushTimer);
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.flushAccess();
    await this.feed.close();
    if (this.options.pool === undefined) await this.pool.end().catch(() => undefined);
  }
}

async function writeAccess(
  tx: Tx,
  schema: string,
  space: SpaceId,
  deltas: Map<string, AccessDelta>,
): Promise<void> {
  // Ids in order, so two servers flushing the same memories lock their rows in the same order.
  const ids = [...deltas.keys()].sort();
  await tx.query(
    `INSERT INTO ${schema}.access AS acc (space_id, id, count, last_access, since)
     SELECT $1, d.id, d.count, d.last, d.since
     FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS d(id, count, last, since)
     JOIN ${schema}.memories m ON m.space_id = $1 AND m.id = d.id AND m.stored_at = d.since
     ORDER BY d.id
     ON CONFLICT (space_id, id) DO UPDATE SET
       count = CASE WHEN acc.since = EXCLUDED.since THEN acc.count + EXCLUDED.count ELSE EXCLUDED.count END,
       last_access = CASE WHEN acc.since = EXCLUDED.since
         THEN greatest(acc.last_access, EXCLUDED.last_access) ELSE EXCLUDED.last_access END,
       since = EXCLUDED.since`,
    [
      space,
      ids,
      ids.map((id) => deltas.get(id)!.count),
      ids.map((id) => deltas.get(id)!.last),
      ids.map((id) => deltas.get(id)!.since),
    ],
  );
}

/** Opens the PostgreSQL backend: `engram start` with `[persistence] backend = "postgres"` calls this. */
export function openPostgresEngine(
  options: Partial<PostgresEngineOptions>,
  deps: PostgresEngineDeps = {},
): Promise<PostgresEngine> {
  return PostgresEngine.open(options, deps);
}
