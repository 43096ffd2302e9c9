import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, isEngramError } from '../../engine/index.ts';
import { testApi } from '../helpers/http.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('auto-linking connects a new memory both ways to its most similar memories above the threshold', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir() });
  try {
    await registry.createSpace('linked', { settings: { autoLinkThreshold: 0.9, autoLinkMax: 2 } });
    const space = await registry.space('linked');
    await space.remember({ id: 'a', content: 'a', vector: [1, 0, 0] });
    await space.remember({ id: 'b', content: 'b', vector: [1, 0.1, 0] });
    await space.remember({ id: 'c', content: 'c', vector: [1, 0.2, 0] });
    await space.remember({ id: 'far', content: 'far', vector: [0, 0, 1] });
    await space.remember({ id: 'new', content: 'new', vector: [1, 0.05, 0] });
    const links = await space.associations('new');
    assert.deepEqual(links.map((l) => l.to).sort(), ['a', 'b']);
    for (const link of links) assert.ok(link.weight >= 0.9 && link.weight <= 1);
    assert.ok(
      (await space.associations('a')).some((l) => l.to === 'new'),
      'linked back',
    );
    assert.deepEqual(await space.associations('far'), []);
  } finally {
    await registry.close();
  }
});

test('dedup merges a near-identical new memory into the existing one, keeping the higher confidence', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir() });
  try {
    await registry.createSpace('dedup', { settings: { dedupThreshold: 0.99 } });
    const space = await registry.space('dedup');
    const first = await space.remember({
      content: 'the sky is blue',
      vector: [0.2, 0.9, 0.1],
      confidence: 0.5,
    });
    const again = await space.remember({
      content: 'the sky is blue!',
      vector: [0.2, 0.9, 0.1001],
      confidence: 0.9,
    });
    assert.equal(again.id, first.id);
    assert.equal(again.deduplicated, true);
    assert.equal(again.confidence, 0.9);
    const lower = await space.remember({
      content: 'sky: blue',
      vector: [0.2, 0.9, 0.1],
      confidence: 0.1,
    });
    assert.equal(lower.id, first.id);
    assert.equal((await space.get(first.id))?.confidence, 0.9);
    assert.equal((await space.stats()).memories, 1);
    // A client-chosen id, a different vector, or a constant vector is never merged.
    await space.remember({ id: 'explicit', content: 'the sky is blue', vector: [0.2, 0.9, 0.1] });
    await space.remember({ content: 'grass is green', vector: [0.9, 0.1, 0.2] });
    await space.remember({ content: 'constant one', vector: [1, 1, 1] });
    await space.remember({ content: 'constant two', vector: [1, 1, 1] });
    assert.equal((await space.stats()).memories, 5);
  } finally {
    await registry.close();
  }
});

test('space settings are validated, kept in space.json, and settable over HTTP', async () => {
  const registry = await Registry.open({ dataRoot: await tempDir() });
  try {
    for (const settings of [
      { autoLinkThreshold: 0 },
      { autoLinkMax: 0 },
      { dedupThreshold: 2 },
      { autolink: 1 },
    ]) {
      await assert.rejects(
        registry.createSpace('bad-settings', { settings: settings }),
        (e: unknown) => isEngramError(e, 'ENG_OPTIONS_INVALID'),
      );
    }
  } finally {
    await registry.close();
  }
  const api = await testApi();
  const created = await api.call('POST', '/api/v1/spaces', {
    body: { id: 'via-http', dedup_threshold: 0.99 },
  });
  assert.equal(created.status, 201);
  const headers = { 'x-memory-space': 'via-http' };
  const one = await api.call('POST', '/api/v1/memories/remember', {
    headers,
    body: { content: 'same text twice' },
  });
  const two = await api.call('POST', '/api/v1/memories/remember', {
    headers,
    body: { content: 'same text twice' },
  });
  assert.equal(one.status, 201);
  assert.equal(two.status, 200);
  assert.equal(two.body.deduplicated, true);
  assert.equal(two.body.id, one.body.id);
});
