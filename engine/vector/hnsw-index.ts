/**
 * A space's HNSW vector index (hnswlib-node, cosine) and its snapshots. A snapshot is
 * `index/hnsw-<lsn>.bin` (hnswlib's graph), `index/hnsw-<lsn>.labels` (the memory label of each
 * graph node) and `index/snapshot.json` naming them, with their sizes and CRCs and the LSN they
 * cover; each is written temp -> fsync -> rename -> directory fsync, the manifest last, so a
 * crash leaves either the old snapshot or the new one, never a manifest pointing at a
 * half-written file. Format: docs/format/index.md.
 *
 * Graph nodes are not named by memory labels: every upsert inserts a new node (the label's old
 * node, if any, is marked deleted) and the label -> node map is kept here. hnswlib's in-place
 * update (addPoint on a label it already holds, live or deleted) rewires the neighbours of the
 * updated node and can leave other nodes with no path to them: on a graph from the tier-migration
 * crash test, one re-added label left 3 of 13 live nodes unreachable even with ef above the
 * node count, so recall could not find a memory by its own vector.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import hnswlib from 'hnswlib-node';
import type { FileSystem } from '../file-system.ts';
import { writeFileAtomic } from '../file-system.ts';
import type { IndexOp } from '../warm/warm-store.ts';

/** Format 2 adds the node -> label file; format 1 (nodes named by their labels) is still read. */
export const INDEX_FORMAT_VERSION = 2;
export const INDEX_MANIFEST = 'snapshot.json';
const MANIFEST = INDEX_MANIFEST;
const INITIAL_CAPACITY = 1024;
/** A node whose label is gone (the node is marked deleted), or a label without a live node. */
const NONE = -1;
/** Deleted nodes a graph may hold beyond its live ones before it is rebuilt without them. */
export const REBUILD_DELETED_MIN = 1024;

/**
 * Whether a graph should be rebuilt without its deleted nodes (every delete, re-embedding and
 * promotion leaves one, in memory and in the way of searches): the index thread's compaction
 * and recovery's choice between a snapshot and a rebuild both ask this.
 */
export function tooManyDeleted(deleted: number, live: number, min = REBUILD_DELETED_MIN): boolean {
  return deleted > Math.max(live, min);
}

export interface HnswParams {
  m: number;
  efConstruction: number;
  efSearch: number;
}

/** A snapshot's files: the graph, and (format 2) its node -> label map. */
export interface SnapshotFiles {
  graph: string;
  labels?: string;
}

interface Manifest {
  format_version: number;
  lsn: number;
  file: string;
  bytes: number;
  crc32: number;
  dimension: number;
  /** Format 2: the node -> label file (little-endian int32 per node, -1 for a deleted one). */
  labels_file?: string;
  labels_bytes?: number;
  labels_crc32?: number;
}

export type SnapshotLoad =
  { ok: true; index: HnswIndex; lsn: number } | { ok: false; reason: string };

export class HnswIndex {
  /** Live nodes (one per label with a vector). */
  private live = 0;
  /** Every label the graph holds is below this. */
  private labelsBelow = 0;

  private constructor(
    private readonly native: hnswlib.HierarchicalNSW,
    readonly dimension: number,
    private readonly params: HnswParams,
    /** The label of each node, by node id (NONE once the node is marked deleted). */
    private labelOfNode: Int32Array,
    /** The live node of each label, by label (NONE: the label has none). */
    private nodeOfLabel: Int32Array,
    /** The id the next inserted node gets. */
    private nextNode: number,
  ) {
    for (const [label, node] of nodeOfLabel.entries()) {
      if (node === NONE) continue;
      this.live += 1;
      this.labelsBelow = label + 1;
    }
  }

