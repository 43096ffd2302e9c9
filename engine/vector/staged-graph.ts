/**
 * One space's graph on the index thread, with a staging area in front of it. An HNSW insert
 * costs ~0.3-0.5 ms at 384 dimensions, so under a burst of writes the graph falls behind; the
 * ops it has not applied yet are staged the moment they arrive and searched exactly (hnswlib's
 * native brute-force search, which is several times faster than an exact scan in JavaScript on
 * the event loop), so a search here sees every op that reached the thread:
 *
 * - a staged label hides its graph entry (an older vector, or a memory since deleted), and the
 *   graph is searched for that many more hits so k remain;
 * - a staged upsert is scored by brute force; a staged delete is simply hidden;
 * - the graph applies the ops in arrival order (apply), and a label leaves the stage when its
 *   last staged op is in the graph.
 */
import hnswlib from 'hnswlib-node';
import { cosineWithNorms, squaredNorm } from '../memory.ts';
import type { IndexOp } from '../warm/warm-store.ts';
import { type HnswIndex, REBUILD_DELETED_MIN, tooManyDeleted, unitArray } from './hnsw-index.ts';

interface Staged {
  /** Ops of this label staged and not yet applied to the graph. */
  pending: number;
  /** The newest staged vector (null: the newest op is a delete). */
  vector: Float32Array | null;
  /** Whether the graph may hold an entry of this label, which the stage must hide. */
  hides: boolean;
}

export class StagedGraph {
  private readonly staged = new Map<number, Staged>();
  /**
   * A compacted copy of the graph being built (see rebuildStep): labels below `cursor` are
   * copied and get every later op too, as do labels at or above `bound` (new since the start).
   */
  private rebuild: { next: HnswIndex; cursor: number; bound: number } | undefined;
  /** Staged labels with a vector, searched by brute force (see StageVectors). */
  private readonly vectors: StageVectors;
  /** Staged labels that may hide a graph entry: the graph is searched for this many more. */
  private hidden = 0;

  constructor(
    private current: HnswIndex,
    dimension: number,
    /** Capacities of the stage's brute-force chunks: the first, and the most (tests shrink them). */
    chunks: { first: number; max: number } = { first: 1024, max: 16_384 },
    /** Deleted nodes past which (and past the live ones) the graph is rebuilt without them. */
    private readonly rebuildDeletedMin = REBUILD_DELETED_MIN,
  ) {
    this.vectors = new StageVectors(dimension, chunks);
  }

  /** The graph searched and snapshotted now (replaced when a rebuild completes). */
  get graph(): HnswIndex {
    return this.current;
  }

  /** Elements searchable, at most: the graph's and the staged ones. */
  get size(): number {
    return this.graph.size + this.vectors.live;
  }

  /** Makes the ops searchable at once; apply() must then be called with each, in order. */
  stage(ops: readonly IndexOp[]): void {
    for (const op of ops) {
      let entry = this.staged.get(op.label);
      if (!entry) {
        // No op of this label is staged, so the graph has applied every earlier one.
        const hides = this.graph.has(op.label);
        entry = { pending: 0, vector: null, hides };
        this.staged.set(op.label, entry);
        if (hides) this.hidden += 1;
      }
      entry.pending += 1;
      entry.vector = op.op === 'upsert' ? op.vector : null;
      if (entry.vector) this.vectors.set(op.label, entry.vector);
      else this.vectors.remove(op.label);
    }
  }

  /** Applies the oldest staged op to the graph (ops arrive here in the order they were staged). */
  apply(op: IndexOp): void {
    this.current.apply(op);
    const { rebuild } = this;
    if (rebuild && (op.label < rebuild.cursor || op.label >= rebuild.bound)) rebuild.next.apply(op);
    const entry = this.staged.get(op.label);
    if (!entry) return;
    entry.pending -= 1;
    if (entry.pending > 0) {
      // A newer op is still staged, and the graph now holds this label: hide it.
      if (!entry.hides) {
        entry.hides = true;
        this.hidden += 1;
      }
      return;
    }
    this.staged.delete(op.label);
    if (entry.hides) this.hidden -= 1;
    this.vectors.remove(op.label);
  }

