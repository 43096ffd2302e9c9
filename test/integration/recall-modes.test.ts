import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, isEngramError } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('lexical recall ranks by BM25, sees writes at once, forgets deletes and re-indexes edits, across restarts', async () => {
  const dataRoot = await tempDir();
  let registry = await Registry.open({ dataRoot });
  await registry.createSpace('words');
  let space = await registry.space('words');
  await space.remember({ id: 'rare', content: 'the quokka smiled at the camera' });
  await space.remember({ id: 'common', content: 'the camera the camera the camera' });
  await space.remember({ id: 'none', content: 'nothing relevant here' });
  let hits = await space.recall('quokka camera', { k: 10, mode: 'lexical' });
  assert.deepEqual(
    hits.map((h) => h.memory.id),
    ['rare', 'common'],
    'the rare word weighs more',
  );
  assert.ok(
    Math.abs(hits[0]!.score - 0.91) < 1e-9,
    'relative BM25 1, weighed by the default confidence 0.7',
  );
  assert.ok(hits[0]!.parts.lexical! > hits[1]!.parts.lexical!);

  await space.update('common', { content: 'a quokka and a quokka' });
  await space.forget('rare');
  hits = await space.recall('quokka', { k: 10, mode: 'lexical' });
  assert.deepEqual(
    hits.map((h) => h.memory.id),
    ['common'],
  );
  await space.remember({ id: 'fresh', content: 'another quokka sighting' });
  assert.ok(
    (await space.recall('sighting', { k: 10, mode: 'lexical' })).some(
      (h) => h.memory.id === 'fresh',
    ),
  );

  await registry.close();
  registry = await Registry.open({ dataRoot });
  try {
    space = await registry.space('words');
    hits = await space.recall('quokka', { k: 10, mode: 'lexical' });
    assert.deepEqual(hits.map((h) => h.memory.id).sort(), ['common', 'fresh']);
    // A space without an embedder answers a text query lexically by default.
    assert.deepEqual(
      (await space.recall('sighting', { k: 10 })).map((h) => h.memory.id),
      ['fresh'],
    );
  } finally {
    await registry.close();
  }
});

test('hybrid recall blends cosine and BM25 and reports both parts', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir() });
  try {
    await registry.createSpace('mixed', { embedder: 'hash' });
    const space = await registry.space('mixed');
    await space.remember({ id: 'gene', content: 'CRISPR gene editing in plants' });
    await space.remember({ id: 'cell', content: 'cell biology lecture notes' });
    await space.remember({ id: 'food', content: 'a recipe for lentil soup' });
    const hits = await space.recall('CRISPR editing', { k: 3 });
    assert.equal(hits[0]!.memory.id, 'gene');
    assert.ok(hits[0]!.parts.similarity! > 0 && hits[0]!.parts.lexical! > 0);
    assert.ok(hits[0]!.score > 0.45 && hits[0]!.score <= 1);
    for (const hit of hits.slice(1)) assert.equal(hit.parts.lexical, undefined);
    const similarityOnly = await space.recall('CRISPR editing', { k: 1, mode: 'similarity' });
    assert.deepEqual(Object.keys(similarityOnly[0]!.parts).sort(), [
      'activation',
      'confidence',
      'similarity',
    ]);
    const filtered = await space.recall('CRISPR editing', { k: 3, threshold: 0.45 });
    assert.deepEqual(
      filtered.map((h) => h.memory.id),
      ['gene'],
    );
  } finally {
    await registry.close();
  }
});

test('modes that need text refuse a vector; unknown modes and spread settings are refused', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir() });
  try {
    await registry.createSpace('modes');
    const space = await registry.space('modes');
    await space.remember({ content: 'x', vector: [1, 0] });
    for (const mode of ['lexical', 'hybrid'] as const) {
      await assert.rejects(space.recall([1, 0], { k: 1, mode }), (e: unknown) =>
        isEngramError(e, 'ENG_QUERY_INVALID'),
      );
    }
    for (const spread of [{ hops: 0 }, { hops: 5 }, { fanOut: 33 }, { decay: 0 }, { decay: 1.5 }]) {
      await assert.rejects(space.recall('x', { k: 1, mode: 'spreading', spread }), (e: unknown) =>
        isEngramError(e, 'ENG_QUERY_INVALID'),
      );
    }
    await assert.rejects(space.recall('x', { k: 1, mode: 'psychic' as never }), (e: unknown) =>
      isEngramError(e, 'ENG_QUERY_INVALID'),
    );
  } finally {
    await registry.close();
  }
});

test('spreading recall reaches associated memories with decaying activation and reports the path', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir() });
  try {
    await registry.createSpace('graph', { embedder: 'hash' });
    const space = await registry.space('graph');
    await space.remember({ id: 'paris', content: 'Paris is the capital of France' });
    await space.remember({ id: 'louvre', content: 'a museum with a glass pyramid' });
    await space.remember({ id: 'mona', content: 'a portrait painted by Leonardo' });
    await space.remember({ id: 'far', content: 'four hops away from everything' });
    await space.remember({ id: 'hidden', content: 'a suppressed neighbour' });
    await space.associate('paris', 'louvre', 0.8);
    await space.associate('louvre', 'mona', 0.9);
    await space.associate('mona', 'far', 1);
    await space.associate('paris', 'hidden', 1);
    await space.forget('hidden', { mode: 'suppress' });
    const hits = await space.recall('capital of France', {
      k: 10,
      mode: 'spreading',
      spread: { hops: 2, decay: 0.5 },
    });
    const byId = new Map(hits.map((h) => [h.memory.id, h]));
    const seed = byId.get('paris')!;
    assert.deepEqual(seed.path, ['paris']);
    const louvre = byId.get('louvre')!;
    assert.deepEqual(louvre.path, ['paris', 'louvre']);
    const mona = byId.get('mona')!;
    assert.deepEqual(mona.path, ['paris', 'louvre', 'mona']);
    // Each hop multiplies by the edge weight and the decay.
    assert.ok(
      Math.abs(louvre.score - seed.score * 0.8 * 0.5) < 1e-9,
      `louvre ${louvre.score}, seed ${seed.score}`,
    );
    assert.ok(
      Math.abs(mona.score - louvre.score * 0.9 * 0.5) < 1e-9,
      `mona ${mona.score}, louvre ${louvre.score}`,
    );
    assert.ok(!byId.has('hidden'), 'suppressed memories are not reached');
    const far = byId.get('far');
    assert.ok(far === undefined || far.path!.length <= 3, 'at most two hops from a seed');
  } finally {
    await registry.close();
  }
});
