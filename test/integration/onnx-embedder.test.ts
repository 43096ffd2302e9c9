/**
 * A space created with the "onnx" embedder, end to end on real LMDB: remembered text is stored
 * under the model's vector, recalled by meaning of the tiny model, survives a restart, a space of
 * another dimension is refused and a failed inference stores nothing.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { OnnxEmbedder, Registry } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { TINY_VOCAB, expectedVector, tinyIds, writeTinyModelDir } from '../helpers/tiny-onnx.ts';

const root = await tempDir('engram-onnx-space-');

async function loadTiny(name: string, tableRows?: number) {
  const dir = join(root, name);
  await mkdir(dir);
  const model = await writeTinyModelDir(dir, tableRows === undefined ? {} : { tableRows });
  const embedder = await OnnxEmbedder.load({ modelDir: dir });
  after(() => embedder.close());
  return { model, embedder };
}

const { model, embedder } = await loadTiny('good');
const dataRoot = join(root, 'data');
const open = () => Registry.open({ dataRoot }, { embedders: { onnx: () => embedder } });

test('a space with the onnx embedder stores the model vector, recalls by it and keeps it across a restart', async () => {
  let registry = await open();
  try {
    const created = await registry.createSpace('onnx-notes', { embedder: 'onnx' });
    assert.equal(created.created, true);
    const space = await registry.space('onnx-notes');
    assert.equal((await space.stats()).dimension, 8);
    await space.remember({ id: 'cat', content: 'the cat sat on the mat' });
    await space.remember({ id: 'sea', content: 'blue sea under a blue sky' });
    await space.remember({ id: 'fruit', content: 'apple banana cherry' });
    const stored = await space.getVector('cat');
    const expected = expectedVector(model, tinyIds('the cat sat on the mat'));
    assert.ok(stored!.every((v, i) => Math.abs(v - expected[i]!) < 1e-5));
    const hits = await space.recall('the cat sat on the mat', { k: 3, mode: 'similarity' });
    assert.equal(hits[0]!.memory.id, 'cat');
    assert.ok(hits[0]!.score > hits[1]!.score);
  } finally {
    await registry.close();
  }

  registry = await open();
  try {
    const space = await registry.space('onnx-notes');
    assert.equal((await space.stats()).memories, 3);
    const hits = await space.recall('blue sea under a blue sky', { k: 1, mode: 'similarity' });
    assert.equal(hits[0]!.memory.id, 'sea');
    await space.remember({ id: 'moon', content: 'moon and star' });
    const again = await space.recall('moon and star', { k: 1, mode: 'similarity' });
    assert.equal(again[0]!.memory.id, 'moon');
  } finally {
    await registry.close();
  }
});

test('creating an onnx space of another dimension is ENG_VECTOR_DIM_MISMATCH naming both numbers', async () => {
  const registry = await open();
  try {
    await assert.rejects(
      registry.createSpace('onnx-wide', { embedder: 'onnx', dimension: 16 }),
      (error: any) => {
        assert.equal(error.code, 'ENG_VECTOR_DIM_MISMATCH');
        assert.match(error.message, /8 dimensions, the space has 16/);
        return true;
      },
    );
  } finally {
    await registry.close();
  }
});

test('a failed inference fails the write and stores nothing', async () => {
  // The last word of the vocabulary has no row in this model's table.
  const broken = await loadTiny('broken', TINY_VOCAB.length - 1);
  const registry = await Registry.open(
    { dataRoot: join(root, 'broken-data') },
    { embedders: { onnx: () => broken.embedder } },
  );
  try {
    await registry.createSpace('onnx-broken', { embedder: 'onnx' });
    const space = await registry.space('onnx-broken');
    await space.remember({ id: 'ok', content: 'the sun' });
    await assert.rejects(space.remember({ id: 'bad', content: 'a star' }), {
      code: 'ENG_EMBEDDER_UNAVAILABLE',
    });
    assert.equal(await space.get('bad'), undefined);
    assert.equal((await space.stats()).memories, 1);
  } finally {
    await registry.close();
  }
});
