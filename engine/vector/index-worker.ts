/**
 * The vector-index thread: holds the HNSW graphs of the spaces assigned to it (see
 * index-host.ts) so that inserts, which cost ~0.3-0.5 ms each at 384 dimensions, run beside
 * the event loop instead of on it.
 *
 * A graph's ops are staged the moment they arrive (staged-graph.ts: searchable at once, by
 * brute force) and answered "staged"; they then queue for the graph, which applies them in
 * order and answers "done" for each request. The queue is worked in slices of WORK_SLICE_MS,
 * between which the thread takes new messages. Searches, and the creation or loading of a
 * graph, are handled on arrival; everything else (has, write, dispose) in queue order, after
 * the ops before it are in the graph.
 */
import { parentPort } from 'node:worker_threads';
import { HnswIndex, type HnswParams, type SnapshotFiles } from './hnsw-index.ts';
import { StagedGraph } from './staged-graph.ts';
import type { IndexOp } from '../warm/warm-store.ts';

const WORK_SLICE_MS = 4;
const REBUILD_SLICE_MS = 1;

export type IndexRequest =
  | { type: 'create'; ticket: number; index: number; dimension: number; params: HnswParams }
  | {
      type: 'open';
      ticket: number;
      index: number;
      files: SnapshotFiles;
      dimension: number;
      params: HnswParams;
    }
  | { type: 'apply'; ticket: number; done: number; index: number; ops: IndexOp[] }
  | { type: 'has'; ticket: number; index: number; label: number }
  | { type: 'write'; ticket: number; index: number; files: Required<SnapshotFiles> }
  | { type: 'dispose'; ticket: number; index: number }
  | { type: 'search'; ticket: number; index: number; vector: Float32Array; k: number };

export type IndexReply =
  | { ticket: number; ok: true; value: unknown; size: number }
  | { ticket: number; ok: false; message: string };

const port = parentPort;
if (!port) throw new Error('index-worker.ts runs as a worker thread');

const indexes = new Map<number, StagedGraph>();
const queue: IndexRequest[] = [];
let draining = false;
/** Ops of the apply request at the head of the queue already applied. */
let headDone = 0;

port.on('message', (request: IndexRequest) => {
  if (request.type === 'search' || request.type === 'create' || request.type === 'open') {
    answer(request);
    return;
  }
  if (request.type === 'apply') {
    try {
      indexes.get(request.index)?.stage(request.ops);
    } catch (error) {
      fail(request.ticket, error);
      fail(request.done, error);
      return;
    }
    reply(request.ticket, undefined, request.index);
  }
  queue.push(request);
  if (!draining) {
    draining = true;
    setImmediate(drain);
  }
});

function drain(): void {
  const until = performance.now() + WORK_SLICE_MS;
  // Staged vectors first: a search scores the unflushed ones in JavaScript, far slower.
  for (const graph of indexes.values()) if (graph.stagePending) graph.flushStage(until);
  while (queue.length > 0 && performance.now() < until) {
    const request = queue[0]!;
    if (request.type === 'apply') {
      // A long batch is worked in parts so searches are not held up behind it.
      const index = indexes.get(request.index);
      while (headDone < request.ops.length && performance.now() < until) {
        index?.apply(request.ops[headDone++]!);
      }
      if (headDone < request.ops.length) break;
      headDone = 0;
      queue.shift();
      reply(request.done, undefined, request.index);
      continue;
    }
    queue.shift();
    if (request.type === 'write') {
      // writeIndex is asynchronous in hnswlib-node: hold the queue until the file is written.
      const index = indexes.get(request.index);
      const written = index ? index.graph.writeFiles(request.files) : Promise.resolve();
      written.then(
        () => {
          reply(request.ticket, undefined, request.index);
          setImmediate(drain);
        },
        (error: unknown) => {
          fail(request.ticket, error);
          setImmediate(drain);
        },
      );
      return;
    }
    answer(request);
  }
  // Graphs full of deleted nodes are rebuilt (staged-graph.ts) in the time left in the slice,
  // and at least REBUILD_SLICE_MS of it while ops wait, so that the rebuild ends under load too.
  let rebuilding = false;
  for (const graph of indexes.values()) {
    if (!graph.rebuilding) continue;
    rebuilding = true;
    graph.rebuildStep(Math.max(until, performance.now() + REBUILD_SLICE_MS));
  }
  if (queue.length > 0 || rebuilding) setImmediate(drain);
  else draining = false;
}

function answer(request: Exclude<IndexRequest, { type: 'write' | 'apply' }>): void {
  try {
    reply(request.ticket, handle(request), request.index);
  } catch (error) {
    fail(request.ticket, error);
  }
}

function handle(request: Exclude<IndexRequest, { type: 'write' | 'apply' }>): unknown {
  switch (request.type) {
    case 'create': {
      const graph = HnswIndex.create(request.dimension, request.params);
      indexes.set(request.index, new StagedGraph(graph, request.dimension));
      return undefined;
    }
    case 'open': {
      const opened = HnswIndex.open(request.files, request.dimension, request.params);
      if (opened.ok) indexes.set(request.index, new StagedGraph(opened.index, request.dimension));
      return opened.ok ? null : opened.reason;
    }
    case 'has':
      return indexes.get(request.index)?.graph.has(request.label) ?? false;
    case 'dispose':
      indexes.delete(request.index);
      return undefined;
    case 'search':
      return indexes.get(request.index)?.search(request.vector, request.k) ?? [];
  }
}

function reply(ticket: number, value: unknown, index: number): void {
  const message: IndexReply = { ticket, ok: true, value, size: indexes.get(index)?.size ?? 0 };
  port!.postMessage(message);
}

function fail(ticket: number, error: unknown): void {
  const message: IndexReply = {
    ticket,
    ok: false,
    message: error instanceof Error ? error.message : String(error),
  };
  port!.postMessage(message);
}