  static create(dimension: number, params: HnswParams): HnswIndex {
    const native = new hnswlib.HierarchicalNSW('cosine', dimension);
    // Fixed seed: the same inserts build the same graph, which keeps benchmarks repeatable.
    native.initIndex({
      maxElements: INITIAL_CAPACITY,
      m: params.m,
      efConstruction: params.efConstruction,
      randomSeed: 100,
    });
    return new HnswIndex(native, dimension, params, new Int32Array(0), new Int32Array(0), 0);
  }

  /** Loads the newest snapshot if it exists, matches the dimension and passes its checksums. */
  static async load(
    fs: FileSystem,
    dir: string,
    dimension: number,
    params: HnswParams,
  ): Promise<SnapshotLoad> {
    const found = await findSnapshot(fs, dir, dimension);
    if (!found.ok) return found;
    const opened = HnswIndex.open(found.files, dimension, params);
    return opened.ok ? { ok: true, index: opened.index, lsn: found.lsn } : opened;
  }

  /** Reads snapshot files already checked by findSnapshot (hnswlib reads the path itself). */
  static open(
    files: SnapshotFiles,
    dimension: number,
    params: HnswParams,
  ): { ok: true; index: HnswIndex } | { ok: false; reason: string } {
    const native = new hnswlib.HierarchicalNSW('cosine', dimension);
    try {
      native.readIndexSync(files.graph);
    } catch (error) {
      return { ok: false, reason: `hnswlib cannot read the snapshot: ${(error as Error).message}` };
    }
    native.setEf(params.efSearch);
    const ids = native.getIdsList();
    let labelOfNode: Int32Array;
    if (files.labels) {
      const bytes = readFileSync(files.labels);
      labelOfNode = new Int32Array(bytes.length >> 2);
      for (let node = 0; node < labelOfNode.length; node++)
        labelOfNode[node] = bytes.readInt32LE(node * 4);
      // Node ids run from 0 (a graph first written as format 1 may have gaps).
      if (bytes.length % 4 !== 0 || ids.some((id) => id >= labelOfNode.length))
        return {
          ok: false,
          reason: `the labels file (${bytes.length} bytes) does not cover the graph's ${ids.length} nodes`,
        };
    } else {
      // Format 1: each node is named by its label; a deleted one is found by getPoint throwing.
      labelOfNode = new Int32Array(ids.reduce((max, id) => Math.max(max, id + 1), 0)).fill(NONE);
      for (const id of ids) if (pointOf(native, id)) labelOfNode[id] = id;
    }
    let nodeOfLabel: Int32Array = new Int32Array(0);
    for (let node = 0; node < labelOfNode.length; node++) {
      const label = labelOfNode[node]!;
      if (label === NONE) continue;
      if (label < 0 || (label < nodeOfLabel.length && nodeOfLabel[label] !== NONE))
        return { ok: false, reason: `the labels file is damaged at node ${node}` };
      nodeOfLabel = grownTo(nodeOfLabel, label);
      nodeOfLabel[label] = node;
    }
    const index = new HnswIndex(
      native,
      dimension,
      params,
      labelOfNode,
      nodeOfLabel,
      labelOfNode.length,
    );
    return { ok: true, index };
  }

  /** Labels with a vector in the graph. */
  get size(): number {
    return this.live;
  }

  /** Graph nodes, those marked deleted included (they keep their memory until a rebuild). */
  get nodes(): number {
    return this.native.getCurrentCount();
  }

  /** Nodes marked deleted: their memory and search cost stay until the graph is rebuilt. */
  get deletedNodes(): number {
    return this.native.getCurrentCount() - this.live;
  }

  /** Every label the graph holds is below this. */
  get labelBound(): number {
    return this.labelsBelow;
  }

  /** The label's vector as the graph holds it (unit length), or undefined without one. */
  vectorOf(label: number): Float32Array | undefined {
    return this.has(label)
      ? Float32Array.from(this.native.getPoint(this.nodeOfLabel[label]!))
      : undefined;
  }

  /** A new empty graph of the same dimension and parameters. */
  emptyLike(): HnswIndex {
    return HnswIndex.create(this.dimension, this.params);
  }

