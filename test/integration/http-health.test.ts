import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../engine/index.ts';
import { buildHttpApp } from '../../server/http-app.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('liveness and readiness answer with what the registry discovered', async () => {
  const dataRoot = await tempDir();
  const seed = await Registry.open({ dataRoot });
  await seed.createSpace('alpha');
  await seed.createSpace('beta');
  await seed.close();

  const registry = await Registry.open({ dataRoot });
  const app = buildHttpApp({ engine: registry, logger: false });
  try {
    const live = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(live.statusCode, 200);
    assert.deepEqual(live.json(), { status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', spaces: 2, skipped: 0 });
  } finally {
    await app.close();
    await registry.close();
  }
});
