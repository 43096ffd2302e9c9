/**
 * The warm tier: one LMDB environment per space, holding every live memory, its vector, the
 * memory-id <-> index-label maps, associations and the LSN applied so far. Log entries are
 * applied in batches, each batch one LMDB transaction that also moves the applied-LSN marker,
 * so the marker can never claim an entry whose effects are missing (or the reverse).
 * It also holds the cold tier's catalog (id -> location in a cold segment), so a tier move is
 * one transaction: the memory leaves `records` and enters `cold` together, or not at all.
 * Labels (id <-> index label) stay with a cold memory, so a promotion reuses its label.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { dequantize, type ColdEntry, type ColdLocation } from '../cold/cold-segments.ts';
import { EngramError } from '../errors.ts';
import { WarmReadView } from './warm-read-view.ts';
import type { SequencedEntry } from '../log-entry.ts';
import type { MemoryRecord } from '../memory.ts';

/** How often and when a memory was last recalled. */
export interface AccessRecord {
  count: number;
  /** ms since the epoch */
  last: number;
  /** storedAt of the memory the counts belong to: a memory stored anew under the same id starts over. */
  since: number;
}

/** What the vector index must do after a batch commits. */
export type IndexOp =
  { op: 'upsert'; label: number; vector: Float32Array } | { op: 'delete'; label: number };

/** Reads cold records for promotions inside an apply transaction (synchronously). */
export interface ColdReader {
  read(location: ColdLocation): ColdEntry;
}

const ENCODER = { moreTypes: true } as const;
const PAGE_BYTES = 16384;
const LMDB_META_MAGIC = 0xbeefc0de;
const LMDB_DATA_VERSION = 2;
const P_META = 0x08;

/**
 * lmdb (3.5) crashes the whole process (SIGSEGV) when it opens a data file whose meta pages
 * are damaged, before any error can be caught. Check both meta pages ourselves first, so a bad
 * sector quarantines one space instead of killing the server. Damage deeper in the B-tree is
 * not caught here; LMDB has no page checksums.
 */
