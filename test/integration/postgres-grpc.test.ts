/**
 * The gRPC front end on the PostgreSQL backend (PGlite + pgvector in process): the same server
 * code as on LMDB, and a space never sees another through unary calls, StreamingRemember
 * messages naming other spaces, or event streams fed by LISTEN/NOTIFY.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { GrpcClient, type SpaceEventMessage } from '../../client/grpc-client.ts';
import { GrpcServer } from '../../server/grpc/grpc-server.ts';
import { rejectsWith } from '../fixtures/grpc-harness.ts';
import { startPglite } from '../helpers/postgres-pglite.ts';

const pglite = await startPglite();
const engine = await pglite.open(pglite.schema('grpc'), { eventPollMs: 200 });
const server = await GrpcServer.start({ engine, host: '127.0.0.1', port: 0 });
const client = new GrpcClient({ target: server.target });
// Closed when the test ends (t.after), not by a file-level after(): PGlite's own after() hook
// runs first, and the engine writes its access counts when it closes.
async function closeAll(): Promise<void> {
  client.close();
  await server.close();
  await engine.close();
}

async function collect(
  events: AsyncIterator<SpaceEventMessage>,
  until: (seen: SpaceEventMessage[]) => boolean,
): Promise<SpaceEventMessage[]> {
  const seen: SpaceEventMessage[] = [];
  const deadline = Date.now() + 10_000;
  while (!until(seen)) {
    assert.ok(Date.now() < deadline, `timed out after ${seen.length} events`);
    const next = await events.next();
    if (next.done) break;
    seen.push(next.value);
  }
  return seen;
}

test('postgres: gRPC calls and streams in space B never return or touch a memory of space A', async (t) => {
  t.after(closeAll);
  await client.createSpace({ memory_space_id: 'pg-a' });
  await client.createSpace({ memory_space_id: 'pg-b' });
  const subA = client.stream({ memory_space_id: 'pg-a' });
  const subB = client.stream({ memory_space_id: 'pg-b' });
  await Promise.all([subA.ready, subB.ready]);

  await client.remember({ id: 'secret', content: 'CRISPR gene editing in A' }, { space: 'pg-a' });
  const bidi = client.streamingRemember();
  const acks = (async () => {
    const out = [];
    for await (const ack of bidi) out.push(ack);
    return out;
  })();
  for (let i = 0; i < 6; i++) {
    await bidi.send({
      correlation_id: String(i),
      memory_space_id: i % 2 === 0 ? 'pg-a' : 'pg-b',
      memory: { id: `${i % 2 === 0 ? 'a' : 'b'}-${i}`, content: `interleaved ${i}` },
    });
  }
  bidi.end();
  for (const ack of await acks) {
    assert.equal(ack.error, undefined);
    assert.equal(ack.memory_space_id, Number(ack.correlation_id) % 2 === 0 ? 'pg-a' : 'pg-b');
  }
  await client.remember({ id: 'b-marker', content: 'the end' }, { space: 'pg-b' });

  const fromB = await client.recall({ query: 'CRISPR gene editing', k: 50 }, { space: 'pg-b' });
  assert.doesNotMatch(JSON.stringify(fromB), /CRISPR|secret/);
  await rejectsWith(client.getMemory({ memory_id: 'secret' }, { space: 'pg-b' }), {
    status: status.NOT_FOUND,
  });
  const forgot = await client
    .forget({ memory_id: 'secret' }, { space: 'pg-b' })
    .then((response) => JSON.stringify(response))
    .catch((error: Error) => error.message);
  assert.doesNotMatch(forgot, /CRISPR/);
  const stillThere = await client.getMemory({ memory_id: 'secret' }, { space: 'pg-a' });
  assert.equal(stillThere.memory?.content, 'CRISPR gene editing in A');
  const fromA = await client.recall({ query: 'CRISPR gene editing', k: 1 }, { space: 'pg-a' });
  assert.equal(fromA.memories?.[0]?.memory?.id, 'secret');

  const seenB = await collect(subB[Symbol.asyncIterator](), (s) =>
    s.some((e) => e.memory_id === 'b-marker'),
  );
  subA.cancel();
  subB.cancel();
  assert.deepEqual(seenB.map((e) => e.memory_id).sort(), ['b-1', 'b-3', 'b-5', 'b-marker']);
  for (const event of seenB) assert.equal(event.memory_space_id, 'pg-b');
});
