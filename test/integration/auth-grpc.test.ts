/**
 * API keys over gRPC with auth_mode = "api_key": UNAUTHENTICATED with a code per cause,
 * PERMISSION_DENIED for a missing permission on every RPC, revocation on the next call,
 * rate limits answering RESOURCE_EXHAUSTED with retry-after-ms (per call, and per message of a
 * bidirectional stream), and the server refusing to listen beyond loopback without auth.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { EngramGrpcError, type GrpcClient } from '../../client/grpc-client.ts';
import { isEngramError } from '../../engine/index.ts';
import { PERMISSIONS } from '../../server/auth/api-key.ts';
import { assertSafeListen, isLoopbackHost } from '../../server/auth/listen-guard.ts';
import { GRPC_METHOD_POLICIES } from '../../server/auth/route-policy.ts';
import { resolveSpaceId } from '../../server/grpc/space-resolution.ts';
import { startServer } from '../../server/main.ts';
import { rejectsWith } from '../fixtures/grpc-harness.ts';
import { authWorld } from '../helpers/auth-fixture.ts';
import { runCli } from '../helpers/engram-cli.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const world = await authWorld();
const grpc = await world.grpc();

/** One cheap call of each RPC, on space alpha. */
async function callEach(client: GrpcClient, name: string): Promise<void> {
  const on = { memory_space_id: 'alpha' };
  switch (name) {
    case 'Remember':
      return void (await client.remember({ ...on, content: 'x' }));
    case 'Store':
      return void (await client.store({ ...on, episode: { what: 'x' } }));
    case 'Recall':
      return void (await client.recall({ ...on, query: 'x' }));
    case 'Forget':
      return void (await client.forget({ ...on, memory_id: 'nope' }));
    case 'GetMemory':
      return void (await client.getMemory({ ...on, memory_id: 'alpha-1' }));
    case 'CreateSpace':
      return void (await client.createSpace({ memory_space_id: 'alpha' }));
    case 'DeleteSpace':
      return void (await client.deleteSpace({ memory_space_id: 'nonexistent-space' }));
    case 'ListSpaces':
      return void (await client.listSpaces({}));
    case 'Health':
      return void (await client.health({}));
    case 'CreateApiKey':
      return void (await client.createApiKey({
        name: 'x',
        spaces: ['alpha'],
        permissions: ['read'],
      }));
    case 'ListApiKeys':
      return void (await client.listApiKeys());
    case 'RevokeApiKey':
      return void (await client.revokeApiKey({ id: '0123456789abcdef' }));
    case 'Stream': {
      const sub = client.stream(on);
      await sub.ready;
      sub.cancel();
      return;
    }
    default: {
      const stream =
        name === 'StreamingRemember' ? client.streamingRemember() : client.streamingRecall();
      stream.end();
      for await (const _ of stream as AsyncIterable<unknown>) void _;
    }
  }
}

describe('gRPC authentication', () => {
  test('missing, malformed, unknown, revoked: UNAUTHENTICATED with a code each', async () => {
    const cases: Array<[string | undefined, string]> = [
      [undefined, 'ENG_AUTH_REQUIRED'],
      ['not-a-key', 'ENG_AUTH_MALFORMED'],
      [`engram_${'0'.repeat(16)}_${'0'.repeat(64)}`, 'ENG_AUTH_KEY_UNKNOWN'],
    ];
    for (const [key, code] of cases) {
      const client = grpc.connect(key);
      await rejectsWith(client.recall({ memory_space_id: 'alpha', query: 'x' }), {
        status: status.UNAUTHENTICATED,
        code,
      });
      // Streams are refused before they start, the same way.
      await rejectsWith(callEach(client, 'Stream'), { status: status.UNAUTHENTICATED, code });
      await rejectsWith(callEach(client, 'StreamingRecall'), {
        status: status.UNAUTHENTICATED,
        code,
      });
    }
    const { token, id } = await world.key({ permissions: ['read'] });
    const client = grpc.connect(token);
    assert.equal(
      (await client.getMemory({ memory_space_id: 'alpha', memory_id: 'alpha-1' })).memory?.content,
      'alpha note one',
    );
    await world.store.revoke(id);
    await rejectsWith(client.getMemory({ memory_space_id: 'alpha', memory_id: 'alpha-1' }), {
      status: status.UNAUTHENTICATED,
      code: 'ENG_AUTH_KEY_REVOKED',
    });
  });

  test('every RPC needs its declared permission: PERMISSION_DENIED without it, served with it', async () => {
    for (const [name, policy] of Object.entries(GRPC_METHOD_POLICIES)) {
      const without = grpc.connect(
        (
          await world.key({
            spaces: ['*'],
            permissions: PERMISSIONS.filter((p) => p !== policy.permission),
          })
        ).token,
      );
      await rejectsWith(callEach(without, name), {
        status: status.PERMISSION_DENIED,
        code: 'ENG_AUTH_PERMISSION_DENIED',
      });
      const withIt = grpc.connect(
        (await world.key({ spaces: ['*'], permissions: [policy.permission] })).token,
      );
      try {
        await callEach(withIt, name);
      } catch (error) {
        // Answered by the handler (a memory that is not there, say), not refused by the guard.
        assert.ok(error instanceof EngramGrpcError, String(error));
        assert.ok(
          ![status.UNAUTHENTICATED, status.PERMISSION_DENIED].includes(error.status),
          `${name}: ${error.message}`,
        );
      }
    }
  });
});