function checkMetaPages(path: string): void {
  const file = join(path, 'data.mdb');
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return; // no data file yet: LMDB creates a fresh one
  }
  const fd = openSync(file, 'r');
  try {
    if (size < 2 * PAGE_BYTES)
      throw new Error(`data.mdb is ${size} bytes, shorter than its two meta pages`);
    const page = Buffer.alloc(32);
    for (const offset of [0, PAGE_BYTES]) {
      readSync(fd, page, 0, 32, offset);
      const flags = page.readUInt16LE(18);
      if (
        !(flags & P_META) ||
        page.readUInt32LE(24) !== LMDB_META_MAGIC ||
        page.readUInt32LE(28) !== LMDB_DATA_VERSION
      ) {
        throw new Error(`data.mdb meta page at offset ${offset} is damaged`);
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** `meta` key of the number of memories in `records` (kept by apply()). */
const RECORD_COUNT = 'recordCount';
/**
 * `meta` key of the number of entries in `cold`, kept by apply() too: LMDB counts a database by
 * walking it (18.7 ms at 1M entries, measured), and every write and recall asks.
 */
const COLD_COUNT = 'coldCount';
const CONFIDENCE_CEILING = 'confidenceCeiling';

/** Changes to the counts of `records` and `cold` made by one apply() transaction. */
interface Delta {
  records: number;
  cold: number;
}

export class WarmStore {
  private constructor(
    private readonly root: RootDatabase,
    private readonly records: Database<MemoryRecord, string>,
    private readonly vectors: Database<Float32Array, string>,
    private readonly labels: Database<number, string>,
    private readonly ids: Database<string, number>,
    private readonly associations: Database<number, string>,
    private readonly associationsIn: Database<number, string>,
    private readonly meta: Database<number, string>,
    private readonly access: Database<AccessRecord, string>,
    private readonly cold: Database<ColdLocation, string>,
  ) {}

  /** confidenceCeiling, once read. */
  private ceiling: number | undefined;
  /** idOfLabel's answers so far, by label. */
  private readonly labelIds: Array<string | undefined> = [];

  static open(path: string): WarmStore {
    try {
      checkMetaPages(path);
      // 16 KiB pages: records of ~2 KB waste ~45% of 4 KiB pages (measured 392 -> 224 MB per 100k).
      // moreTypes: without it msgpackr silently turns Float32Array vectors into something else.
      const root = open({
        path,
        pageSize: PAGE_BYTES,
        maxDbs: 16,
        compression: false,
        encoder: ENCODER,
      });
      const db = <V, K extends string | number = string>(name: string, keyEncoding?: 'uint32') =>
        // `encoder` is honoured per database but missing from lmdb's DatabaseOptions type.
        root.openDB<V, K>({ name, encoder: ENCODER, ...(keyEncoding ? { keyEncoding } : {}) } as {
          name: string;
        });
      const store = new WarmStore(
        root,
        db<MemoryRecord>('records'),
        db<Float32Array>('vectors'),
        db<number>('labels'),
        db<string, number>('ids', 'uint32'),
        db<number>('associations'),
        db<number>('associations-in'),
        db<number>('meta'),
        db<AccessRecord>('access'),
        db<ColdLocation>('cold'),
      );
      store.appliedLsn(); // touch the environment now, so an unreadable one fails at open
      // A warm tier written before the count was kept: count it once.
      if (store.meta.get(RECORD_COUNT) === undefined)
        store.meta.putSync(RECORD_COUNT, store.records.getCount());
      if (store.meta.get(COLD_COUNT) === undefined)
        store.meta.putSync(COLD_COUNT, store.cold.getCount());
      // Likewise the confidence ceiling: found once by a scan.
      if (store.meta.get(CONFIDENCE_CEILING) === undefined) {
        let ceiling = 0;
        for (const record of store.allRecords()) ceiling = Math.max(ceiling, record.confidence);
        store.meta.putSync(CONFIDENCE_CEILING, ceiling);
      }
      return store;
    } catch (cause) {
      throw new EngramError(
        'ENG_WARM_UNREADABLE',
        `Cannot open the warm tier at ${path}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  appliedLsn(): number {
    return this.meta.get('appliedLsn') ?? 0;
  }

  nextLabel(): number {
    return this.meta.get('nextLabel') ?? 0;
  }

  dimension(): number | undefined {
    return this.meta.get('dimension');
  }

  getRecord(id: string): MemoryRecord | undefined {
    return this.records.get(id);
  }

  getVector(id: string): Float32Array | undefined {
    return this.vectors.get(id);
  }

  /**
   * The id an index label stands for. A label is given to one id for good (never reassigned,
   * not even after a delete), so what a committed read returned is kept in RAM: recall maps
   * every index hit through here, and an LMDB read per hit was a tenth of a recall's time with
   * many spaces open (page and TLB misses across their maps).
   */
  idOfLabel(label: number): string | undefined {
    const known = this.labelIds[label];
    if (known !== undefined) return known;
    const id = this.ids.get(label);
    if (id !== undefined) this.labelIds[label] = id;
    return id;
  }

  labelOf(id: string): number | undefined {
    return this.labels.get(id);
  }

  /**
   * Memories in the warm tier. LMDB's getCount() walks every record, and the write path asks
   * for this on every write (capacity checks): the count is kept in `meta` by apply(), in the
   * same transaction as the records, so it always agrees with what a reader sees.
   */
  count(): number {
    return this.meta.get(RECORD_COUNT) ?? this.records.getCount();
  }

  /**
   * At least the confidence of every memory the warm tier holds (the highest ever applied; it
   * never comes down). Recall uses it to bound the score of a memory the index did not return.
   */
  confidenceCeiling(): number {
    // Kept in memory too (every recall asks): raised with the value written, before its commit,
    // which only loosens the bound while the transaction is open (or if it aborts).
    return (this.ceiling ??= this.meta.get(CONFIDENCE_CEILING) ?? 1);
  }

  /** Where a cold memory lives, or undefined when the memory is not in the cold tier. */
  coldLocation(id: string): ColdLocation | undefined {
    return this.cold.get(id);
  }

  coldCount(): number {
    return this.meta.get(COLD_COUNT) ?? this.cold.getCount();
  }

  /** The counts kept in `meta` and the counts LMDB finds by walking (for offline verification). */
  countsKeptAndWalked(): {
    kept: { records: number | undefined; cold: number | undefined };
    walked: { records: number; cold: number };
  } {
    return {
      kept: { records: this.meta.get(RECORD_COUNT), cold: this.meta.get(COLD_COUNT) },
      walked: { records: this.records.getCount(), cold: this.cold.getCount() },
    };
  }

  /** Cold ids strictly after `after`, in id order. */
  coldRange(after: string | undefined, limit: number): string[] {
    const out: string[] = [];
    for (const key of this.cold.getKeys(after === undefined ? {} : { start: after })) {
      if (key === after) continue;
      out.push(key);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The whole cold catalog, in id order. */
  *coldCatalog(): Generator<{ id: string; location: ColdLocation }> {
    for (const { key, value } of this.cold.getRange({})) yield { id: key, location: value };
  }

  /** Records with ids strictly after `after`, in id order. */
  range(after: string | undefined, limit: number): MemoryRecord[] {
    const out: MemoryRecord[] = [];
    for (const { key, value } of this.records.getRange(
      after === undefined ? {} : { start: after },
    )) {
      if (key === after) continue;
      out.push(value);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Persisted access statistics of a memory (recent recalls may still be pending in memory). */
  getAccess(id: string): AccessRecord | undefined {
    return this.access.get(id);
  }

  /**
   * Adds access counts gathered in memory since the last flush. Not logged: a crash loses at
   * most the counts since the previous flush, never a memory. Counts of memories deleted
   * meanwhile are dropped.
   */
  async addAccess(deltas: ReadonlyMap<string, AccessRecord>): Promise<void> {
    await this.root.transaction(() => {
      for (const [id, delta] of deltas) {
        if (this.records.get(id) === undefined && this.cold.get(id) === undefined) continue;
        const stored = this.access.get(id);
        const base = stored?.since === delta.since ? stored : undefined;
        void this.access.put(id, {
          count: (base?.count ?? 0) + delta.count,
          last: Math.max(base?.last ?? 0, delta.last),
          since: delta.since,
        });
      }
    });
  }

  /** A consistent read of the whole tier in one LMDB read transaction (see warm-read-view.ts). */
  readView(): WarmReadView {
    const { records, vectors, associations, meta, access, cold } = this;
    return new WarmReadView(this.root.useReadTransaction(), {
      records,
      vectors,
      associations,
      meta,
      access,
      cold,
    });
  }

  /**
   * Sets (not adds) access statistics of restored or imported memories, so loading the same
   * data twice gives the same counts. Memories not in the tier are skipped.
   */
  async setAccess(entries: ReadonlyMap<string, AccessRecord>): Promise<void> {
    await this.root.transaction(() => {
      for (const [id, access] of entries) {
        if (this.records.get(id) !== undefined) void this.access.put(id, access);
      }
    });
  }

  /** Every record, in id order. */
  *allRecords(): Generator<MemoryRecord> {
    for (const { value } of this.records.getRange({})) yield value;
  }

  /** Every live vector with its label, for rebuilding the index. */
  *vectorsWithLabels(): Generator<{ label: number; vector: Float32Array }> {
    for (const { key, value } of this.vectors.getRange({})) {
      const label = this.labels.get(key);
      if (label !== undefined) yield { label, vector: value };
    }
  }

  associationsOf(id: string): Array<{ to: string; weight: number }> {
    const out: Array<{ to: string; weight: number }> = [];
    for (const { key, value } of this.associations.getRange({
      start: `${id}\u0000`,
      end: `${id}\u0001`,
    })) {
      out.push({ to: key.slice(id.length + 1), weight: value });
    }
    return out;
  }

  /**
   * Applies a batch of log entries in one transaction and returns, for each entry, the
   * vector-index operations it implies (run by the caller once the transaction has committed).
   * Entries at or below the applied LSN are skipped, which makes replay idempotent. Cold
   * records that an entry promotes are read through `cold` inside the transaction.
   */
  async apply(batch: readonly SequencedEntry[], cold: ColdReader): Promise<IndexOp[][]> {
    const ops: IndexOp[][] = batch.map(() => []);
    const delta: Delta = { records: 0, cold: 0 };
    await this.root.transaction(() => {
      let ceiling = this.confidenceCeiling();
      let applied = this.appliedLsn();
      const labels = { next: this.nextLabel() };
      for (const [position, { lsn, entry }] of batch.entries()) {
        if (lsn <= applied) continue;
        const out = ops[position]!;
        switch (entry.kind) {
          case 'put': {
            const { id } = entry.record;
            if (this.records.get(id) === undefined) delta.records += 1;
            void this.records.put(id, { ...entry.record, lsn });
            ceiling = Math.max(ceiling, entry.record.confidence);
            // A new version of a cold memory is warm (read first: a remove is a write either way).
            this.removeCold(id, delta);
            this.putVector(id, entry.vector, labels, out);
            break;
          }
          case 'update': {
            // An update of a cold memory promotes it first (its vector dequantized).
            const base =
              this.records.get(entry.id) ?? this.promote(entry.id, cold, labels, out, delta);
            if (base) {
              const updated = { ...base, ...entry.patch, updatedAt: entry.updatedAt, lsn };
              void this.records.put(entry.id, updated);
              ceiling = Math.max(ceiling, updated.confidence);
            }
            break;
          }
          case 'delete': {
            const label = this.labels.get(entry.id);
            if (this.records.get(entry.id) !== undefined) delta.records -= 1;
            void this.records.remove(entry.id);
            void this.vectors.remove(entry.id);
            this.removeCold(entry.id, delta);
            if (label !== undefined) out.push({ op: 'delete', label });
            this.removeAssociations(entry.id);
            void this.access.remove(entry.id);
            break;
          }
          case 'association':
            void this.associations.put(`${entry.from}\u0000${entry.to}`, entry.weight);
            void this.associationsIn.put(`${entry.to}\u0000${entry.from}`, entry.weight);
            break;
          case 'settings':
            void this.meta.put('dimension', entry.dimension);
            break;
          case 'demote':
            for (const { id, ...location } of entry.items) this.demote(id, location, out, delta);
            break;
          case 'promote':
            for (const { id, lsn: version } of entry.items)
              if (this.cold.get(id)?.lsn === version) {
                const promoted = this.promote(id, cold, labels, out, delta);
                if (promoted) ceiling = Math.max(ceiling, promoted.confidence);
              }
            break;
        }
        applied = lsn;
      }
      void this.meta.put('appliedLsn', applied);
      void this.meta.put('nextLabel', labels.next);
      void this.meta.put(RECORD_COUNT, this.count() + delta.records);
      void this.meta.put(COLD_COUNT, this.coldCount() + delta.cold);
      void this.meta.put(CONFIDENCE_CEILING, ceiling);
      this.ceiling = ceiling;
    });
    return ops;
  }

  private putVector(
    id: string,
    vector: Float32Array | null,
    labels: { next: number },
    out: IndexOp[],
  ): void {
    let label = this.labels.get(id);
    if (label === undefined && vector) {
      label = labels.next++;
      void this.labels.put(id, label);
      void this.ids.put(label, id);
    }
    if (vector) {
      void this.vectors.put(id, vector);
      out.push({ op: 'upsert', label: label!, vector });
    } else {
      void this.vectors.remove(id);
      if (label !== undefined) out.push({ op: 'delete', label });
    }
  }

  /** Moves the memory to the cold catalog if it is still the version copied there, else no-op. */
  private demote(id: string, location: ColdLocation, out: IndexOp[], delta: Delta): void {
    if (this.records.get(id)?.lsn !== location.lsn) return; // changed or gone since
    delta.records -= 1;
    void this.records.remove(id);
    void this.vectors.remove(id);
    if (this.cold.get(id) === undefined) delta.cold += 1;
    void this.cold.put(id, location);
    const label = this.labels.get(id);
    if (label !== undefined) out.push({ op: 'delete', label });
  }

  /** Moves a cold memory back to the warm tier (its vector dequantized); returns its record. */
  private promote(
    id: string,
    cold: ColdReader,
    labels: { next: number },
    out: IndexOp[],
    delta: Delta,
  ): MemoryRecord | undefined {
    const location = this.cold.get(id);
    if (!location) return undefined;
    const { record, vector } = cold.read(location);
    if (this.records.get(id) === undefined) delta.records += 1;
    void this.records.put(id, record);
    this.removeCold(id, delta);
    this.putVector(id, vector ? dequantize(vector) : null, labels, out);
    return record;
  }

  /** Drops the id from the cold catalog if it is there (read first: a remove writes either way). */
  private removeCold(id: string, delta: Delta): void {
    if (this.cold.get(id) === undefined) return;
    void this.cold.remove(id);
    delta.cold -= 1;
  }

  private removeAssociations(id: string): void {
    for (const { to } of this.associationsOf(id)) {
      void this.associations.remove(`${id}\u0000${to}`);
      void this.associationsIn.remove(`${to}\u0000${id}`);
    }
    for (const { key } of this.associationsIn.getRange({
      start: `${id}\u0000`,
      end: `${id}\u0001`,
    })) {
      const from = key.slice(id.length + 1);
      void this.associationsIn.remove(key);
      void this.associations.remove(`${from}\u0000${id}`);
    }
  }

  /**
   * Resolves once every committed batch is on disk. lmdb commits with overlapping sync: a
   * commit is visible before it is flushed, so a checkpoint must wait for this before it
   * removes the log records that batch came from.
   */
  async flushed(): Promise<void> {
    await this.root.flushed;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
