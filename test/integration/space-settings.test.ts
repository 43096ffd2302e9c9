import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, isEngramError } from '../../engine/index.ts';
import { testApi } from '../helpers/http.ts';
import { tempDir } from '../helpers/temp-dir.ts';

// Auto-linking and dedup themselves are in the conformance suite (both backends).
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

test('a dimension the embedder cannot take is a 400 ENG_OPTIONS_INVALID, not an internal error', async () => {
  const api = await testApi();
  for (const dimension of [1, 7]) {
    const created = await api.call('POST', '/api/v1/spaces', {
      body: { id: `tiny-${dimension}`, dimension, embedder: 'hash' },
    });
    assert.equal(created.status, 400, JSON.stringify(created.body));
    assert.equal(created.body.error.code, 'ENG_OPTIONS_INVALID');
    assert.match(created.body.error.message, /hash.*8 to 65536/);
  }
  assert.equal(await api.engine.hasSpace('tiny-1'), false);
});
