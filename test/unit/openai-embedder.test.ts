import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { OpenAiEmbedder } from '../../engine/embed/openai-embedder.ts';
import { isEngramError } from '../../engine/index.ts';

type Handler = (
  body: { model: string; input: string[] },
  req: IncomingMessage,
  res: ServerResponse,
) => void;

/** A local stand-in for an OpenAI-compatible server, started by this test on 127.0.0.1. */
async function stubServer(
  handler: Handler,
): Promise<{ url: string; requests: Array<{ input: string[]; auth?: string }> }> {
  const requests: Array<{ input: string[]; auth?: string }> = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; input: string[] };
      requests.push({
        input: body.input,
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
      });
      handler(body, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests };
}

function answer(res: ServerResponse, input: string[], dimension: number): void {
  res.setHeader('content-type', 'application/json');
  // Answer out of order: the client must sort by index.
  const data = input
    .map((text, index) => ({
      index,
      embedding: Array.from({ length: dimension }, (_, i) => text.length + i + 1),
    }))
    .reverse();
  res.end(JSON.stringify({ object: 'list', data, model: 'stub' }));
}

test('texts are embedded in batches, in order, normalised, with the key sent as a bearer token', async () => {
  const stub = await stubServer((body, _req, res) => answer(res, body.input, 4));
  const embedder = new OpenAiEmbedder({
    baseUrl: stub.url,
    model: 'stub',
    dimension: 4,
    apiKey: 'sk-test',
    batchSize: 2,
  });
  const vectors = await embedder.embed(['a', 'bb', 'ccc']);
  assert.equal(vectors.length, 3);
  assert.deepEqual(
    stub.requests.map((r) => r.input),
    [['a', 'bb'], ['ccc']],
  );
  assert.equal(stub.requests[0]!.auth, 'Bearer sk-test');
  const expected = [2, 3, 4, 5].map((v) => v / Math.sqrt(4 + 9 + 16 + 25));
  vectors[0]!.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6));
  assert.equal(embedder.name, 'openai:stub');
});

test('a 503 is retried with backoff and then succeeds', async () => {
  let calls = 0;
  const stub = await stubServer((body, _req, res) => {
    calls += 1;
    if (calls < 3) {
      res.statusCode = 503;
      res.end('busy');
      return;
    }
    answer(res, body.input, 3);
  });
  const embedder = new OpenAiEmbedder({
    baseUrl: stub.url,
    model: 'm',
    dimension: 3,
    retries: 3,
    retryBaseMs: 5,
  });
  assert.equal((await embedder.embed(['x'])).length, 1);
  assert.equal(calls, 3);
});

test('an unreachable server fails with ENG_EMBEDDER_UNAVAILABLE after the retries', async () => {
  // Port 1 on loopback: nothing listens there, so every attempt is refused.
  const embedder = new OpenAiEmbedder({
    baseUrl: `http://127.0.0.1:1/v1`,
    model: 'm',
    dimension: 3,
    retries: 1,
    retryBaseMs: 1,
  });
  await assert.rejects(
    embedder.embed(['x']),
    (error: unknown) =>
      isEngramError(error, 'ENG_EMBEDDER_UNAVAILABLE') && /127\.0\.0\.1:1/.test(error.message),
  );
});

test('a server that does not answer in time fails with a timeout message', async () => {
  const stub = await stubServer(() => {
    // never answers
  });
  const embedder = new OpenAiEmbedder({
    baseUrl: stub.url,
    model: 'm',
    dimension: 3,
    retries: 0,
    timeoutMs: 100,
  });
  await assert.rejects(
    embedder.embed(['x']),
    (error: unknown) =>
      isEngramError(error, 'ENG_EMBEDDER_UNAVAILABLE') && /within 100 ms/.test(error.message),
  );
});

test('a 400 is not retried; a wrong dimension or a malformed answer is refused', async () => {
  let calls = 0;
  const bad = await stubServer((_body, _req, res) => {
    calls += 1;
    res.statusCode = 400;
    res.end('{}');
  });
  await assert.rejects(
    new OpenAiEmbedder({ baseUrl: bad.url, model: 'm', dimension: 3, retryBaseMs: 1 }).embed(['x']),
    /HTTP 400/,
  );
  assert.equal(calls, 1);

  const wide = await stubServer((body, _req, res) => answer(res, body.input, 5));
  await assert.rejects(
    new OpenAiEmbedder({ baseUrl: wide.url, model: 'm', dimension: 3 }).embed(['x']),
    (error: unknown) => isEngramError(error, 'ENG_VECTOR_DIM_MISMATCH'),
  );

  const junk = await stubServer((_body, _req, res) =>
    res.end(JSON.stringify({ data: [{ index: 0, embedding: ['a', 'b', 'c'] }] })),
  );
  await assert.rejects(
    new OpenAiEmbedder({ baseUrl: junk.url, model: 'm', dimension: 3 }).embed(['x']),
    (error: unknown) => isEngramError(error, 'ENG_EMBEDDER_UNAVAILABLE'),
  );
});
