/**
 * A space's HNSW vector index (hnswlib-node, cosine) and its snapshots. A snapshot is
 * `index/hnsw-<lsn>.bin` plus `index/snapshot.json` naming it, with its size and CRC and the
 * LSN it covers; both are written temp -> fsync -> rename -> directory fsync, the manifest last,
 * so a crash leaves either the old snapshot or the new one, never a manifest pointing at a
 * half-written file. Format: docs/format/index.md.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import hnswlib from 'hnswlib-node';
import type { FileSystem } from '../file-system.ts';
import { writeFileAtomic } from '../file-system.ts';
import type { IndexOp } from '../warm/warm-store.ts';

export const INDEX_FORMAT_VERSION = 1;
export const INDEX_MANIFEST = 'snapshot.json';
const MANIFEST = INDEX_MANIFEST;
const INITIAL_CAPACITY = 1024;

export interface HnswParams {
  m: number;
  efConstruction: number;
  efSearch: number;
}

interface Manifest {
  format_version: number;
  lsn: number;
  file: string;
  bytes: number;
  crc32: number;
  dimension: number;
}

export type SnapshotLoad =
  { ok: true; index: HnswIndex; lsn: number } | { ok: false; reason: string };

export class HnswIndex {
  private constructor(
    private readonly native: hnswlib.HierarchicalNSW,
    readonly dimension: number,
    private readonly params: HnswParams,
  ) {}

  static create(dimension: number, params: HnswParams): HnswIndex {
    const native = new hnswlib.HierarchicalNSW('cosine', dimension);
    // Fixed seed: the same inserts build the same graph, which keeps benchmarks repeatable.
    native.initIndex({
      maxElements: INITIAL_CAPACITY,
      m: params.m,
      efConstruction: params.efConstruction,
      randomSeed: 100,
    });
    return new HnswIndex(native, dimension, params);
  }

  /** Loads the newest snapshot if it exists, matches the dimension and passes its checksum. */
  static async load(
    fs: FileSystem,
    dir: string,
    dimension: number,
    params: HnswParams,
  ): Promise<SnapshotLoad> {
    const found = await findSnapshot(fs, dir, dimension);
    if (!found.ok) return found;
    const opened = HnswIndex.open(found.path, dimension, params);
    return opened.ok ? { ok: true, index: opened.index, lsn: found.lsn } : opened;
  }

  /** Reads a snapshot file already checked by findSnapshot (hnswlib reads the path itself). */
  static open(
    path: string,
    dimension: number,
    params: HnswParams,
  ): { ok: true; index: HnswIndex } | { ok: false; reason: string } {
    const native = new hnswlib.HierarchicalNSW('cosine', dimension);
    try {
      native.readIndexSync(path);
    } catch (error) {
      return { ok: false, reason: `hnswlib cannot read the snapshot: ${(error as Error).message}` };
    }
    native.setEf(params.efSearch);
    return { ok: true, index: new HnswIndex(native, dimension, params) };
  }

  /** Elements in the graph, deleted ones included (they keep their slot). */
  get size(): number {
    return this.native.getCurrentCount();
  }

  /** The largest label the graph holds, deleted ones included (-1 when empty). */
  maxLabel(): number {
    let max = -1;
    for (const label of this.native.getIdsList()) if (label > max) max = label;
    return max;
  }

  /** Labels in the graph that are not marked deleted (for offline verification). */
  liveLabels(): number[] {
    return this.native.getIdsList().filter((label) => {
      try {
        this.native.getPoint(label); // throws for a label marked deleted
        return true;
      } catch {
        return false;
      }
    });
  }

  /** Whether the label is in the graph and not marked deleted. */
  has(label: number): boolean {
    try {
      this.native.getPoint(label);
      return true;
    } catch {
      return false; // hnswlib throws "Label not found" for a missing or deleted label
    }
  }

  apply(op: IndexOp): void {
    if (op.op === 'delete') {
      try {
        this.native.markDelete(op.label);
      } catch {
        // Never inserted (the entry had no vector when indexed) or already deleted: nothing to do.
      }
      return;
    }
    if (this.native.getCurrentCount() >= this.native.getMaxElements()) {
      this.native.resizeIndex(this.native.getMaxElements() * 2);
    }
    // addPoint on an existing label replaces its vector and clears a delete mark.
    this.native.addPoint(unitArray(op.vector), op.label);
  }

  search(vector: Float32Array, k: number): Array<{ label: number; score: number }> {
    if (this.size === 0 || k <= 0) return [];
    this.native.setEf(Math.max(this.params.efSearch, k));
    const { neighbors, distances } = this.native.searchKnn(
      unitArray(vector),
      Math.min(k, this.size),
    );
    return neighbors.map((label, i) => ({ label, score: 1 - distances[i]! }));
  }

  /** Writes a snapshot covering `lsn` and removes older ones. */
  async snapshot(fs: FileSystem, dir: string, lsn: number): Promise<void> {
    await publishSnapshot(fs, dir, lsn, this.dimension, (temp) => this.writeFile(temp));
  }

  /** Serializes the graph to `path` (not synced: publishSnapshot makes it durable). */
  async writeFile(path: string): Promise<void> {
    await this.native.writeIndex(path);
  }
}

