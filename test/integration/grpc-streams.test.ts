import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  EngramGrpcError,
  fromStruct,
  type BidiStream,
  type EventSubscription,
  type SpaceEventMessage,
  type StreamingRememberRequest,
} from '../../client/grpc-client.ts';
import {
  grpcHarness,
  rejectsWith,
  smallVector,
  waitingEmbedder,
} from '../fixtures/grpc-harness.ts';

const waiting = waitingEmbedder();
const h = await grpcHarness({
  embedders: { waiting: waiting.factory },
  settings: { maxStreamBufferedEvents: 20 },
});
const { client, registry } = h;

/** Sends every request, half-closes, and returns every response. */
async function exchange<Req, Res>(stream: BidiStream<Req, Res>, requests: Req[]): Promise<Res[]> {
  const reading = (async () => {
    const out: Res[] = [];
    for await (const response of stream) out.push(response);
    return out;
  })();
  for (const request of requests) await stream.send(request);
  stream.end();
  return reading;
}

/** Reads events until `done` says so (or fails after `timeoutMs`). */
async function readUntil(
  events: AsyncIterator<SpaceEventMessage>,
  done: (seen: SpaceEventMessage[]) => boolean,
  timeoutMs = 5000,
): Promise<SpaceEventMessage[]> {
  const seen: SpaceEventMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(seen)) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(1, deadline - Date.now()));
    });
    const next = await Promise.race([events.next(), timeout]);
    clearTimeout(timer);
    if (next === 'timeout') assert.fail(`timed out after ${seen.length} events`);
    if (next.done) break;
    seen.push(next.value);
  }
  return seen;
}

async function subscribe(space: string, afterLsn?: number): Promise<EventSubscription> {
  const sub = client.stream(
    afterLsn === undefined
      ? { memory_space_id: space }
      : { memory_space_id: space, after_lsn: afterLsn },
  );
  await sub.ready;
  return sub;
}

test('StreamingRemember acknowledges every message once, with its correlation id, after it is durable', async () => {
  const requests: StreamingRememberRequest[] = Array.from({ length: 50 }, (_, i) => ({
    memory_space_id: 'st-remember',
    correlation_id: `c-${i}`,
    memory: { id: `m${i}`, content: `streamed memory ${i}` },
  }));
  const acks = await exchange(client.streamingRemember(), requests);
  assert.equal(acks.length, 50);
  assert.deepEqual(
    acks.map((a) => a.correlation_id).sort(),
    requests.map((r) => r.correlation_id).sort(),
  );
  const space = await registry.space('st-remember');
  const { lastLsn } = await space.stats();
  for (const ack of acks) {
    assert.equal(ack.error, undefined);
    assert.equal(ack.memory_space_id, 'st-remember');
    const i = Number(ack.correlation_id!.slice(2));
    assert.equal(ack.stored!.memory_id, `m${i}`);
    assert.ok(ack.stored!.lsn! <= lastLsn, 'acknowledged only once in the log');
    assert.equal((await space.get(`m${i}`))?.content, `streamed memory ${i}`);
  }
  assert.equal(new Set(acks.map((a) => a.stored!.lsn)).size, 50);
});

