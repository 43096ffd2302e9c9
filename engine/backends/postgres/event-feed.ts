/**
 * Per-space event streams over PostgreSQL. Every write inserts its event (id = the write's LSN)
 * in the same transaction and sends a NOTIFY carrying the space id; the notification only
 * says "look": subscribers are fed by reading the space's events after the last LSN each has
 * seen, in a transaction scoped to that space. So every event is delivered once and in LSN
 * order, a lost notification delays an event instead of dropping it (writes made through this
 * engine, the periodic poll and a LISTEN reconnection all look again), and a subscriber only
 * ever reads its own space's rows, row-level security included.
 */
import { EngramError } from '../../errors.ts';
import type { SpaceEvent, SpaceEventListener, SpaceEventType } from '../../events.ts';
import type { Logger } from '../../logger.ts';
import type { SpaceId } from '../../space-id.ts';
import type { NotificationConnection } from './notification-connection.ts';
import type { SpaceTransactions } from './space-transactions.ts';

interface Subscription {
  listener: SpaceEventListener;
  /** LSN of the last event delivered (or skipped as older than the subscription). */
  cursor: number;
}

interface EventRow {
  lsn: number;
  type: SpaceEventType;
  memory_id: string;
  at: number;
  detail: Record<string, unknown>;
}

const RECONNECT_MS_MAX = 30_000;

export class EventFeed {
  private readonly subscriptions = new Map<SpaceId, Set<Subscription>>();
  /** One pump per space at a time; a poke while it runs makes it go round once more. */
  private readonly pumps = new Map<SpaceId, { again: boolean; done: Promise<void> }>();
  private connection: NotificationConnection | undefined;
  private connecting: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectMs = 500;
  private readonly pollTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly tx: SpaceTransactions,
    private readonly settings: {
      channel: string;
      pageSize: number;
      pollMs: number;
      notifications: (() => NotificationConnection) | undefined;
    },
    private readonly logger: Logger,
  ) {
    this.pollTimer = setInterval(() => {
      for (const space of this.subscriptions.keys()) this.poke(space);
    }, settings.pollMs);
    this.pollTimer.unref();
  }

  /**
   * Live events of one space and, with `afterLsn`, the retained ones after it first; fails with
   * ENG_EVENTS_EXPIRED when events after `afterLsn` were already removed (eventRetentionMs).
   * `replayLimit` is the page size of the catch-up reads: every retained event is replayed.
   */
  async subscribe(
    space: SpaceId,
    listener: SpaceEventListener,
    options: { afterLsn?: number; replayLimit?: number } = {},
  ): Promise<() => void> {
    const { afterLsn } = options;
    if (afterLsn !== undefined && (!Number.isInteger(afterLsn) || afterLsn < 0)) {
      throw new EngramError(
        'ENG_QUERY_INVALID',
        `An event id must be a non-negative integer, got ${JSON.stringify(afterLsn)}`,
      );
    }
    // Listen before reading the space's position, so no event falls between the two.
    await this.ensureListening();
    const row = await this.tx.read(space, async (_tx, spaceRow) => spaceRow);
    if (afterLsn !== undefined && afterLsn < row.lastLsn && row.eventsPrunedThrough > afterLsn) {
      const oldest = row.eventsPrunedThrough + 1;
      throw new EngramError(
        'ENG_EVENTS_EXPIRED',
        `Space "${space}" no longer holds events after ${afterLsn} (its events start at ${oldest}); resubscribe without Last-Event-ID`,
        { details: { oldest } },
      );
    }
    const subscription: Subscription = { listener, cursor: afterLsn ?? row.lastLsn };
    let set = this.subscriptions.get(space);
    if (!set) {
      set = new Set();
      this.subscriptions.set(space, set);
    }
    set.add(subscription);
    if (afterLsn !== undefined) await this.pump(space, options.replayLimit);
    return () => {
      set.delete(subscription);
      if (set.size === 0 && this.subscriptions.get(space) === set) this.subscriptions.delete(space);
    };
  }

  subscriberCount(): number {
    let count = 0;
    for (const set of this.subscriptions.values()) count += set.size;
    return count;
  }

  /** Something may have happened in `space`: deliver what its subscribers have not seen. */
  poke(space: SpaceId): void {
    if (this.closed || !this.subscriptions.has(space)) return;
    this.pump(space).catch((error: unknown) =>
      this.logger.warn({ space, err: error }, 'reading events failed; the next poll retries'),
    );
  }

  private pump(space: SpaceId, pageSize = this.settings.pageSize): Promise<void> {
    const running = this.pumps.get(space);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: false, done: Promise.resolve() };
    state.done = (async () => {
      try {
        do {
          state.again = false;
          await this.deliverPending(space, pageSize);
        } while (state.again && !this.closed);
      } finally {
        this.pumps.delete(space);
      }
    })();
    this.pumps.set(space, state);
    return state.done;
  }

  private async deliverPending(space: SpaceId, pageSize: number): Promise<void> {
    for (;;) {
      const set = this.subscriptions.get(space);
      if (!set || set.size === 0) return;
      const from = Math.min(...[...set].map((s) => s.cursor));
      const rows = await this.tx.read(space, (tx) =>
        tx.query<EventRow>(
          `SELECT lsn::float8 AS lsn, type, memory_id, at::float8 AS at, detail
           FROM ${this.tx.schema}.events WHERE space_id = $1 AND lsn > $2 ORDER BY lsn LIMIT $3`,
          [space, from, pageSize],
        ),
      );
      for (const row of rows) {
        const event: SpaceEvent = {
          lsn: row.lsn,
          type: row.type,
          space,
          memoryId: row.memory_id,
          at: row.at,
          detail: row.detail,
        };
        for (const subscription of set) {
          if (subscription.cursor >= event.lsn) continue;
          subscription.cursor = event.lsn;
          try {
            subscription.listener(event);
          } catch {
            // A failing listener is its own transport's problem; it never stops the others.
          }
        }
      }
      if (rows.length < pageSize) return;
    }
  }

  private ensureListening(): Promise<void> {
    if (this.connection || !this.settings.notifications || this.closed) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const connection = this.settings.notifications!();
    try {
      await connection.listen(
        this.settings.channel,
        (payload) => this.onNotify(payload),
        (error) => this.onLost(connection, error),
      );
    } catch (error) {
      await connection.close();
      this.scheduleReconnect();
      this.logger.warn(
        { err: error },
        'LISTEN for events failed; events arrive by polling until it reconnects',
      );
      return;
    }
    if (this.closed) {
      await connection.close();
      return;
    }
    this.connection = connection;
    this.reconnectMs = 500;
    // Anything written while nobody listened is still in the events table.
    for (const space of this.subscriptions.keys()) this.poke(space);
  }

  private onNotify(payload: string): void {
    let space: unknown;
    try {
      space = (JSON.parse(payload) as { space?: unknown }).space;
    } catch {
      return;
    }
    if (typeof space === 'string') this.poke(space as SpaceId);
  }

  private onLost(connection: NotificationConnection, error: Error): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    void connection.close();
    this.logger.warn({ err: error }, 'the LISTEN connection was lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.ensureListening();
    }, this.reconnectMs);
    this.reconnectTimer.unref();
    this.reconnectMs = Math.min(RECONNECT_MS_MAX, this.reconnectMs * 2);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.connecting;
    await Promise.allSettled([...this.pumps.values()].map((p) => p.done));
    await this.connection?.close();
    this.connection = undefined;
    this.subscriptions.clear();
  }
}