  /** Labels with a vector in the graph (for offline verification). */
  liveLabels(): number[] {
    const labels: number[] = [];
    for (let label = 0; label < this.nodeOfLabel.length; label++)
      if (this.nodeOfLabel[label] !== NONE) labels.push(label);
    return labels;
  }

  /** Whether the label has a vector in the graph. */
  has(label: number): boolean {
    return label < this.nodeOfLabel.length && this.nodeOfLabel[label] !== NONE;
  }

  apply(op: IndexOp): void {
    const old = this.has(op.label) ? this.nodeOfLabel[op.label]! : NONE;
    if (old !== NONE) {
      this.native.markDelete(old);
      this.labelOfNode[old] = NONE;
      this.nodeOfLabel[op.label] = NONE;
      this.live -= 1;
    }
    if (op.op === 'delete') return;
    if (this.native.getCurrentCount() >= this.native.getMaxElements()) {
      this.native.resizeIndex(this.native.getMaxElements() * 2);
    }
    const node = this.nextNode;
    this.native.addPoint(unitArray(op.vector), node);
    this.nextNode += 1;
    this.labelOfNode = grownTo(this.labelOfNode, node);
    this.labelOfNode[node] = op.label;
    this.nodeOfLabel = grownTo(this.nodeOfLabel, op.label);
    this.nodeOfLabel[op.label] = node;
    this.live += 1;
    this.labelsBelow = Math.max(this.labelsBelow, op.label + 1);
  }

  search(vector: Float32Array, k: number): Array<{ label: number; score: number }> {
    if (this.live === 0 || k <= 0) return [];
    this.native.setEf(Math.max(this.params.efSearch, k));
    const { neighbors, distances } = this.native.searchKnn(
      unitArray(vector),
      Math.min(k, this.live),
    );
    const hits: Array<{ label: number; score: number }> = [];
    for (let i = 0; i < neighbors.length; i++) {
      const label = this.labelOfNode[neighbors[i]!]!;
      if (label !== NONE) hits.push({ label, score: 1 - distances[i]! });
    }
    return hits;
  }

  /**
   * Serializes the graph and its node -> label map (not synced: publishSnapshot makes them
   * durable). The map is copied at the call, and the graph must not change until this resolves.
   */
  async writeFiles(files: Required<SnapshotFiles>): Promise<void> {
    const labels = Buffer.alloc(this.nextNode * 4);
    for (let node = 0; node < this.nextNode; node++)
      labels.writeInt32LE(this.labelOfNode[node] ?? NONE, node * 4);
    await Promise.all([this.native.writeIndex(files.graph), writeFile(files.labels, labels)]);
  }
}

/** `array` with room for `index`, grown by doubling, new slots NONE. */
function grownTo(array: Int32Array, index: number): Int32Array {
  if (index < array.length) return array;
  let length = Math.max(INITIAL_CAPACITY, array.length);
  while (length <= index) length *= 2;
  const grown = new Int32Array(length).fill(NONE);
  grown.set(array);
  return grown;
}

/** Whether the node is live in a format 1 graph (hnswlib throws for a deleted one). */
function pointOf(native: hnswlib.HierarchicalNSW, node: number): boolean {
  try {
    native.getPoint(node);
    return true;
  } catch {
    return false;
  }
}

/**
 * The snapshot named by `dir`'s manifest, if it exists, is of a format read here and of this
 * dimension, and its files pass their sizes and checksums: their paths and the LSN it covers.
 */