test('an invalid message gets an error response for itself and the stream goes on', async () => {
  const acks = await exchange(client.streamingRemember(), [
    { correlation_id: 'ok-1', memory_space_id: 'st-mixed', memory: { content: 'fine one' } },
    { correlation_id: 'bad-content', memory_space_id: 'st-mixed', memory: { content: '' } },
    { correlation_id: 'bad-space', memory_space_id: 'Not Valid', memory: { content: 'x' } },
    { correlation_id: 'bad-both', memory_space_id: 'st-mixed' },
    {
      correlation_id: 'bad-two-spaces',
      memory_space_id: 'st-mixed',
      memory: { memory_space_id: 'st-other', content: 'x' },
    },
    {
      correlation_id: 'bad-vector',
      memory_space_id: 'st-mixed',
      memory: { content: 'x', embedding: [Number.NaN] },
    },
    { correlation_id: 'ok-2', memory_space_id: 'st-mixed', memory: { content: 'fine two' } },
    {
      correlation_id: 'ok-episode',
      memory_space_id: 'st-mixed',
      episode: { episode: { what: 'an episode in a stream', who: ['Ada'] } },
    },
  ]);
  const byId = new Map(acks.map((a) => [a.correlation_id, a]));
  assert.equal(acks.length, 8);
  const expectErrors: Record<string, [string, number]> = {
    'bad-content': ['ENG_CONTENT_INVALID', status.INVALID_ARGUMENT],
    'bad-space': ['ENG_SPACE_ID_INVALID', status.INVALID_ARGUMENT],
    'bad-both': ['ENG_REQUEST_INVALID', status.INVALID_ARGUMENT],
    'bad-two-spaces': ['ENG_REQUEST_INVALID', status.INVALID_ARGUMENT],
    'bad-vector': ['ENG_VECTOR_INVALID', status.INVALID_ARGUMENT],
  };
  for (const [id, [code, grpcStatus]] of Object.entries(expectErrors)) {
    const ack = byId.get(id)!;
    assert.equal(ack.stored, undefined, id);
    assert.equal(ack.error?.code, code, id);
    assert.equal(ack.error?.status, grpcStatus, id);
    assert.ok(ack.error?.message, id);
  }
  for (const id of ['ok-1', 'ok-2', 'ok-episode']) {
    assert.ok(byId.get(id)?.stored?.memory_id, id);
    assert.equal(byId.get(id)?.error, undefined, id);
  }
  const episode = await (
    await registry.space('st-mixed')
  ).get(byId.get('ok-episode')!.stored!.memory_id!);
  assert.equal(episode?.memoryType, 'episodic');
  assert.equal(registry.has('st-other'), false, 'a refused message creates no space');
});

test('each message of a stream is routed on its own; x-memory-space wins for all of them', async () => {
  const acks = await exchange(client.streamingRemember(), [
    { correlation_id: 'a', memory_space_id: 'st-route-a', memory: { content: 'to a' } },
    { correlation_id: 'b', memory: { memory_space_id: 'st-route-b', content: 'to b' } },
    { correlation_id: 'd', memory: { content: 'to the default space' } },
  ]);
  const spaceOf = Object.fromEntries(acks.map((a) => [a.correlation_id, a.memory_space_id]));
  assert.deepEqual(spaceOf, { a: 'st-route-a', b: 'st-route-b', d: 'default' });

  const forced = await exchange(client.streamingRemember({ space: 'st-route-forced' }), [
    { correlation_id: 'x', memory_space_id: 'st-route-a', memory: { content: 'forced 1' } },
    { correlation_id: 'y', memory: { content: 'forced 2' } },
  ]);
  for (const ack of forced) assert.equal(ack.memory_space_id, 'st-route-forced');
  assert.equal((await (await registry.space('st-route-forced')).stats()).memories, 2);
});

test('StreamingRecall answers each query with its correlation id; a bad query fails alone', async () => {
  await registry.createSpace('st-recall', { dimension: 8 });
  for (let i = 0; i < 10; i++) {
    await client.remember({
      memory_space_id: 'st-recall',
      id: `q${i}`,
      content: `recall target ${i}`,
      embedding: smallVector(i),
    });
  }
  const answers = await exchange(client.streamingRecall(), [
    {
      correlation_id: 'v3',
      memory_space_id: 'st-recall',
      recall: { embedding: smallVector(3), k: 2 },
    },
    { correlation_id: 'bad', memory_space_id: 'st-recall', recall: { k: 2 } },
    { correlation_id: 'none', memory_space_id: 'st-recall' },
    { correlation_id: 'ghost', memory_space_id: 'st-ghost', recall: { query: 'target' } },
    {
      correlation_id: 'v5',
      recall: { memory_space_id: 'st-recall', embedding: smallVector(5), k: 1 },
    },
  ]);
  const byId = new Map(answers.map((a) => [a.correlation_id, a]));
  assert.equal(answers.length, 5);
  assert.equal(byId.get('v3')?.recalled?.memories?.[0]?.memory?.id, 'q3');
  assert.equal(byId.get('v5')?.recalled?.memories?.[0]?.memory?.id, 'q5');
  assert.equal(byId.get('v5')?.recalled?.memories?.length, 1);
  assert.equal(byId.get('bad')?.error?.code, 'ENG_REQUEST_INVALID');
  assert.equal(byId.get('none')?.error?.code, 'ENG_REQUEST_INVALID');
  assert.deepEqual(byId.get('ghost')?.recalled?.memories, []);
  assert.equal(registry.has('st-ghost'), false);
});

