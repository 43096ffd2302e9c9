/**
 * `engram start` with [embedder.onnx]: a broken model directory fails the start with the
 * directory and the reason before the data root is touched; a good one serves spaces whose
 * default embedder is "onnx" over HTTP.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { api, runCli, startEngram } from '../helpers/engram-cli.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { writeTinyModelDir } from '../helpers/tiny-onnx.ts';

test('start fails with ENG_EMBEDDER_UNAVAILABLE naming the model directory when the model is missing', async () => {
  const dataRoot = join(await tempDir(), 'never-created');
  const modelDir = join(await tempDir(), 'empty-model-dir');
  const started = await runCli(
    ['start', '--port', '0', '--grpc-port', '0', '--data-root', dataRoot],
    {
      env: { ENGRAM_ONNX_ENABLED: 'true', ENGRAM_ONNX_MODEL_DIR: modelDir },
    },
  );
  assert.equal(started.code, 1);
  assert.match(
    started.stderr,
    /ONNX embedder at ".*empty-model-dir" is unavailable: cannot read .*tokenizer\.json.*\[ENG_EMBEDDER_UNAVAILABLE\]/,
  );
  assert.equal(existsSync(dataRoot), false);
});

test('start serves spaces with the onnx embedder as the default one', async () => {
  const modelDir = await tempDir('engram-onnx-model-');
  await writeTinyModelDir(modelDir);
  const dataRoot = await tempDir();
  const server = await startEngram(dataRoot, [], {
    env: { ENGRAM_ONNX_ENABLED: 'true', ENGRAM_ONNX_MODEL_DIR: modelDir, ENGRAM_EMBEDDER: 'onnx' },
  });
  const headers = { 'x-memory-space': 'onnx-space' };
  for (const [id, content] of [
    ['cat', 'the cat sat on the mat'],
    ['sky', 'blue sky and green sea'],
  ]) {
    const stored = await api(`${server.url}/api/v1/memories/remember`, {
      method: 'POST',
      headers,
      body: { id, content },
    });
    assert.equal(stored.status, 201, JSON.stringify(stored.body));
  }
  const space = await api(`${server.url}/api/v1/spaces/onnx-space`);
  assert.equal(space.body.embedder, 'onnx');
  assert.equal(space.body.dimension, 8);
  const recalled = await api(`${server.url}/api/v1/memories/recall`, {
    method: 'POST',
    headers,
    body: { query: 'cat on the mat', k: 2, mode: 'similarity' },
  });
  assert.equal(recalled.status, 200, JSON.stringify(recalled.body));
  assert.deepEqual(
    recalled.body.memories.map((m: any) => m.id),
    ['cat', 'sky'],
  );
  assert.equal((await runCli(['stop', '--data-root', dataRoot])).code, 0);
  assert.equal((await server.exited).code, 0);
});
