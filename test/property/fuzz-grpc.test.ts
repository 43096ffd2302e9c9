/**
 * Hostile gRPC input: random bytes sent as the request of every unary RPC (the server decodes
 * them itself), and random typed messages (odd strings, huge and negative numbers, NaN vectors,
 * unknown spaces) through the client. The server answers each with a status it chose
 * (never INTERNAL or UNKNOWN), keeps serving, and every space reopens cleanly afterwards.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { EngramGrpcError } from '../../client/grpc-client.ts';
import { Registry } from '../../engine/index.ts';
import { grpcHarness } from '../fixtures/grpc-harness.ts';
import { fuzzParameters } from '../helpers/fuzz.ts';

const UNARY = [
  'Remember',
  'Store',
  'Recall',
  'Forget',
  'GetMemory',
  'CreateSpace',
  'ListSpaces',
  'DeleteSpace',
  'Health',
] as const;
const BAD_STATUSES = new Set<number>([status.INTERNAL, status.UNKNOWN]);

const h = await grpcHarness({ engine: { maxSpaces: 50 } });
const raw = new Client(h.server.target, credentials.createInsecure());

function rawCall(method: string, body: Buffer, space?: string): Promise<number> {
  const metadata = new Metadata();
  if (space !== undefined) metadata.set('x-memory-space', space);
  return new Promise((resolve) => {
    raw.makeUnaryRequest(
      `/engram.v1.EngramService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      metadata,
      { deadline: Date.now() + 10_000 },
      (error) => resolve(error ? error.code : status.OK),
    );
  });
}

const oddString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('..', 'a/b', 'a\u0000b', 'default', 'ѕрасе', '', 'x'.repeat(5000)),
);
const oddNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, 2 ** 31, 1e300, Number.NaN, Number.POSITIVE_INFINITY),
);
const message = fc.record(
  {
    memory_space_id: oddString,
    id: oddString,
    memory_id: oddString,
    content: oddString,
    query: oddString,
    k: fc.integer({ min: -5, max: 2 ** 31 - 1 }),
    threshold: oddNumber,
    confidence: oddNumber,
    vector: fc.array(oddNumber, { maxLength: 8 }),
    tags: fc.array(oddString, { maxLength: 4 }),
    dimension: fc.integer({ min: -5, max: 100_000 }),
  },
  { requiredKeys: [] },
);

test('random bytes as any unary request get a chosen status, never INTERNAL or UNKNOWN', async () => {
  await h.client.remember({ memory_space_id: 'fuzz-g', id: 'seed', content: 'seed memory' });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...UNARY),
      fc.uint8Array({ maxLength: 256 }),
      fc.option(
        oddString.filter((s) => /^[\x20-\x7e]*$/.test(s)),
        { nil: undefined },
      ),
      async (method, bytes, space) => {
        const code = await rawCall(method, Buffer.from(bytes), space);
        assert.ok(!BAD_STATUSES.has(code), `${method} answered ${status[code]}`);
      },
    ),
    fuzzParameters('grpc random bytes', 800),
  );
});

test('random typed messages get a chosen status, and every space reopens cleanly afterwards', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...UNARY), message, async (method, fields) => {
      const call = (h.client as unknown as Record<string, (req: unknown) => Promise<unknown>>)[
        method.charAt(0).toLowerCase() + method.slice(1)
      ]!.bind(h.client);
      try {
        await call(fields);
      } catch (error) {
        // The client refusing to encode a value (e.g. a string where a number goes) is fine too.
        if (!(error instanceof EngramGrpcError)) return;
        assert.ok(
          !BAD_STATUSES.has(error.status),
          `${method}: ${error.statusName} ${error.message}`,
        );
      }
    }),
    fuzzParameters('grpc typed messages', 800),
  );
  assert.equal((await h.client.health({})).status !== undefined, true, 'still serving');
  const spaces = await h.registry.listSpaces({ counts: false });
  const dataRoot = h.registry.options.dataRoot;
  raw.close();
  h.client.close();
  await h.server.close();
  await h.registry.close();
  const reopened = await Registry.open({ dataRoot, maxSpaces: 50 });
  try {
    for (const { id } of spaces)
      assert.equal((await (await reopened.space(id)).stats()).state, 'open');
  } finally {
    await reopened.close();
  }
});
