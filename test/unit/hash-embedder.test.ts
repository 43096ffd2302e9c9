import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HashEmbedder } from '../../engine/embed/hash-embedder.ts';
import { isEngramError } from '../../engine/errors.ts';
import { cosineSimilarity } from '../../engine/memory.ts';

const embedder = new HashEmbedder(384);

test('the hash embedder is deterministic and returns unit vectors of its dimension', async () => {
  const [a, b] = await embedder.embed(['CRISPR gene editing', 'CRISPR gene editing']);
  assert.equal(a!.length, 384);
  assert.deepEqual(a, b);
  const norm = Math.sqrt(a!.reduce((n, v) => n + v * v, 0));
  assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
});

test('texts sharing words are closer than texts sharing none', () => {
  const query = embedder.embedOne('CRISPR');
  const related = embedder.embedOne('CRISPR gene editing');
  const unrelated = embedder.embedOne('the weather in Lisbon is mild');
  assert.ok(cosineSimilarity(query, related) > 0.3, 'shared word should give a clear similarity');
  assert.ok(cosineSimilarity(query, related) > cosineSimilarity(query, unrelated) + 0.2);
});

test('case and Unicode compatibility forms do not change the vector', () => {
  assert.deepEqual(embedder.embedOne('Gene Editing'), embedder.embedOne('gene editing'));
  assert.deepEqual(embedder.embedOne('ﬁle'), embedder.embedOne('file'));
});

test('text without letters or digits still gets a non-zero vector', () => {
  const v = embedder.embedOne('!!!');
  assert.ok(v.some((x) => x !== 0));
});

test('an out-of-range dimension is refused', () => {
  for (const dimension of [4, 1.5, 70_000]) {
    assert.throws(
      () => new HashEmbedder(dimension),
      (error: unknown) => isEngramError(error, 'ENG_OPTIONS_INVALID'),
    );
  }
});
