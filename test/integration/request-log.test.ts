import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Registry } from '../../engine/index.ts';
import { buildHttpApp } from '../../server/http-app.ts';
import { createRootLoggerTo } from '../../server/main.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('request logs never contain memory content, queries or vectors', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createRootLoggerTo('debug', sink);
  const registry = await Registry.open({ dataRoot: await tempDir() }, { logger });
  const app = buildHttpApp({ engine: registry, logger: logger.child({ component: 'http' }) });
  try {
    const secret = 'my bank pin is 4921';
    await app.inject({
      method: 'POST',
      url: '/api/v1/memories/remember',
      payload: { content: secret, embedding: Array(384).fill(0.5) },
    });
    await app.inject({
      method: 'GET',
      url: `/api/v1/memories/recall?query=${encodeURIComponent(secret)}`,
    });
    await app.inject({
      method: 'POST',
      url: '/api/v1/memories/recall',
      payload: { query: secret },
    });
    await app.inject({
      method: 'POST',
      url: '/api/v1/memories/remember',
      payload: { content: secret, bogus: secret },
    });
  } finally {
    await app.close();
    await registry.close();
  }
  const log = lines.join('');
  assert.ok(log.includes('incoming request'), 'requests are logged');
  assert.ok(!log.includes('4921'), `memory text reached the log:\n${log}`);
  assert.ok(!log.includes('0.5,0.5'), 'a vector reached the log');
});