test('Stream delivers the space’s events (stored, updated, associated, forgotten) like the SSE stream', async () => {
  await client.remember({ memory_space_id: 'st-events', id: 'seed', content: 'seed memory' });
  const sub = await subscribe('st-events');
  const events = sub[Symbol.asyncIterator]();
  await client.remember({ memory_space_id: 'st-events', id: 'e1', content: 'first event' });
  const space = await registry.space('st-events');
  await space.update('e1', { tags: ['changed'] });
  await space.associate('e1', 'seed', 0.5);
  await client.forget({ memory_space_id: 'st-events', memory_id: 'e1' });
  const seen = await readUntil(events, (s) => s.length >= 4);
  sub.cancel();
  assert.deepEqual(
    seen.map((e) => [e.type, e.memory_id]),
    [
      ['EVENT_TYPE_STORED', 'e1'],
      ['EVENT_TYPE_UPDATED', 'e1'],
      ['EVENT_TYPE_ASSOCIATED', 'e1'],
      ['EVENT_TYPE_FORGOTTEN', 'e1'],
    ],
  );
  assert.deepEqual(fromStruct(seen[0]!.detail), { content: 'first event' });
  assert.deepEqual(fromStruct(seen[1]!.detail), { fields: ['tags'] });
  assert.deepEqual(fromStruct(seen[2]!.detail), { target_id: 'seed', weight: 0.5 });
  const lsns = seen.map((e) => e.lsn!);
  assert.deepEqual(
    lsns,
    [...lsns].sort((a, b) => a - b),
  );
  for (const event of seen) {
    assert.equal(event.memory_space_id, 'st-events');
    assert.ok(event.at?.seconds);
  }
});

test('Stream with after_lsn replays what followed from the log, then goes live', async () => {
  const first = await client.remember({ memory_space_id: 'st-replay', content: 'one' });
  await client.remember({ memory_space_id: 'st-replay', content: 'two' });
  await client.remember({ memory_space_id: 'st-replay', content: 'three' });
  const sub = await subscribe('st-replay', first.lsn);
  const events = sub[Symbol.asyncIterator]();
  await client.remember({ memory_space_id: 'st-replay', content: 'four' });
  const seen = await readUntil(events, (s) => s.length >= 3);
  sub.cancel();
  assert.deepEqual(
    seen.map((e) => fromStruct(e.detail).content),
    ['two', 'three', 'four'],
  );
});

test('Stream of a space that does not exist is NOT_FOUND and creates nothing', async () => {
  const sub = client.stream({ memory_space_id: 'st-missing' });
  await rejectsWith(sub.ready, { status: status.NOT_FOUND, code: 'ENG_SPACE_NOT_FOUND' });
  assert.equal(registry.has('st-missing'), false);
  await rejectsWith(client.stream({ memory_space_id: 'BAD ID' }).ready, {
    status: status.INVALID_ARGUMENT,
    code: 'ENG_SPACE_ID_INVALID',
  });
});

