/**
 * 10,000 messages through StreamingRemember from a writer that sends as fast as the transport
 * lets it, against a reader that stops reading acknowledgements for a while and then reads
 * them slowly. The server must stop reading the stream instead of buffering: what it holds for
 * the stream (requests read and not yet answered and flushed) stays at about
 * maxInFlightPerStream, and while nobody reads acknowledgements it stops taking requests
 * altogether. A server that read everything it was sent would hold thousands.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { grpcHarness, smallVector } from '../fixtures/grpc-harness.ts';

const MESSAGES = 10_000;
const MAX_IN_FLIGHT = 32;
/** A grpc-js server call's writable buffer: 16 objects (Node's objectMode highWaterMark). */
const WRITABLE_BUFFER = 16;

test('10,000 messages through StreamingRemember against a slow reader keep the server bounded', async () => {
  const { client, registry, server } = await grpcHarness({
    // How fast the log syncs is not what this test is about.
    engine: { durability: 'none' },
    settings: { maxInFlightPerStream: MAX_IN_FLIGHT },
  });
  await registry.createSpace('bp-space', { dimension: 8 });
  server.resetStreamPeak();
  const stream = client.streamingRemember({ space: 'bp-space' });
  let sent = 0;
  const writer = (async () => {
    for (let i = 0; i < MESSAGES; i++) {
      await stream.send({
        correlation_id: String(i),
        memory: { id: `m${i}`, content: `memory number ${i}`, embedding: smallVector(i) },
      });
      sent += 1;
    }
    stream.end();
  })();

  // Phase 1: nobody reads acknowledgements. The server must stop reading requests: wait until
  // its count stands still for 500 ms.
  let received = server.streamStats().received;
  for (let stillFor = 0; stillFor < 500;) {
    await sleep(100);
    const now = server.streamStats().received;
    stillFor = now === received ? stillFor + 100 : 0;
    received = now;
  }
  const stalled = server.streamStats();
  assert.ok(
    stalled.received < MESSAGES / 2,
    `with no acknowledgement read the server stopped at ${stalled.received} requests (client sent ${sent})`,
  );

  // Phase 2: read slowly (a pause every 200 acknowledgements), checking as we go that the
  // server never runs far ahead of the reader.
  const stored = new Set<string>();
  let read = 0;
  let aheadMax = 0;
  for await (const ack of stream) {
    assert.equal(ack.error, undefined, JSON.stringify(ack.error));
    stored.add(ack.stored!.memory_id!);
    read += 1;
    aheadMax = Math.max(aheadMax, server.streamStats().received - read);
    if (read % 200 === 0) await sleep(10);
  }
  await writer;

  const stats = server.streamStats();
  assert.equal(read, MESSAGES);
  assert.equal(stored.size, MESSAGES);
  assert.equal(stats.received, MESSAGES);
  assert.ok(
    stats.backlogPeak <= MAX_IN_FLIGHT + WRITABLE_BUFFER,
    `the server held at most ${stats.backlogPeak} requests of the stream at once`,
  );
  // What the server read beyond what the reader consumed is in transit (the HTTP/2 windows), not
  // piled up in the server; with no back-pressure it would run thousands ahead.
  assert.ok(aheadMax < 3000, `the server ran ${aheadMax} requests ahead of the reader`);
  assert.equal((await (await registry.space('bp-space')).stats()).memories, MESSAGES);
});