  /** Whether the graph is being rebuilt, or should be (tooManyDeleted in hnsw-index.ts). */
  get rebuilding(): boolean {
    if (this.rebuild) return true;
    const { deletedNodes, size } = this.current;
    return tooManyDeleted(deletedNodes, size, this.rebuildDeletedMin);
  }

  /**
   * Copies live labels into a fresh graph until the deadline (performance.now()); the graph in
   * use answers meanwhile, and the copy replaces it once every label is copied.
   */
  rebuildStep(until: number): void {
    if (!this.rebuilding) return;
    this.rebuild ??= { next: this.current.emptyLike(), cursor: 0, bound: this.current.labelBound };
    const rebuild = this.rebuild;
    while (rebuild.cursor < rebuild.bound) {
      if (performance.now() >= until) return;
      const label = rebuild.cursor++;
      const vector = this.current.vectorOf(label);
      if (vector) rebuild.next.apply({ op: 'upsert', label, vector });
    }
    this.current = rebuild.next;
    this.rebuild = undefined;
  }

  /** Whether staged vectors wait to enter the brute-force index (see flushStage). */
  get stagePending(): boolean {
    return this.vectors.pending > 0;
  }

  /** Moves staged vectors into the brute-force index until the deadline (performance.now()). */
  flushStage(until: number): void {
    this.vectors.flush(until);
  }

  /** The k nearest labels by cosine over the graph and the stage, best first. */
  search(vector: Float32Array, k: number): Array<{ label: number; score: number }> {
    if (k <= 0) return [];
    const hits = this.graph
      .search(vector, k + this.hidden)
      .filter((hit) => !this.staged.has(hit.label));
    hits.push(...this.vectors.search(vector, k));
    return hits.sort((a, b) => b.score - a.score).slice(0, k);
  }
}

/**
 * The staged vectors. Staging must be cheap, since a search waits behind it: a vector is kept
 * as it arrives and scored exactly in JavaScript until flush() moves it into an hnswlib
 * brute-force index (native, SIMD distances; an add costs ~25 us, most of it converting the
 * array), which the thread does in its work slices ahead of graph inserts.
 *
 * The brute-force indexes are chunks of fixed capacity (hnswlib's cannot grow): the first holds
 * 1,024 vectors, each new one twice the last, up to 16,384. A single doubling index must re-add
 * every vector into one twice the size (~0.8 s at 32k vectors, at ~25 us an add), and during
 * ingest the writes waiting to be staged piled up meanwhile (pendingApply ~6,000).
 *
 * hnswlib's removePoint moves the last element into the freed slot, and corrupts its label map
 * when the element removed is itself the last one (the label stays mapped to the freed slot, so
 * adding it again goes nowhere). The slot order of each chunk is therefore mirrored here: a
 * label in a chunk's last slot is not removed but left dead (a search asks for that many more
 * and drops them), and is removed as soon as another label is appended after it; a chunk left
 * with dead labels only is dropped.
 */
class StageVectors {
  private chunks: Chunk[] = [];
  /** The chunk, and slot in it, of each label in one. */
  private readonly placeOf = new Map<number, { chunk: Chunk; slot: number }>();
  /** The vectors of the live labels. */
  private readonly vectors = new Map<number, { vector: Float32Array; squaredNorm: number }>();
  /** Live labels whose vector is not in a chunk yet (or an older one is). */
  private readonly unflushed = new Set<number>();

  constructor(
    private readonly dimension: number,
    private readonly capacities: { first: number; max: number },
  ) {}

  get live(): number {
    return this.vectors.size;
  }

  get pending(): number {
    return this.unflushed.size;
  }