test('a Stream subscriber for space B never receives an event of space A', async () => {
  await client.createSpace({ memory_space_id: 'iso-a' });
  await client.createSpace({ memory_space_id: 'iso-b' });
  const subB = await subscribe('iso-b');
  const subA = await subscribe('iso-a');
  // Interleaved writes to both spaces, through every writing RPC, then a marker in B.
  await exchange(
    client.streamingRemember(),
    Array.from({ length: 20 }, (_, i) => ({
      correlation_id: String(i),
      memory_space_id: i % 2 === 0 ? 'iso-a' : 'iso-b',
      memory: { id: `${i % 2 === 0 ? 'a' : 'b'}-${i}`, content: `interleaved ${i}` },
    })),
  );
  await client.remember({ memory_space_id: 'iso-a', id: 'a-unary', content: 'unary in a' });
  await client.store({ memory_space_id: 'iso-a', id: 'a-episode', episode: { what: 'in a' } });
  await client.forget({ memory_space_id: 'iso-a', memory_id: 'a-0' });
  await client.remember({ memory_space_id: 'iso-b', id: 'b-marker', content: 'the end' });
  await client.remember({ memory_space_id: 'iso-a', id: 'a-marker', content: 'the end' });

  const seenB = await readUntil(subB[Symbol.asyncIterator](), (s) =>
    s.some((e) => e.memory_id === 'b-marker'),
  );
  const seenA = await readUntil(subA[Symbol.asyncIterator](), (s) =>
    s.some((e) => e.memory_id === 'a-marker'),
  );
  subA.cancel();
  subB.cancel();
  assert.equal(seenB.length, 11, '10 interleaved writes and the marker');
  for (const event of seenB) {
    assert.equal(event.memory_space_id, 'iso-b');
    assert.match(event.memory_id!, /^b-/);
  }
  assert.equal(seenA.length, 14);
  for (const event of seenA) {
    assert.equal(event.memory_space_id, 'iso-a');
    assert.match(event.memory_id!, /^a-/);
  }
});

test('StreamingRecall and unary calls in space B never return or touch a memory of space A', async () => {
  await registry.createSpace('iso-vec-a', { dimension: 8 });
  await registry.createSpace('iso-vec-b', { dimension: 8 });
  for (let i = 0; i < 5; i++) {
    for (const space of ['iso-vec-a', 'iso-vec-b']) {
      await client.remember({
        memory_space_id: space,
        id: `${space}-${i}`,
        content: `shared words ${i}`,
        embedding: smallVector(i),
      });
    }
  }
  await client.remember({
    memory_space_id: 'iso-vec-a',
    id: 'only-in-a',
    content: 'unique zebra',
    embedding: smallVector(9),
  });
  const answers = await exchange(client.streamingRecall(), [
    {
      correlation_id: 'text',
      memory_space_id: 'iso-vec-b',
      recall: { query: 'shared words', k: 50 },
    },
    { correlation_id: 'zebra', memory_space_id: 'iso-vec-b', recall: { query: 'zebra', k: 50 } },
    {
      correlation_id: 'vector',
      memory_space_id: 'iso-vec-b',
      recall: { embedding: smallVector(9), k: 50 },
    },
  ]);
  assert.equal(answers.length, 3);
  for (const answer of answers) {
    assert.equal(answer.error, undefined);
    assert.equal(answer.memory_space_id, 'iso-vec-b');
    for (const hit of answer.recalled!.memories!) {
      assert.match(hit.memory!.id!, /^iso-vec-b-/);
      assert.equal(hit.memory!.memory_space_id, 'iso-vec-b');
    }
  }
  assert.equal(answers.find((a) => a.correlation_id === 'vector')!.recalled!.memories!.length, 5);

  const unary = await client.recall({
    memory_space_id: 'iso-vec-b',
    embedding: smallVector(9),
    k: 50,
  });
  assert.ok(unary.memories!.every((hit) => hit.memory!.id!.startsWith('iso-vec-b-')));
  await rejectsWith(client.getMemory({ memory_space_id: 'iso-vec-b', memory_id: 'only-in-a' }), {
    status: status.NOT_FOUND,
  });
  await rejectsWith(client.forget({ memory_space_id: 'iso-vec-b', memory_id: 'only-in-a' }), {
    status: status.NOT_FOUND,
  });
  const stillThere = await client.getMemory({
    memory_space_id: 'iso-vec-a',
    memory_id: 'only-in-a',
  });
  assert.equal(stillThere.memory?.content, 'unique zebra');
  const listedB = await client.listSpaces({ memory_space_id: 'iso-vec-b' });
  assert.equal(listedB.spaces![0]!.memories, 5);
});

