/**
 * [embedder] reaches the engine through Registry.open's deps.embedders: the "openai" embedder
 * calls the configured endpoint with the key from the variable named by api_key_env, the "onnx"
 * embedder loads the configured model directory, and the hash dimension applies to new spaces.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Registry, type OnnxEmbedder } from '../../engine/index.ts';
import { embedderSetup, loadModelEmbedders } from '../../cli/config/embedders.ts';
import { loadConfig } from '../../cli/config/load-config.ts';
import { toEngineOptions } from '../../cli/config/server-options.ts';
import { SEP_ID, expectedVector, tinyIds, writeTinyModelDir } from '../helpers/tiny-onnx.ts';

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

test('the onnx embedder loads the model in embedder.onnx.model_dir with max_tokens and serves onnx spaces', async () => {
  const modelDir = join(dir, 'onnx-model');
  await mkdir(modelDir);
  const model = await writeTinyModelDir(modelDir);
  const env = {
    ENGRAM_DATA_ROOT: join(dir, 'onnx'),
    ENGRAM_ONNX_ENABLED: 'true',
    ENGRAM_ONNX_MODEL_DIR: modelDir,
    ENGRAM_ONNX_MAX_TOKENS: '4',
    ENGRAM_ONNX_BATCH_SIZE: '2',
    ENGRAM_EMBEDDER: 'onnx',
  };
  const config = loadConfig({ env, home: dir });
  const setup = embedderSetup(config.values, env);
  assert.deepEqual(setup.onnx, { modelDir, maxTokens: 4, batchSize: 2 });
  const factories = await loadModelEmbedders(setup);
  const onnx = factories.onnx!(undefined) as OnnxEmbedder;
  after(() => onnx.close());
  const registry = await Registry.open(toEngineOptions(config.values), { embedders: factories });
  try {
    await registry.createSpace('onnx-space', { embedder: 'onnx' });
    const space = await registry.space('onnx-space');
    await space.remember({ id: 'm1', content: 'red apple on the mat' });
    assert.equal((await space.stats()).dimension, 8);
    // max_tokens = 4: [CLS] red apple [SEP].
    const expected = expectedVector(model, [
      ...tinyIds('red apple on the mat').slice(0, 3),
      SEP_ID,
    ]);
    const stored = await space.getVector('m1');
    assert.ok(stored!.every((v, i) => Math.abs(v - expected[i]!) < 1e-5));
  } finally {
    await registry.close();
  }
});

test('a broken onnx model directory fails loading with the directory and the reason', async () => {
  const env = { ENGRAM_ONNX_ENABLED: 'true', ENGRAM_ONNX_MODEL_DIR: join(dir, 'no-model') };
  const setup = embedderSetup(loadConfig({ env, home: dir }).values, env);
  await assert.rejects(loadModelEmbedders(setup), (error: any) => {
    assert.equal(error.code, 'ENG_EMBEDDER_UNAVAILABLE');
    assert.match(error.message, /ONNX embedder at ".*no-model" is unavailable: cannot read/);
    return true;
  });
});

test('the onnx embedder exists only when enabled, and the default embedder "onnx" needs it', async () => {
  const setup = embedderSetup(loadConfig({ env: {}, home: dir }).values, {});
  assert.equal(setup.onnx, undefined);
  assert.deepEqual(Object.keys(await loadModelEmbedders(setup)), ['hash']);
  assert.throws(() => loadConfig({ env: { ENGRAM_EMBEDDER: 'onnx' }, home: dir }), {
    message: /embedder\.default .* is "onnx", but embedder\.onnx\.enabled is false/,
  });
});
