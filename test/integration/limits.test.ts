/**
 * Every limit reachable from outside, each at its boundary and in one place: exactly at the
 * limit is served, one over is refused with its code, and the server keeps serving afterwards.
 * Small limits keep the requests small. HTTP runs through fastify.inject where it can and over
 * real sockets for connections and event streams; gRPC runs against a real server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { GrpcClient } from '../../client/grpc-client.ts';
import { engramServiceDefinition } from '../../proto/engram/v1/engram-proto.ts';
import { createRootLogger, startServer } from '../../server/main.ts';
import { grpcHarness, rejectsWith, smallVector } from '../fixtures/grpc-harness.ts';
import { testApi, type TestApi } from '../helpers/http.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ENGINE_LIMITS = {
  maxContentBytes: 100,
  maxMetadataBytes: 64,
  maxDimensions: 8,
  maxK: 5,
  maxMemoryIdChars: 16,
  maxSpaces: 3,
};

/** Polls until `check` holds (the server notices a closed socket a little later). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Whether `work` resolves (for polling with until()). */
async function succeeds(work: () => Promise<unknown>): Promise<boolean> {
  try {
    await work();
    return true;
  } catch {
    return false;
  }
}

/** The server still answers a plain request (after a refusal). */
async function stillServes(api: TestApi): Promise<void> {
  const { status: code } = await api.call('GET', '/health');
  assert.equal(code, 200);
}

function assertError(
  answer: { status: number; body: { error?: { code?: string } } },
  httpStatus: number,
  code: string,
): void {
  assert.equal(answer.status, httpStatus, JSON.stringify(answer.body));
  assert.equal(answer.body.error?.code, code);
}

