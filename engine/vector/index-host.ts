/**
 * The spaces' HNSW graphs live on index threads (index-worker.ts), not on the event loop: a
 * graph insert costs ~0.3-0.5 ms at 384 dimensions and used to take most of the main thread
 * under a write load. IndexHost owns the threads (started on first use, `indexThreads` of
 * them); a space holds a RemoteIndex, a handle to one graph on one thread.
 *
 * Ordering: the requests of one graph travel over one channel. The thread stages a write the
 * moment it arrives (searchable from then on, see staged-graph.ts) and answers at once; the
 * graph applies it later, in order. A caller that needs a memory to be searchable (the space's
 * memtable) keeps it until the write is staged; snapshots and `has` follow the graph's order.
 *
 * When a thread stops (it should not: an exception there is a bug), every request waiting on it
 * fails with ENG_INDEX_UNAVAILABLE and its graphs are marked lost; the registry then reopens
 * those spaces, which rebuilds their graphs from the snapshot and the log on a new thread.
 */
import { Worker } from 'node:worker_threads';
import { EngramError } from '../errors.ts';
import type { FileSystem } from '../file-system.ts';
import type { IndexOp } from '../warm/warm-store.ts';
import { publishSnapshot, type HnswParams, type SnapshotFiles } from './hnsw-index.ts';
import type { IndexReply, IndexRequest } from './index-worker.ts';

type Request = IndexRequest extends infer R
  ? R extends { ticket: number }
    ? Omit<R, 'ticket'>
    : never
  : never;

/** Starts the worker: under tsx the .ts entry needs tsx registered inside the thread too. */
function startWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./index-worker.js', here));
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./index-worker.ts', here).href;
  const source = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(source, { eval: true, name: 'engram-index' });
}

class IndexThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<
    number,
    { resolve: (reply: { value: unknown; size: number }) => void; reject: (e: Error) => void }
  >();
  private nextTicket = 1;
  /** Why the thread stopped, once it has. */
  lost: EngramError | undefined;
  graphs = 0;

  constructor() {
    this.worker = startWorker();
    this.worker.unref();
    this.worker.on('message', (reply: IndexReply) => {
      const waiter = this.waiting.get(reply.ticket);
      if (!waiter) return;
      this.waiting.delete(reply.ticket);
      if (this.waiting.size === 0) this.worker.unref();
      if (reply.ok) waiter.resolve({ value: reply.value, size: reply.size });
      else waiter.reject(new EngramError('ENG_INTERNAL', `Vector index: ${reply.message}`));
    });
    let cause = 'exited';
    this.worker.on('error', (error) => {
      cause = error.message;
    });
    this.worker.on('exit', (code) => {
      this.lost = new EngramError(
        'ENG_INDEX_UNAVAILABLE',
        `The vector index thread stopped (${cause}, exit code ${code}); the space reopens and rebuilds its index`,
      );
      for (const waiter of this.waiting.values()) waiter.reject(this.lost);
      this.waiting.clear();
    });
  }

  request(message: Request): Promise<{ value: unknown; size: number }> {
    const { ticket, answer } = this.expect();
    if (!this.lost) this.worker.postMessage({ ...message, ticket });
    return answer;
  }

  /** A ticket for an answer the thread will send (a request's own, or an apply's "done"). */
  expect(): { ticket: number; answer: Promise<{ value: unknown; size: number }> } {
    const ticket = this.nextTicket++;
    if (this.lost) return { ticket, answer: Promise.reject(this.lost) };
    const answer = new Promise<{ value: unknown; size: number }>((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref(); // an answer is due: keep the process up
      this.waiting.set(ticket, { resolve, reject });
    });
    return { ticket, answer };
  }
}

/** The process's hosts, by thread count (see IndexHost.shared). */
const sharedHosts = new Map<number, IndexHost>();

export class IndexHost {
  private readonly threads: IndexThread[] = [];
  private nextGraph = 1;

  constructor(private readonly threadCount: number) {}

  /**
   * The process-wide host with this many threads. Registries share it: a thread costs a start-up
   * (~70 ms under tsx) and memory, and idle threads do not keep the process alive.
   */
  static shared(threadCount: number): IndexHost {
    let host = sharedHosts.get(threadCount);
    if (!host) sharedHosts.set(threadCount, (host = new IndexHost(threadCount)));
    return host;
  }

  /** The thread with the fewest graphs (a lost thread is replaced). */
  private pick(): IndexThread {
    for (const [i, thread] of this.threads.entries()) {
      if (thread.lost) {
        this.threads[i] = new IndexThread();
      }
    }
    if (this.threads.length < this.threadCount) {
      const thread = new IndexThread();
      this.threads.push(thread);
      return thread;
    }
    return this.threads.reduce((a, b) => (b.graphs < a.graphs ? b : a));
  }

