/**
 * A consistent, read-only view of one warm tier: every read goes through one LMDB read
 * transaction, so it sees exactly the state at one applied LSN while the applier keeps
 * committing newer batches. Backups and exports read through this. Call done() when finished
 * (an open read transaction keeps LMDB from reusing the pages it sees).
 */
import type { Database, Transaction } from 'lmdb';
import { dequantize, type ColdEntry, type ColdLocation } from '../cold/cold-segments.ts';
import type { MemoryRecord } from '../memory.ts';
import type { AccessRecord } from './warm-store.ts';

export interface WarmDatabases {
  records: Database<MemoryRecord, string>;
  vectors: Database<Float32Array, string>;
  associations: Database<number, string>;
  meta: Database<number, string>;
  access: Database<AccessRecord, string>;
  /** The cold tier's catalog: id -> location of the memory in a cold segment. */
  cold: Database<ColdLocation, string>;
}

export interface WarmMemory {
  record: MemoryRecord;
  vector: Float32Array | null;
  access: AccessRecord | null;
  associations: Array<{ to: string; weight: number }>;
}

export class WarmReadView {
  private finished = false;

  constructor(
    private readonly txn: Transaction,
    private readonly dbs: WarmDatabases,
  ) {}

  appliedLsn(): number {
    return this.dbs.meta.get('appliedLsn', { transaction: this.txn }) ?? 0;
  }

  dimension(): number | undefined {
    return this.dbs.meta.get('dimension', { transaction: this.txn });
  }

  /** Memories in the warm and cold tiers. */
  count(): number {
    const transaction = this.txn;
    return (
      this.dbs.records.getKeysCount({ transaction }) + this.dbs.cold.getKeysCount({ transaction })
    );
  }

  /** Every warm memory with its vector, access statistics and outgoing associations, in id order. */
  *memories(): Generator<WarmMemory> {
    const transaction = this.txn;
    for (const { key, value } of this.dbs.records.getRange({ transaction })) {
      yield {
        record: value,
        vector: this.dbs.vectors.get(key, { transaction }) ?? null,
        ...this.extras(key),
      };
    }
  }

  /**
   * Every cold memory, read from its segment through `read` (segments are append-only, so a
   * location in this transaction's catalog stays readable); its vector is the dequantized int8
   * copy the cold tier keeps.
   */
  *coldMemories(read: (location: ColdLocation) => ColdEntry): Generator<WarmMemory> {
    const transaction = this.txn;
    for (const { key, value } of this.dbs.cold.getRange({ transaction })) {
      const entry = read(value);
      yield {
        record: entry.record,
        vector: entry.vector ? dequantize(entry.vector) : null,
        ...this.extras(key),
      };
    }
  }

  private extras(id: string): Pick<WarmMemory, 'access' | 'associations'> {
    const transaction = this.txn;
    const associations: WarmMemory['associations'] = [];
    for (const link of this.dbs.associations.getRange({
      start: `${id}\u0000`,
      end: `${id}\u0001`,
      transaction,
    })) {
      associations.push({ to: link.key.slice(id.length + 1), weight: link.value });
    }
    return { access: this.dbs.access.get(id, { transaction }) ?? null, associations };
  }

  done(): void {
    if (this.finished) return;
    this.finished = true;
    this.txn.done();
  }
}