describe('HTTP limits at their boundaries', async () => {
  const api = await testApi(
    { bodyLimitBytes: 2048, maxBatchItems: 3, defaultEmbedder: null },
    ENGINE_LIMITS,
  );
  const on = { 'x-memory-space': 'lim' };
  const remember = (body: Record<string, unknown>) =>
    api.call('POST', '/api/v1/memories/remember', { body, headers: on });
  const vector = (n: number) => Array.from({ length: n }, (_, i) => (i + 1) / n);
  await remember({ content: 'first', embedding: vector(8) });

  test('body bytes: a body of exactly body_limit_bytes is read, one byte more is 413', async () => {
    // Whitespace pads the JSON to an exact size without touching the content limits.
    const body = (size: number) => {
      const head = JSON.stringify({ content: 'padded', embedding: vector(8) });
      return `${head.slice(0, -1)}${' '.repeat(size - head.length)}}`;
    };
    const send = (payload: string) =>
      api.app.inject({
        method: 'POST',
        url: '/api/v1/memories/remember',
        headers: { ...on, 'content-type': 'application/json' },
        payload,
      });
    assert.equal(Buffer.byteLength(body(2048)), 2048);
    assert.equal((await send(body(2048))).statusCode, 201);
    const over = await send(body(2049));
    assert.equal(over.statusCode, 413);
    assert.equal(over.json<{ error: { code: string } }>().error.code, 'ENG_BODY_TOO_LARGE');
    await stillServes(api);
  });

  test('content bytes, metadata bytes, vector length, memory id length', async () => {
    const ok = { content: 'x', embedding: vector(8) };
    assert.equal((await remember({ ...ok, content: 'é'.repeat(50) })).status, 201);
    assertError(
      await remember({ ...ok, content: `${'é'.repeat(50)}x` }),
      400,
      'ENG_CONTENT_INVALID',
    );
    // {"k":"..."} is 8 bytes of JSON around the value.
    assert.equal((await remember({ ...ok, metadata: { k: 'm'.repeat(56) } })).status, 201);
    assertError(
      await remember({ ...ok, metadata: { k: 'm'.repeat(57) } }),
      400,
      'ENG_METADATA_INVALID',
    );
    assertError(await remember({ ...ok, embedding: vector(9) }), 400, 'ENG_VECTOR_INVALID');
    assert.equal((await remember({ ...ok, id: 'i'.repeat(16) })).status, 201);
    assertError(await remember({ ...ok, id: 'i'.repeat(17) }), 400, 'ENG_MEMORY_ID_INVALID');
    await stillServes(api);
  });

  test('k: max_k is served, max_k + 1 is 400 (GET and POST)', async () => {
    const post = (k: number) =>
      api.call('POST', '/api/v1/memories/recall', {
        body: { embedding: vector(8), k },
        headers: on,
      });
    const served = await post(5);
    assert.equal(served.status, 200, JSON.stringify(served.body));
    assertError(await post(6), 400, 'ENG_QUERY_INVALID');
    const get = await api.call('GET', '/api/v1/memories/recall?query=x&k=6', { headers: on });
    assert.equal(get.status, 400);
    await stillServes(api);
  });

  test('batch items: max_batch_items are stored, one more is 400 and stores nothing', async () => {
    const items = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        id: `batch-${n}-${i}`,
        content: 'b',
        embedding: vector(8),
      }));
    const batch = (n: number) =>
      api.call('POST', '/api/v1/memories/remember/batch', {
        body: { memories: items(n) },
        headers: on,
      });
    const stored = await batch(3);
    assert.ok(stored.status < 300, JSON.stringify(stored.body));
    assertError(await batch(4), 400, 'ENG_REQUEST_INVALID');
    const probe = await api.call('GET', '/api/v1/memories/batch-4-0', { headers: on });
    assert.equal(probe.status, 404);
  });

  test('spaces: max_spaces exist, the next one is refused (429), the others still serve', async () => {
    const count = async () =>
      ((await api.call('GET', '/api/v1/spaces')).body.spaces as unknown[]).length;
    for (let i = await count(); i < ENGINE_LIMITS.maxSpaces; i++) {
      const created = await api.call('POST', '/api/v1/spaces', { body: { id: `space-${i}` } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    assert.equal(await count(), ENGINE_LIMITS.maxSpaces);
    const over = await api.call('POST', '/api/v1/spaces', { body: { id: 'one-too-many' } });
    assertError(over, 429, 'ENG_SPACE_LIMIT_REACHED');
    // An auto-created space by a write counts the same.
    assertError(
      await api.call('POST', '/api/v1/memories/remember', {
        body: { content: 'x', embedding: vector(8) },
        headers: { 'x-memory-space': 'auto-made' },
      }),
      429,
      'ENG_SPACE_LIMIT_REACHED',
    );
    assert.equal((await remember({ content: 'still', embedding: vector(8) })).status, 201);
  });
});

/** An HTTP app listening on 127.0.0.1 with these settings; its port. */
async function listening(settings: Parameters<typeof testApi>[0]): Promise<[TestApi, number]> {
  const api = await testApi(settings);
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  return [api, (api.app.server.address() as AddressInfo).port];
}

/** Opens an event stream; resolves with its status once the response headers are in. */
function subscribe(port: number): Promise<{ status: number; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/api/v1/stream/memories?space=events' },
      (res: IncomingMessage) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A raw keep-alive socket that sent one GET /health; resolves with what came back (or ''). */
function rawHealth(port: number): Promise<{ socket: Socket; answer: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = () => resolve({ socket, answer });
    socket.on('connect', () =>
      socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n'),
    );
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n\r\n') && /\}$/.test(answer)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}

describe('HTTP connections and event-stream subscribers', () => {
  test('SSE subscribers: max_stream_subscribers open, the next is 429, a freed slot is reused', async () => {
    const [api, port] = await listening({ maxStreamSubscribers: 2, streamHeartbeatMs: 60_000 });
    await api.registry.createSpace('events');
    const open = [await subscribe(port), await subscribe(port)];
    assert.deepEqual(
      open.map((s) => s.status),
      [200, 200],
    );
    const refused = await api.call('GET', '/api/v1/stream/memories?space=events');
    assertError(refused, 429, 'ENG_TOO_MANY_STREAMS');
    open[0]!.close();
    await until(async () => {
      const again = await subscribe(port);
      if (again.status === 200) open.push(again);
      return again.status === 200;
    }, 'a freed subscriber slot');
    for (const s of open) s.close();
  });

  test('max_connections keep-alive sockets are served; the next is closed unanswered', async () => {
    const [api, port] = await listening({ maxConnections: 3 });
    const held: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const { socket, answer } = await rawHealth(port);
      assert.match(answer, /^HTTP\/1\.1 200/, `connection ${i + 1}`);
      held.push(socket);
    }
    const over = await rawHealth(port);
    assert.equal(over.answer, '', 'the connection over the limit got an answer');
    assert.ok(over.socket.destroyed || over.socket.readableEnded);
    // Closing one frees its slot; the server goes on serving.
    held.shift()!.destroy();
    await until(async () => {
      const next = await rawHealth(port);
      if (next.answer !== '') held.push(next.socket);
      return /^HTTP\/1\.1 200/.test(next.answer);
    }, 'a freed connection slot');
    for (const socket of held) socket.destroy();
    await stillServes(api);
  });
});

describe('gRPC limits at their boundaries', async () => {
  const grpc = await grpcHarness({
    settings: { maxReceiveMessageBytes: 1024, maxStreamSubscribers: 2, defaultEmbedder: null },
    engine: { maxK: 5, maxDimensions: 8 },
  });
  const { client } = grpc;
  const space = { memory_space_id: 'glim' };
  await client.remember({ ...space, content: 'seed', embedding: smallVector(1) });

  test('message bytes: a request of exactly max_receive_message_bytes is served, one more is RESOURCE_EXHAUSTED', async () => {
    const encode = engramServiceDefinition().Remember!.requestSerialize;
    const sized = (bytes: number) => {
      const base = { ...space, embedding: smallVector(2), content: '' };
      const overhead = encode({ ...base, content: 'c'.repeat(200) }).length - 200;
      return { ...base, content: 'c'.repeat(bytes - overhead) };
    };
    assert.equal(encode(sized(1024)).length, 1024);
    assert.equal(encode(sized(1025)).length, 1025);
    // Content is 64 KiB at most by default, so the message size is the only limit in play.
    assert.ok((await client.remember(sized(1024))).memory_id);
    await rejectsWith(client.remember(sized(1025)), { status: status.RESOURCE_EXHAUSTED });
    await client.health({});
  });

  test('k: max_k is served, max_k + 1 is INVALID_ARGUMENT', async () => {
    const recall = (k: number) => client.recall({ ...space, embedding: smallVector(1), k });
    assert.ok(((await recall(5)).memories ?? []).length > 0);
    await rejectsWith(recall(6), { status: status.INVALID_ARGUMENT, code: 'ENG_QUERY_INVALID' });
    await rejectsWith(
      client.remember({ ...space, content: 'v', embedding: [...smallVector(1), 1] }),
      {
        status: status.INVALID_ARGUMENT,
        code: 'ENG_VECTOR_INVALID',
      },
    );
  });

  test('event streams: max_stream_subscribers open, the next is RESOURCE_EXHAUSTED, a freed slot is reused', async () => {
    const first = client.stream(space);
    const second = client.stream(space);
    await first.ready;
    await second.ready;
    await rejectsWith(client.stream(space).ready, {
      status: status.RESOURCE_EXHAUSTED,
      code: 'ENG_TOO_MANY_STREAMS',
    });
    first.cancel();
    let third: ReturnType<GrpcClient['stream']> | undefined;
    await until(async () => {
      const attempt = client.stream(space);
      try {
        await attempt.ready;
        third = attempt;
        return true;
      } catch {
        return false;
      }
    }, 'a freed event-stream slot');
    second.cancel();
    third?.cancel();
  });
});

describe('gRPC connections and streams per connection', async () => {
  const grpc = await grpcHarness({
    settings: {
      maxConnections: 2,
      maxConcurrentStreamsPerConnection: 2,
      maxStreamSubscribers: 100,
    },
  });
  // Each client its own connection (grpc-js shares one per target unless told otherwise).
  const own = () => grpc.connect({ channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });

  test('max_connections connections are served; the next is refused (UNAVAILABLE), a freed one is reused', async () => {
    const a = own();
    const b = own();
    await a.health({});
    await b.health({});
    const c = own();
    await rejectsWith(c.health({}, { timeoutMs: 2000 }), { status: status.UNAVAILABLE });
    a.close();
    await until(
      () => succeeds(() => c.health({}, { timeoutMs: 2000 })),
      'a freed gRPC connection slot',
    );
    await b.health({});
    b.close();
    c.close();
  });

  test('max_concurrent_streams per connection: two calls open at once; the third waits for a free one', async () => {
    const client = own();
    // The previous test's connections may take a moment to be seen closed by the server.
    await until(
      () => succeeds(() => client.createSpace({ memory_space_id: 'streams' })),
      'a connection',
    );
    const on = { memory_space_id: 'streams' };
    const open = [client.stream(on), client.stream(on)];
    await Promise.all(open.map((s) => s.ready));
    // HTTP/2 keeps the third stream queued on the client until one of the two ends.
    let answered = false;
    const third = client.health({}, { timeoutMs: 10_000 }).then(() => (answered = true));
    await sleep(300);
    assert.equal(answered, false, 'a third stream ran beside two open ones');
    open[0]!.cancel();
    await third;
    assert.equal(answered, true);
    open[1]!.cancel();
  });
});

test('server.max_connections reaches both front ends of a started server', async () => {
  const server = await startServer(
    {
      engine: { dataRoot: await tempDir() },
      host: '127.0.0.1',
      port: 0,
      grpcPort: 0,
      logLevel: 'silent',
      http: { maxConnections: 1 },
    },
    createRootLogger('silent'),
  );
  const options = {
    target: server.grpcUrl,
    channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
  };
  const first = new GrpcClient(options);
  const second = new GrpcClient(options);
  const held = await rawHealth(Number(new URL(server.url).port));
  try {
    assert.match(held.answer, /^HTTP\/1\.1 200/);
    assert.equal((await rawHealth(Number(new URL(server.url).port))).answer, '');
    await first.health({});
    await rejectsWith(second.health({}, { timeoutMs: 2000 }), { status: status.UNAVAILABLE });
  } finally {
    held.socket.destroy();
    first.close();
    second.close();
    await server.stop();
  }
});