test('the space resolvers refuse a call that never went through the guard (fail closed)', () => {
  assert.throws(
    () => resolveSpaceId(new Metadata(), ['alpha'], 'default'),
    /without an authorization check/,
  );
});

describe('gRPC rate limits', () => {
  test('the call past the limit gets RESOURCE_EXHAUSTED with retry-after-ms; other spaces keep theirs', async () => {
    const limited = await world.grpc({ rateLimitMax: 2, rateLimitWindowMs: 60_000 });
    const client = limited.connect(world.rootKey);
    for (let i = 0; i < 2; i++) await client.recall({ memory_space_id: 'alpha', query: 'x' });
    const error = await rejectsWith(client.recall({ memory_space_id: 'alpha', query: 'x' }), {
      status: status.RESOURCE_EXHAUSTED,
      code: 'ENG_RATE_LIMITED',
    });
    assert.ok(Number(error.metadata?.get('retry-after-ms')[0]) > 0);
    await client.recall({ memory_space_id: 'bravo', query: 'x' });
    // A bidirectional stream counts each message against the space it is routed to.
    const stream = client.streamingRecall();
    for (const id of ['1', '2', '3'])
      await stream.send({ correlation_id: id, memory_space_id: 'bravo', recall: { query: 'x' } });
    stream.end();
    const answers = [];
    for await (const message of stream) answers.push(message);
    const refused = answers.filter((m) => m.error?.code === 'ENG_RATE_LIMITED');
    assert.equal(refused.length, 2, JSON.stringify(answers));
    assert.equal(refused[0]!.error!.status, status.RESOURCE_EXHAUSTED);
  });
});

describe('listening beyond loopback', () => {
  test('auth_mode none refuses a non-loopback address unless insecure; api_key allows it', () => {
    for (const host of ['127.0.0.1', '127.8.0.1', '::1', '[::1]', 'localhost'])
      assert.ok(isLoopbackHost(host), host);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'example.com', ''])
      assert.ok(!isLoopbackHost(host), host);
    assert.throws(
      () => assertSafeListen(['127.0.0.1', '0.0.0.0'], { authMode: 'none', insecure: false }),
      /ENG_INSECURE_LISTEN|auth_mode/,
    );
    assertSafeListen(['0.0.0.0'], { authMode: 'none', insecure: true });
    assertSafeListen(['0.0.0.0'], { authMode: 'api_key', insecure: false });
  });

  test('engram start refuses 0.0.0.0 with auth_mode none, naming the fix', async () => {
    const dataRoot = await tempDir('engram-insecure-cli-');
    const args = 'start --host 0.0.0.0 --port 0 --grpc-port 0 --data-root'.split(' ');
    const result = await runCli([...args, dataRoot]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /ENG_INSECURE_LISTEN|auth_mode/);
    assert.match(result.stderr, /--insecure/);
  });

  test('startServer refuses before it opens anything', async () => {
    const dataRoot = await tempDir('engram-insecure-');
    await assert.rejects(
      startServer({
        engine: { dataRoot },
        host: '0.0.0.0',
        port: 0,
        grpcPort: 0,
        logLevel: 'silent',
      }),
      (error: unknown) => isEngramError(error, 'ENG_INSECURE_LISTEN'),
    );
    await assert.rejects(
      startServer({
        engine: { dataRoot },
        host: '127.0.0.1',
        grpcHost: '0.0.0.0',
        port: 0,
        grpcPort: 0,
        logLevel: 'silent',
      }),
      (error: unknown) => isEngramError(error, 'ENG_INSECURE_LISTEN'),
    );
  });
});
