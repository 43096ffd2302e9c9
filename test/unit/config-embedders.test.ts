/**
 * [embedder] reaches the engine through Registry.open's deps.embedders: the "openai" embedder
 * calls the configured endpoint with the key from the variable named by api_key_env, and the
 * hash dimension applies to new spaces.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Registry } from '../../engine/index.ts';
import { embedderSetup } from '../../cli/config/embedders.ts';
import { loadConfig } from '../../cli/config/load-config.ts';
import { toEngineOptions } from '../../cli/config/server-options.ts';

const dir = await mkdtemp(join(tmpdir(), 'engram-config-embedders-'));
after(() => rm(dir, { recursive: true, force: true }));

/** A local OpenAI-compatible /embeddings endpoint answering 4-dimensional vectors. */
async function fakeEmbeddings(): Promise<{
  url: string;
  requests: Array<{ headers: IncomingHttpHeaders; body: any }>;
}> {
  const requests: Array<{ headers: IncomingHttpHeaders; body: any }> = [];
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const body = JSON.parse(text);
      requests.push({ headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          data: body.input.map((_: string, index: number) => ({
            index,
            embedding: [1, 0, 0, index + 1],
          })),
        }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`, requests };
}

test('the openai embedder uses the configured endpoint, model and dimension, with the key from api_key_env', async () => {
  const endpoint = await fakeEmbeddings();
  const env = {
    ENGRAM_DATA_ROOT: join(dir, 'openai'),
    ENGRAM_OPENAI_ENABLED: 'true',
    ENGRAM_OPENAI_BASE_URL: endpoint.url,
    ENGRAM_OPENAI_MODEL: 'tiny-model',
    ENGRAM_OPENAI_DIMENSION: '4',
    ENGRAM_OPENAI_API_KEY_ENV: 'TEST_EMBEDDING_KEY',
    ENGRAM_OPENAI_RETRIES: '0',
    TEST_EMBEDDING_KEY: 'secret-123',
  };
  const config = loadConfig({ env, home: dir });
  const setup = embedderSetup(config.values, env);
  assert.deepEqual(setup.warnings, []);
  const registry = await Registry.open(toEngineOptions(config.values), {
    embedders: setup.factories,
  });
  try {
    const created = await registry.createSpace('openai-space', { embedder: 'openai' });
    assert.equal(created.created, true);
    const space = await registry.space('openai-space');
    await space.remember({ id: 'm1', content: 'hello world' });
    assert.equal((await space.stats()).dimension, 4);
  } finally {
    await registry.close();
  }
  assert.equal(endpoint.requests.length, 1);
  assert.equal(endpoint.requests[0]!.headers.authorization, 'Bearer secret-123');
  assert.deepEqual(endpoint.requests[0]!.body, { model: 'tiny-model', input: ['hello world'] });
});

test('without the key variable the openai embedder still works, and start is told why requests carry no key', () => {
  const env = { ENGRAM_OPENAI_ENABLED: 'true' };
  const setup = embedderSetup(loadConfig({ env, home: dir }).values, env);
  assert.deepEqual(setup.warnings, [
    'embedder "openai": OPENAI_API_KEY is not set, so requests to https://api.openai.com/v1 carry no API key',
  ]);
  assert.equal(setup.factories.openai!(undefined).dimension, 1536);
});

test('the openai embedder exists only when enabled', () => {
  const setup = embedderSetup(loadConfig({ env: {}, home: dir }).values, {});
  assert.deepEqual(Object.keys(setup.factories), ['hash']);
});

test('embedder.hash.dimension sets the dimension of new hash spaces; existing ones keep theirs', async () => {
  const dataRoot = join(dir, 'hash');
  const open = (dimension: string) => {
    const env = { ENGRAM_DATA_ROOT: dataRoot, ENGRAM_HASH_DIMENSION: dimension };
    const config = loadConfig({ env, home: dir });
    return Registry.open(toEngineOptions(config.values), {
      embedders: embedderSetup(config.values, env).factories,
    });
  };
  let registry = await open('32');
  await registry.createSpace('small-space', { embedder: 'hash' });
  assert.equal((await (await registry.space('small-space')).stats()).dimension, 32);
  await registry.close();

  registry = await open('48');
  try {
    await registry.createSpace('other-space', { embedder: 'hash' });
    assert.equal((await (await registry.space('other-space')).stats()).dimension, 48);
    const small = await registry.space('small-space');
    await small.remember({ id: 'a', content: 'still thirty-two' });
    assert.equal((await small.stats()).dimension, 32);
  } finally {
    await registry.close();
  }
});
