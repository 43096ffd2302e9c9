/**
 * What one log record means. The WAL stores these bodies (msgpack, moreTypes) and recovery
 * replays them through the same apply path as live writes, so replaying twice gives the same
 * state: every entry sets values, none increments.
 */
import assert from 'node:assert/strict';
import type { MemoryPatch, MemoryRecord } from './memory.ts';
import { RECORD_TYPES, payloadCodec, type RecordTypeCode } from './wal/wal-record.ts';

export type LogEntry =
  | { kind: 'put'; record: Omit<MemoryRecord, 'lsn'>; vector: Float32Array | null }
  | { kind: 'update'; id: string; patch: MemoryPatch; updatedAt: number }
  | { kind: 'delete'; id: string }
  | { kind: 'association'; from: string; to: string; weight: number }
  | { kind: 'settings'; dimension: number }
  /** Memories moved to the cold tier: their records are already fsynced in a cold segment. */
  | { kind: 'demote'; items: DemoteItem[] }
  /** Cold memories moved back to the warm tier (recalled). */
  | { kind: 'promote'; items: Array<{ id: string; lsn: number }> };

/**
 * One demoted memory: the version (record LSN) that was copied to the cold segment, and where.
 * Applying it is a no-op when the memory has changed or gone since (its LSN differs).
 */
export interface DemoteItem {
  id: string;
  lsn: number;
  segment: number;
  offset: number;
  length: number;
}

export interface SequencedEntry {
  lsn: number;
  entry: LogEntry;
}

const TYPE_OF_KIND: Record<LogEntry['kind'], RecordTypeCode> = {
  put: RECORD_TYPES.memoryPut,
  update: RECORD_TYPES.memoryUpdate,
  delete: RECORD_TYPES.memoryDelete,
  association: RECORD_TYPES.association,
  settings: RECORD_TYPES.spaceSettings,
  demote: RECORD_TYPES.tierDemote,
  promote: RECORD_TYPES.tierPromote,
};

export function recordTypeOf(entry: LogEntry): RecordTypeCode {
  return TYPE_OF_KIND[entry.kind];
}

export function encodeEntry(entry: LogEntry): Buffer {
  return payloadCodec.pack(entry);
}

/**
 * Decodes a record body read from disk and checks it has the shape its type promises
 * (the checksum proves the bytes are the ones written, this proves they mean what we think).
 */
export function decodeEntry(type: RecordTypeCode, payload: Buffer): LogEntry {
  const entry = payloadCodec.unpack(payload) as LogEntry;
  assert.equal(typeof entry, 'object');
  assert.equal(
    TYPE_OF_KIND[entry.kind],
    type,
    `log record type ${type} holds a "${entry.kind}" body`,
  );
  if (entry.kind === 'put') {
    assert.equal(typeof entry.record.id, 'string');
    assert.ok(
      entry.vector === null || entry.vector instanceof Float32Array,
      'put vector must be a Float32Array',
    );
  }
  if (entry.kind === 'demote' || entry.kind === 'promote') {
    assert.ok(Array.isArray(entry.items), `${entry.kind} items must be a list`);
    for (const item of entry.items) assert.equal(typeof item.id, 'string');
  }
  return entry;
}

/** Every memory id an entry touches (a tier move touches several). */
export function memoryIdsOf(entry: LogEntry): string[] {
  if (entry.kind === 'demote' || entry.kind === 'promote') return entry.items.map((i) => i.id);
  const id = memoryIdOf(entry);
  return id === undefined ? [] : [id];
}

/** The memory id whose content an entry changes, if any (tier moves change no content). */
export function memoryIdOf(entry: LogEntry): string | undefined {
  switch (entry.kind) {
    case 'put':
      return entry.record.id;
    case 'update':
    case 'delete':
      return entry.id;
    default:
      return undefined;
  }
}
