/**
 * Every statement the engine runs is inside a transaction scoped to one space (or to the
 * catalogue): the transaction takes the application role with SET LOCAL ROLE when configured
 * and sets `app.current_space` with set_config(..., true), so both end with the transaction and
 * a pooled connection never carries one request's space into the next. Row-level security then
 * shows the transaction its own space's rows only; a statement outside such a transaction sees
 * nothing at all.
 *
 * The opening statements, the space row and (for writes) the LSN travel in one round trip:
 * a write locks its space's row and takes the next LSN, so the writes of one space, across all
 * servers, are serialised and numbered in commit order.
 */
import type pg from 'pg';
import { EngramError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { SpaceId } from '../../space-id.ts';
import type { SpaceSettings } from '../../space-settings.ts';
import { databaseError, isRetryable } from './postgres-errors.ts';

/** The scope under which only the spaces catalogue (no tenant table) is readable. */
export const CATALOGUE_SCOPE = '*';

export interface SpaceRow {
  key: number;
  dimension: number | null;
  embedder: string | null;
  memories: number;
  /** The space's last LSN; in a write transaction, the LSN of this write. */
  lastLsn: number;
  lexicalTokens: number;
  eventsPrunedThrough: number;
  /** Auto-linking and dedup, fixed at creation (engine/space-settings.ts). */
  settings: SpaceSettings;
}

export interface Tx {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** Ends the transaction with ROLLBACK instead of COMMIT (nothing written, no LSN used). */
  abandon(): void;
}

interface Settings {
  schema: string;
  role: string | null;
  statementTimeoutMs: number;
  maxRetries: number;
}

const SPACE_COLUMNS = `space_key::float8 AS key, dimension, embedder, memories::float8 AS memories,
  last_lsn::float8 AS "lastLsn", lexical_tokens::float8 AS "lexicalTokens",
  events_pruned_through::float8 AS "eventsPrunedThrough", settings`;

export class SpaceTransactions {
  constructor(
    private readonly pool: pg.Pool,
    private readonly settings: Settings,
    private readonly logger: Logger,
  ) {}

  /** A consistent read (one snapshot for every statement) of an existing space. */
  read<T>(space: SpaceId, fn: (tx: Tx, row: SpaceRow) => Promise<T>): Promise<T> {
    return this.run(
      space,
      'REPEATABLE READ READ ONLY',
      `SELECT ${SPACE_COLUMNS} FROM ${this.settings.schema}.spaces WHERE space_id = '${space}'`,
      fn,
    );
  }

  /** A write: the space row is locked and its LSN advanced; `row.lastLsn` is this write's LSN. */
  write<T>(space: SpaceId, fn: (tx: Tx, row: SpaceRow) => Promise<T>): Promise<T> {
    return this.run(
      space,
      'READ COMMITTED',
      `UPDATE ${this.settings.schema}.spaces SET last_lsn = last_lsn + 1 WHERE space_id = '${space}' RETURNING ${SPACE_COLUMNS}`,
      fn,
    );
  }

  /** A transaction scoped to `scope` without a space row (catalogue work, space creation and removal). */
  scoped<T>(
    scope: SpaceId | typeof CATALOGUE_SCOPE,
    fn: (tx: Tx) => Promise<T>,
    options: { lockTimeoutMs?: number } = {},
  ): Promise<T> {
    const lock =
      options.lockTimeoutMs === undefined
        ? ''
        : `SET LOCAL lock_timeout = ${options.lockTimeoutMs}`;
    return this.run(scope, 'READ COMMITTED', lock, (tx) => fn(tx), false);
  }

  private async run<T>(
    scope: string,
    isolation: string,
    extra: string,
    fn: (tx: Tx, row: SpaceRow) => Promise<T>,
    needsRow = true,
  ): Promise<T> {
    // The scope is a validated space id ([a-z0-9_-]) or "*", and the role a validated name:
    // both can be inlined, which puts the whole opening in one simple-protocol round trip.
    const { role, statementTimeoutMs, maxRetries } = this.settings;
    const opening = [
      `BEGIN ISOLATION LEVEL ${isolation}`,
      ...(role ? [`SET LOCAL ROLE "${role}"`] : []),
      `SET LOCAL statement_timeout = ${statementTimeoutMs}`,
      `SELECT set_config('app.current_space', '${scope}', true)`,
      ...(extra ? [extra] : []),
    ].join('; ');
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw databaseError(`Cannot reach PostgreSQL for space "${scope}"`, error);
      }
      let broken: Error | undefined;
      let abandoned = false;
      try {
        const results = (await client.query(opening)) as unknown as pg.QueryResult[];
        const row = results.at(-1)?.rows[0] as SpaceRow | undefined;
        if (needsRow && !row) throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${scope}"`);
        const tx: Tx = {
          query: async <R>(text: string, values?: unknown[]) =>
            (await client.query(text, values)).rows as R[],
          abandon: () => {
            abandoned = true;
          },
        };
        const result = await fn(tx, row!);
        await client.query(abandoned ? 'ROLLBACK' : 'COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        if (isRetryable(error) && attempt < maxRetries) {
          this.logger.debug({ space: scope, attempt, err: error }, 'transaction retried');
          continue;
        }
        throw databaseError(`Cannot complete the call on space "${scope}"`, error);
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: the pool drops it.
        client.release(broken);
      }
    }
  }

  /** The schema name as quoted in SQL. */
  get schema(): string {
    return this.settings.schema;
  }
}
