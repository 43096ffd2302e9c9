/** The benchmark data generators (bench/data.ts): their ground truth must be right. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenize } from '../../engine/text-tokens.ts';
import {
  EmbeddingGenerator,
  dot,
  exactTopK,
  generateCorpus,
  plantedTerm,
  recallAt,
} from '../../bench/data.ts';

test('generated vectors are unit length in 384 and 768 dimensions and repeat by seed', () => {
  for (const dimension of [384, 768]) {
    const a = new EmbeddingGenerator({ seed: 5, dimension }).take(20);
    const b = new EmbeddingGenerator({ seed: 5, dimension }).take(20);
    for (const [i, item] of a.entries()) {
      assert.equal(item.vector.length, dimension);
      assert.ok(Math.abs(dot(item.vector, item.vector) - 1) < 1e-5);
      assert.deepEqual(item.vector, b[i]!.vector);
    }
  }
});

test('same-topic vectors are closer than different-topic ones, as sentence embeddings are', () => {
  const items = new EmbeddingGenerator({ seed: 9 }).take(400);
  let same = 0;
  let sameCount = 0;
  let other = 0;
  let otherCount = 0;
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const c = dot(items[i]!.vector, items[j]!.vector);
      if (items[i]!.topic === items[j]!.topic) [same, sameCount] = [same + c, sameCount + 1];
      else [other, otherCount] = [other + c, otherCount + 1];
    }
  }
  assert.ok(same / sameCount > 0.5, `same-topic mean cosine ${same / sameCount}`);
  assert.ok(other / otherCount < 0.3, `cross-topic mean cosine ${other / otherCount}`);
});

test('exactTopK returns the k highest cosines of a full scan, best first', () => {
  const items = new EmbeddingGenerator({ seed: 3 }).take(500);
  const vectors = items.map((i) => i.vector);
  const query = new EmbeddingGenerator({ seed: 4 }).next().vector;
  const top = exactTopK(vectors, query, 10);
  const sorted = vectors
    .map((v, index) => ({ index, score: dot(v, query) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, 10);
  assert.deepEqual(
    top.map((t) => t.index),
    sorted.map((s) => s.index),
  );
  assert.equal(exactTopK(vectors.slice(0, 3), query, 10).length, 3);
});

test('a planted term occurs in exactly its query’s planted memories and queries are held out', () => {
  const corpus = generateCorpus({ seed: 11, memories: 300, queries: 25, dimension: 768 });
  assert.equal(corpus.memories.length, 300);
  assert.equal(corpus.queries.length, 25);
  const stored = new Set(corpus.memories.map((m) => m.vector.join()));
  for (const [q, query] of corpus.queries.entries()) {
    assert.equal(query.plantedTerm, plantedTerm(q));
    assert.equal(query.vector.length, 768);
    assert.ok(!stored.has(query.vector.join()), `query ${q} is one of the stored vectors`);
    assert.ok(tokenize(query.text).includes(query.plantedTerm));
    const holders = corpus.memories
      .filter((m) => tokenize(m.content).includes(query.plantedTerm))
      .map((m) => m.id)
      .sort();
    assert.deepEqual(holders, [...query.planted].sort());
    assert.equal(new Set(query.planted).size, 10);
  }
});

test('recallAt is the share of the ground truth found', () => {
  assert.equal(recallAt(['a', 'b', 'x'], ['a', 'b', 'c', 'd']), 0.5);
  assert.equal(recallAt([], ['a']), 0);
  assert.equal(recallAt(['a'], []), 1);
});