/**
 * The snapshot named by `dir`'s manifest, if it exists, is of this format and dimension, and
 * passes its size and checksum: its path and the LSN it covers.
 */
export async function findSnapshot(
  fs: FileSystem,
  dir: string,
  dimension: number,
): Promise<{ ok: true; path: string; lsn: number } | { ok: false; reason: string }> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse((await fs.readFile(join(dir, MANIFEST))).toString('utf8')) as Manifest;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return {
      ok: false,
      reason: missing ? 'no snapshot' : `unreadable manifest: ${(error as Error).message}`,
    };
  }
  if (manifest.format_version !== INDEX_FORMAT_VERSION || manifest.dimension !== dimension) {
    return {
      ok: false,
      reason: `snapshot is format ${manifest.format_version} of dimension ${manifest.dimension}`,
    };
  }
  const path = join(dir, manifest.file);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    return { ok: false, reason: `unreadable snapshot: ${(error as Error).message}` };
  }
  if (bytes.length !== manifest.bytes || crc32(bytes) !== manifest.crc32) {
    return { ok: false, reason: 'snapshot fails its checksum' };
  }
  return { ok: true, path, lsn: manifest.lsn };
}

/**
 * Publishes a snapshot covering `lsn`: `write` serializes the graph to a temp file, which is
 * fsynced, renamed and named by a new manifest; older snapshots are then removed.
 */
export async function publishSnapshot(
  fs: FileSystem,
  dir: string,
  lsn: number,
  dimension: number,
  write: (temp: string) => Promise<void>,
): Promise<void> {
  await fs.mkdir(dir);
  const file = `hnsw-${String(lsn).padStart(20, '0')}.bin`;
  const temp = join(dir, `.${file}.tmp`);
  await write(temp);
  await fs.fsyncFile(temp); // hnswlib does not sync: make the bytes durable before naming them
  const bytes = await fs.readFile(temp);
  await fs.rename(temp, join(dir, file));
  await fs.fsyncDir(dir);
  const manifest: Manifest = {
    format_version: INDEX_FORMAT_VERSION,
    lsn,
    file,
    bytes: bytes.length,
    crc32: crc32(bytes),
    dimension,
  };
  await writeFileAtomic(fs, join(dir, MANIFEST), Buffer.from(JSON.stringify(manifest)));
  for (const name of await fs.readdir(dir)) {
    if (name !== file && name !== MANIFEST && (name.startsWith('hnsw-') || name.endsWith('.tmp'))) {
      await fs.unlink(join(dir, name));
    }
  }
}

/**
 * hnswlib normalises in single precision, where the squared length of [3e38, 0, 3e38]
 * overflows and that of [1e-44, 1e-44] underflows: the stored point becomes zeros or stays
 * unnormalised and scores 0. Normalising here in double precision sidesteps both.
 */
export function unitArray(vector: Float32Array): number[] {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  const scale = 1 / Math.sqrt(norm);
  const out = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! * scale;
  return out;
}