test('a Stream subscriber that stops reading is dropped with RESOURCE_EXHAUSTED; others go on', async () => {
  await client.createSpace({ memory_space_id: 'st-slow' });
  const slow = await subscribe('st-slow');
  const fast = await subscribe('st-slow');
  const fastEvents = fast[Symbol.asyncIterator]();
  const big = 'x'.repeat(8000); // fills the transport's windows with few events
  const fastSeen: SpaceEventMessage[] = [];
  const total = 150; // far more than the transport's windows, the buffers and the 20 allowed
  for (let i = 0; i < total; i++) {
    await client.remember({ memory_space_id: 'st-slow', id: `s${i}`, content: `${big} ${i}` });
    fastSeen.push(...(await readUntil(fastEvents, (s) => s.length >= 1)));
  }
  fast.cancel();
  assert.equal(fastSeen.length, total, 'a subscriber that reads gets every event');
  const slowSeen: SpaceEventMessage[] = [];
  const error = await (async () => {
    try {
      for await (const event of slow) slowSeen.push(event);
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  assert.ok(error instanceof EngramGrpcError, `the slow subscriber was dropped (${String(error)})`);
  assert.equal(error.status, status.RESOURCE_EXHAUSTED);
  assert.equal(error.code, 'ENG_STREAM_TOO_SLOW');
  assert.ok(slowSeen.length < total, `it received ${slowSeen.length} events before the drop`);
  assert.deepEqual(
    slowSeen.map((e) => e.memory_id),
    Array.from({ length: slowSeen.length }, (_, i) => `s${i}`),
    'what it did receive is the start of the sequence, in order',
  );
});

test('cancelling a StreamingRemember reaches the engine as an aborted signal', async () => {
  await client.createSpace({ memory_space_id: 'st-cancel', embedder: 'waiting' });
  const controller = new AbortController();
  const stream = client.streamingRemember({ signal: controller.signal });
  const failed = (async () => {
    try {
      for await (const _ of stream) return 'answered';
    } catch (error) {
      return error;
    }
    return 'ended';
  })();
  await stream.send({ memory_space_id: 'st-cancel', memory: { content: 'waits forever' } });
  while (waiting.signals.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  const outcome = await failed;
  assert.ok(outcome instanceof EngramGrpcError, String(outcome));
  assert.equal(outcome.status, status.CANCELLED);
  await waiting.aborted;
  assert.equal(waiting.signals.at(-1)?.aborted, true);
  assert.equal((await (await registry.space('st-cancel')).stats()).memories, 0);
});

test('server shutdown ends event streams with UNAVAILABLE and answers what a stream already read', async () => {
  const other = await grpcHarness();
  await other.client.createSpace({ memory_space_id: 'st-shutdown' });
  const sub = other.client.stream({ memory_space_id: 'st-shutdown' });
  await sub.ready;
  const stream = other.client.streamingRemember();
  const acks: unknown[] = [];
  const reading = (async () => {
    try {
      for await (const ack of stream) acks.push(ack);
    } catch (error) {
      return error;
    }
    return undefined;
  })();
  await stream.send({ memory_space_id: 'st-shutdown', memory: { content: 'before shutdown' } });
  while (acks.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await other.server.close();
  const streamError = await reading;

  assert.ok(streamError instanceof EngramGrpcError);
  assert.equal(streamError.status, status.UNAVAILABLE);
  assert.equal(streamError.code, 'ENG_SHUTTING_DOWN');
  const eventError = await (async () => {
    try {
      for await (const _ of sub) continue;
    } catch (error) {
      return error;
    }
    return undefined;
  })();

  assert.ok(eventError instanceof EngramGrpcError);
  assert.equal(eventError.status, status.UNAVAILABLE);
  assert.equal(eventError.code, 'ENG_SHUTTING_DOWN');
  assert.equal(acks.length, 1);
});
