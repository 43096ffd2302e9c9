/**
 * The index thread's staging area (engine/vector/staged-graph.ts) against a plain Map: random
 * batches of upserts and deletes are staged, the graph applies them in order at random times,
 * staged vectors move into the native brute-force index at random times, and after every step
 * a search must give exactly the exact top k of the newest staged state.
 * Small enough (at most 60 labels, ef 200) that the HNSW graph itself answers exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cosineSimilarity } from '../../engine/memory.ts';
import { HnswIndex } from '../../engine/vector/hnsw-index.ts';
import { StagedGraph } from '../../engine/vector/staged-graph.ts';
import type { IndexOp } from '../../engine/warm/warm-store.ts';
import { seededRandom } from '../helpers/vectors.ts';

const DIMENSION = 8;
const K = 5;

/** ef 200 over at most a few thousand 8-d points: the graph answers exactly. */
const smallGraph = (chunks?: { first: number; max: number }, rebuildDeletedMin?: number) =>
  new StagedGraph(
    HnswIndex.create(DIMENSION, { m: 16, efConstruction: 200, efSearch: 200 }),
    DIMENSION,
    chunks,
    rebuildDeletedMin,
  );

function exactTop(model: Map<number, Float32Array>, query: Float32Array): number[] {
  return [...model]
    .map(([label, vector]) => ({ label, score: cosineSimilarity(query, vector) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, K)
    .map((hit) => hit.label);
}

// Seeds 5-8 give the stage brute-force chunks of 2, 4 and then 4 vectors (chunks fill, empty,
// are dropped and refilled, and dead last slots are left in many of them) and rebuild the graph
// once it holds 8 deleted nodes more than live ones, in steps cut short at random.
for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`a search sees every staged op at once and the graph's state otherwise (seed ${seed})`, () => {
    const random = seededRandom(seed);
    const vector = () => Float32Array.from({ length: DIMENSION }, () => random() * 2 - 1);
    const graph = seed > 4 ? smallGraph({ first: 2, max: 4 }, 8) : smallGraph();
    const graphs = new Set([graph.graph]);
    const model = new Map<number, Float32Array>();
    const queue: IndexOp[] = [];
    let nextLabel = 0;
    for (let step = 0; step < 3000; step++) {
      if (random() < 0.5) {
        const ops: IndexOp[] = [];
        for (let n = 1 + Math.floor(random() * 8); n > 0; n--) {
          // New labels are handed out in order, as the warm tier does; old ones come back.
          const label =
            nextLabel === 0 || random() < 0.3 ? nextLabel++ : Math.floor(random() * nextLabel);
          if (random() < 0.75) {
            const v = vector();
            ops.push({ op: 'upsert', label, vector: v });
            model.set(label, v);
          } else {
            ops.push({ op: 'delete', label });
            model.delete(label);
          }
        }
        graph.stage(ops);
        queue.push(...ops);
      } else if (random() < 0.3) {
        // Staged vectors move into the native brute-force index, all or some of them.
        graph.flushStage(random() < 0.5 ? Infinity : performance.now() + 0.01);
      } else if (random() < 0.25) {
        graph.rebuildStep(random() < 0.5 ? Infinity : performance.now() + 0.01);
        graphs.add(graph.graph);
      } else {
        for (let n = Math.floor(random() * 6); n > 0 && queue.length > 0; n--)
          graph.apply(queue.shift()!);
      }
      if (nextLabel > 60) nextLabel = 60; // keep the graph small enough to answer exactly
      const query = vector();
      const found = graph.search(query, K).map((hit) => hit.label);
      assert.deepEqual(found, exactTop(model, query), `step ${step}`);
    }
    while (queue.length > 0) graph.apply(queue.shift()!);
    while (graph.rebuilding) graph.rebuildStep(Infinity);
    graphs.add(graph.graph);
    const query = vector();
    assert.deepEqual(
      graph.search(query, K).map((hit) => hit.label),
      exactTop(model, query),
    );
    if (seed > 4) {
      assert.ok(graphs.size > 2, `the graph was rebuilt (${graphs.size - 1} times)`);
      assert.ok(graph.graph.deletedNodes <= Math.max(graph.graph.size, 8));
    }
  });
}

test('the stage grows past its first brute-force capacity and keeps every vector', () => {
  const random = seededRandom(9);
  const vector = () => Float32Array.from({ length: DIMENSION }, () => random() * 2 - 1);
  const graph = smallGraph();
  const model = new Map<number, Float32Array>();
  const ops: IndexOp[] = [];
  for (let label = 0; label < 2500; label++) {
    const v = vector();
    model.set(label, v);
    ops.push({ op: 'upsert', label, vector: v });
  }
  // Staged in three parts with flushes between: brute-force chunks of 1,024 and 2,048 are added.
  for (const part of [ops.slice(0, 900), ops.slice(900, 2000), ops.slice(2000)]) {
    graph.stage(part);
    graph.flushStage(Infinity);
  }
  for (let q = 0; q < 20; q++) {
    const query = vector();
    assert.deepEqual(
      graph.search(query, K).map((hit) => hit.label),
      exactTop(model, query),
    );
  }
});

test('ops that arrive during a rebuild reach the rebuilt graph, new labels included', () => {
  const random = seededRandom(11);
  const vector = () => Float32Array.from({ length: DIMENSION }, () => random() * 2 - 1);
  const graph = smallGraph(undefined, 8);
  const model = new Map<number, Float32Array>();
  const run = (ops: IndexOp[]) => {
    graph.stage(ops);
    for (const op of ops) {
      graph.apply(op);
      if (op.op === 'upsert') model.set(op.label, op.vector);
      else model.delete(op.label);
    }
  };
  run(Array.from({ length: 40 }, (_, label) => ({ op: 'upsert', label, vector: vector() })));
  run(Array.from({ length: 30 }, (_, label) => ({ op: 'delete', label })));
  assert.equal(graph.rebuilding, true, '30 deleted nodes against 10 live ones');
  const before = graph.graph;
  graph.rebuildStep(0); // starts the rebuild, copies nothing yet
  // Labels above every label at the start, one not copied yet re-embedded, one deleted.
  run([
    ...Array.from({ length: 10 }, (_, i): IndexOp => ({
      op: 'upsert',
      label: 40 + i,
      vector: vector(),
    })),
    { op: 'upsert', label: 35, vector: vector() },
    { op: 'delete', label: 36 },
  ]);
  graph.rebuildStep(Infinity);
  assert.notEqual(graph.graph, before);
  assert.equal(graph.rebuilding, false);
  assert.equal(graph.graph.deletedNodes, 0);
  assert.deepEqual(
    graph.graph.liveLabels(),
    [...model.keys()].sort((a, b) => a - b),
  );
  for (const [label, v] of model) assert.equal(graph.search(v, 1)[0]?.label, label);
  for (let q = 0; q < 10; q++) {
    const query = vector();
    assert.deepEqual(
      graph.search(query, K).map((hit) => hit.label),
      exactTop(model, query),
    );
  }
});