export async function findSnapshot(
  fs: FileSystem,
  dir: string,
  dimension: number,
): Promise<FoundSnapshot | { ok: false; reason: string }> {
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
  const format = manifest.format_version;
  if ((format !== 1 && format !== INDEX_FORMAT_VERSION) || manifest.dimension !== dimension) {
    return {
      ok: false,
      reason: `snapshot is format ${format} of dimension ${manifest.dimension}`,
    };
  }
  const graph = await checkedFile(fs, dir, manifest.file, manifest.bytes, manifest.crc32);
  if (!graph.ok) return graph;
  if (format === 1) return { ok: true, files: { graph: graph.path }, lsn: manifest.lsn };
  const labels = await checkedFile(
    fs,
    dir,
    manifest.labels_file,
    manifest.labels_bytes,
    manifest.labels_crc32,
  );
  if (!labels.ok) return labels;
  let deletedNodes = 0;
  for (let at = 0; at + 4 <= labels.bytes.length; at += 4)
    if (labels.bytes.readInt32LE(at) === NONE) deletedNodes += 1;
  return {
    ok: true,
    files: { graph: graph.path, labels: labels.path },
    lsn: manifest.lsn,
    deletedNodes,
    liveNodes: labels.bytes.length / 4 - deletedNodes,
  };
}

export interface FoundSnapshot {
  ok: true;
  files: SnapshotFiles;
  lsn: number;
  /** Format 2: nodes marked deleted and live ones, from the labels file. */
  deletedNodes?: number;
  liveNodes?: number;
}

/** A snapshot file whose size and CRC match the manifest's (its path and bytes), or why not. */
async function checkedFile(
  fs: FileSystem,
  dir: string,
  file: string | undefined,
  size: number | undefined,
  crc: number | undefined,
): Promise<{ ok: true; path: string; bytes: Buffer } | { ok: false; reason: string }> {
  if (typeof file !== 'string' || file.includes('/'))
    return { ok: false, reason: 'the manifest names no valid snapshot file' };
  const path = join(dir, file);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    return { ok: false, reason: `unreadable snapshot: ${(error as Error).message}` };
  }
  if (bytes.length !== size || crc32(bytes) !== crc) {
    return { ok: false, reason: `snapshot file ${file} fails its checksum` };
  }
  return { ok: true, path, bytes };
}

/**
 * Publishes a snapshot covering `lsn`: `write` serializes the graph and its labels to temp
 * files, which are fsynced, renamed and named by a new manifest; older snapshots are then
 * removed. `dir` must exist (recovery makes it). `write` is called before the first await, so
 * work a caller queues on the graph right after calling this cannot get into the snapshot.
 */
export async function publishSnapshot(
  fs: FileSystem,
  dir: string,
  lsn: number,
  dimension: number,
  write: (files: Required<SnapshotFiles>) => Promise<void>,
): Promise<void> {
  const base = `hnsw-${String(lsn).padStart(20, '0')}`;
  const names = { graph: `${base}.bin`, labels: `${base}.labels` };
  const temps = {
    graph: join(dir, `.${names.graph}.tmp`),
    labels: join(dir, `.${names.labels}.tmp`),
  };
  await write(temps);
  const sums: Record<'graph' | 'labels', { bytes: number; crc32: number }> = {
    graph: { bytes: 0, crc32: 0 },
    labels: { bytes: 0, crc32: 0 },
  };
  for (const part of ['graph', 'labels'] as const) {
    await fs.fsyncFile(temps[part]); // hnswlib does not sync: make the bytes durable before naming them
    const bytes = await fs.readFile(temps[part]);
    sums[part] = { bytes: bytes.length, crc32: crc32(bytes) };
    await fs.rename(temps[part], join(dir, names[part]));
  }
  await fs.fsyncDir(dir);
  const manifest: Manifest = {
    format_version: INDEX_FORMAT_VERSION,
    lsn,
    file: names.graph,
    bytes: sums.graph.bytes,
    crc32: sums.graph.crc32,
    dimension,
    labels_file: names.labels,
    labels_bytes: sums.labels.bytes,
    labels_crc32: sums.labels.crc32,
  };
  await writeFileAtomic(fs, join(dir, MANIFEST), Buffer.from(JSON.stringify(manifest)));
  for (const name of await fs.readdir(dir)) {
    const current = name === names.graph || name === names.labels || name === MANIFEST;
    if (!current && (name.startsWith('hnsw-') || name.endsWith('.tmp'))) {
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