  /** A new empty graph. Requests made on it queue behind its creation. */
  create(dimension: number, params: HnswParams): RemoteIndex {
    const thread = this.pick();
    const id = this.nextGraph++;
    const index = new RemoteIndex(thread, id, dimension);
    index
      .track(thread.request({ type: 'create', index: id, dimension, params }))
      .catch(() => undefined); // the space sees the failure on its next request (lost)
    return index;
  }

  /** Loads a snapshot file (already checked with findSnapshot); a reason when hnswlib refuses it. */
  async open(
    files: SnapshotFiles,
    dimension: number,
    params: HnswParams,
  ): Promise<{ ok: true; index: RemoteIndex } | { ok: false; reason: string }> {
    const thread = this.pick();
    const id = this.nextGraph++;
    const { value } = await thread.request({ type: 'open', index: id, files, dimension, params });
    if (typeof value === 'string') return { ok: false, reason: value };
    return { ok: true, index: new RemoteIndex(thread, id, dimension) };
  }
}

export class RemoteIndex {
  /**
   * Elements searchable, at most (the graph's live ones and the staged ones), as of the latest
   * answer from its thread.
   */
  size = 0;
  /** Ops staged on the thread that the graph has not applied yet. */
  backlog = 0;
  private readonly insertions = new Set<Promise<void>>();
  private failure: Error | undefined;
  private disposed = false;

  constructor(
    private readonly thread: IndexThread,
    private readonly id: number,
    readonly dimension: number,
  ) {
    thread.graphs += 1;
  }

  /** True once the graph's thread stopped or a write to it failed: the space must reopen. */
  get lost(): boolean {
    return this.thread.lost !== undefined || this.failure !== undefined;
  }

  /** Records the size from an answer, and any failure. */
  track<T>(pending: Promise<{ value: unknown; size: number }>): Promise<T> {
    return pending.then(
      ({ value, size }) => {
        this.size = size;
        return value as T;
      },
      (error: unknown) => {
        this.failure ??= error as Error;
        throw error;
      },
    );
  }

  /**
   * Sends the ops; resolves once the thread has staged them, so that every search made after
   * that sees them (the graph applies them later, in order: see settleBacklog).
   */
  apply(ops: IndexOp[]): Promise<void> {
    const compact = ops.map((op) => (op.op === 'upsert' ? { ...op, vector: own(op.vector) } : op));
    const done = this.thread.expect();
    const staged = this.track<void>(
      this.thread.request({ type: 'apply', index: this.id, done: done.ticket, ops: compact }),
    );
    this.backlog += ops.length;
    const insertion: Promise<void> = this.track<void>(done.answer).then(
      () => {
        this.backlog -= ops.length;
        this.insertions.delete(insertion);
      },
      (error: unknown) => {
        this.insertions.delete(insertion);
        throw error;
      },
    );
    insertion.catch(() => undefined); // its waiters see a failure; the space sees `lost`
    this.insertions.add(insertion);
    return staged;
  }

  /** Waits until at most `limit` ops sent are still to be applied to the graph. */
  async settleBacklog(limit: number): Promise<void> {
    while (this.backlog > limit && this.insertions.size > 0) await Promise.race(this.insertions);
  }

  has(label: number): Promise<boolean> {
    return this.track(this.thread.request({ type: 'has', index: this.id, label }));
  }

  /** The k nearest labels by cosine, over every write done before the request arrived. */
  search(vector: Float32Array, k: number): Promise<Array<{ label: number; score: number }>> {
    if (k <= 0) return Promise.resolve([]);
    return this.track(
      this.thread.request({ type: 'search', index: this.id, vector: own(vector), k }),
    );
  }

  /** Snapshots the graph as of every write requested so far, covering `lsn`. */
  async snapshot(fs: FileSystem, dir: string, lsn: number): Promise<void> {
    await publishSnapshot(fs, dir, lsn, this.dimension, (files) =>
      this.track(this.thread.request({ type: 'write', index: this.id, files })),
    );
  }

  /** Frees the graph on its thread (after every request already made on it). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.thread.graphs -= 1;
    if (this.thread.lost) return;
    this.thread.request({ type: 'dispose', index: this.id }).catch(() => undefined);
  }
}

/**
 * A vector that owns its buffer: posting a view would copy the whole buffer under it (a
 * decoded log group, an LMDB page), not just the vector.
 */
function own(vector: Float32Array): Float32Array {
  return vector.byteOffset === 0 && vector.byteLength === vector.buffer.byteLength
    ? vector
    : vector.slice();
}