  set(label: number, vector: Float32Array): void {
    this.vectors.set(label, { vector, squaredNorm: squaredNorm(vector) });
    this.unflushed.add(label);
    this.placeOf.get(label)?.chunk.dead.delete(label); // its slot gets this vector at the flush
  }

  remove(label: number): void {
    if (!this.vectors.delete(label)) return;
    this.unflushed.delete(label);
    const place = this.placeOf.get(label);
    if (place) {
      place.chunk.dead.add(label);
      this.tryRemove(label);
    }
    if (this.vectors.size === 0) {
      this.chunks = [];
      this.placeOf.clear();
    }
  }

  flush(until: number): void {
    for (const label of this.unflushed) {
      if (performance.now() >= until) return;
      this.unflushed.delete(label);
      this.add(label, this.vectors.get(label)!.vector);
    }
  }

  /** The k nearest live labels by cosine, best first. */
  search(vector: Float32Array, k: number): Array<{ label: number; score: number }> {
    const hits: Array<{ label: number; score: number }> = [];
    if (this.vectors.size === 0) return hits;
    const queryNorm = squaredNorm(vector);
    for (const label of this.unflushed) {
      const staged = this.vectors.get(label)!;
      hits.push({
        label,
        score: cosineWithNorms(vector, queryNorm, staged.vector, staged.squaredNorm),
      });
    }
    const query = this.chunks.length > 0 ? unitArray(vector) : [];
    for (const chunk of this.chunks) {
      const want = Math.min(k + chunk.dead.size + this.unflushed.size, chunk.slots.length);
      if (want === 0) continue;
      const { neighbors, distances } = chunk.brute.searchKnn(query, want);
      for (const [i, label] of neighbors.entries()) {
        if (!chunk.dead.has(label) && !this.unflushed.has(label))
          hits.push({ label, score: 1 - distances[i]! });
      }
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, k);
  }

  private add(label: number, vector: Float32Array): void {
    const place = this.placeOf.get(label);
    if (place) {
      place.chunk.brute.addPoint(unitArray(vector), label); // replaces that slot's vector in place
      return;
    }
    let chunk = this.chunks.find((c) => c.slots.length < c.capacity);
    if (!chunk) {
      const last = this.chunks.at(-1)?.capacity ?? 0;
      const { first, max } = this.capacities;
      const capacity = Math.min(max, Math.max(first, 2 * last));
      const brute = new hnswlib.BruteforceSearch('cosine', this.dimension);
      brute.initIndex(capacity);
      chunk = { brute, capacity, slots: [], dead: new Set() };
      this.chunks.push(chunk);
    }
    chunk.brute.addPoint(unitArray(vector), label);
    this.placeOf.set(label, { chunk, slot: chunk.slots.length });
    chunk.slots.push(label);
    for (const dead of chunk.dead) this.tryRemove(dead); // none of them is last any more
  }

  private tryRemove(label: number): void {
    const { chunk, slot } = this.placeOf.get(label)!;
    const lastSlot = chunk.slots.length - 1;
    if (slot === lastSlot) {
      // See the class comment: stays dead until it is not last, unless nothing live is left.
      if (chunk.dead.size === chunk.slots.length) this.drop(chunk);
      return;
    }
    chunk.brute.removePoint(label);
    const moved = chunk.slots[lastSlot]!;
    chunk.slots[slot] = moved;
    this.placeOf.set(moved, { chunk, slot });
    chunk.slots.pop();
    this.placeOf.delete(label);
    chunk.dead.delete(label);
    if (chunk.dead.size === chunk.slots.length) this.drop(chunk);
  }

  private drop(chunk: Chunk): void {
    for (const label of chunk.slots) this.placeOf.delete(label);
    this.chunks = this.chunks.filter((c) => c !== chunk);
  }
}

/** One brute-force index of the stage, and the labels in its slots. */
interface Chunk {
  brute: hnswlib.BruteforceSearch;
  capacity: number;
  /** Labels by slot, as the native index holds them. */
  slots: number[];
  /** Labels still in a slot but no longer staged with a vector. */
  dead: Set<number>;
}
