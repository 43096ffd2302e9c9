/**
 * Per-space event streams. Every event is derived from one durable log record and carries its
 * LSN as id, so a subscriber can resume after the last id it saw for as long as the space's
 * log still holds the records after it. A listener only ever receives events of the space it
 * subscribed to: the hub is keyed by SpaceId and publishes nowhere else.
 */
import type { LogEntry } from './log-entry.ts';
import type { SpaceId } from './space-id.ts';

export type SpaceEventType = 'stored' | 'updated' | 'forgotten' | 'associated' | 'consolidated';

export interface SpaceEvent {
  /** The LSN of the log record behind the event: ids increase and never repeat within a space. */
  lsn: number;
  type: SpaceEventType;
  space: SpaceId;
  memoryId: string;
  /** ms since the epoch when the record became durable (or was replayed from the log). */
  at: number;
  /** stored: the content; updated: the fields changed; associated: the target and weight. */
  detail: Record<string, unknown>;
}

export type SpaceEventListener = (event: SpaceEvent) => void;

/** The event a log entry produces, if any (settings records produce none). */
export function eventOf(
  space: SpaceId,
  lsn: number,
  entry: LogEntry,
  at: number,
): SpaceEvent | undefined {
  switch (entry.kind) {
    case 'put':
      if (entry.record.consolidation) {
        return {
          lsn,
          type: 'consolidated',
          space,
          memoryId: entry.record.id,
          at,
          detail: { content: entry.record.content, ...entry.record.consolidation },
        };
      }
      return {
        lsn,
        type: 'stored',
        space,
        memoryId: entry.record.id,
        at,
        detail: { content: entry.record.content },
      };
    case 'update':
      return {
        lsn,
        type: 'updated',
        space,
        memoryId: entry.id,
        at,
        detail: { fields: Object.keys(entry.patch) },
      };
    case 'delete':
      return { lsn, type: 'forgotten', space, memoryId: entry.id, at, detail: {} };
    case 'association':
      return {
        lsn,
        type: 'associated',
        space,
        memoryId: entry.from,
        at,
        detail: { target_id: entry.to, weight: entry.weight },
      };
    case 'settings':
    case 'demote': // tier moves change no memory: no event
    case 'promote':
      return undefined;
  }
}

export class EventHub {
  private readonly listeners = new Map<SpaceId, Set<SpaceEventListener>>();

  subscribe(space: SpaceId, listener: SpaceEventListener): () => void {
    let set = this.listeners.get(space);
    if (!set) {
      set = new Set();
      this.listeners.set(space, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(space) === set) this.listeners.delete(space);
    };
  }

  subscriberCount(): number {
    let count = 0;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }

  publish(space: SpaceId, events: readonly SpaceEvent[]): void {
    const set = this.listeners.get(space);
    if (!set) return;
    for (const event of events) {
      for (const listener of set) {
        try {
          listener(event);
        } catch {
          // A failing listener is its own transport's problem; it never stops the write path.
        }
      }
    }
  }
}
