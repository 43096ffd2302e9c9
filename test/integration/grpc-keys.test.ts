/**
 * Key administration over gRPC (CreateApiKey, ListApiKeys, RevokeApiKey) with auth_mode =
 * "api_key": the RPCs do what /api/v1/keys does, a revocation is refused from the next call on,
 * and only a key with admin on every space may use them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { rejectsWith } from '../fixtures/grpc-harness.ts';
import { authWorld } from '../helpers/auth-fixture.ts';

const world = await authWorld();
const grpc = await world.grpc();
const root = grpc.connect(world.rootKey);

describe('gRPC key administration', () => {
  test('create answers the token once; list shows the key without it; the token works', async () => {
    const created = await root.createApiKey({
      name: 'reader',
      spaces: ['alpha'],
      permissions: ['read'],
      expires_in: '1d',
    });
    assert.match(created.key ?? '', /^engram_[0-9a-f]{16}_[0-9a-f]{64}$/);
    const id = created.api_key?.id;
    assert.equal(created.key?.split('_')[1], id);
    assert.deepEqual(created.api_key?.spaces, ['alpha']);
    assert.deepEqual(created.api_key?.permissions, ['read']);
    assert.ok((created.api_key?.expires_at?.seconds ?? 0) > Date.now() / 1000);
    assert.ok(!created.api_key?.revoked_at, 'a new key is not revoked');

    const listed = (await root.listApiKeys()).keys ?? [];
    const mine = listed.find((key) => key.id === id);
    assert.equal(mine?.name, 'reader');
    assert.doesNotMatch(JSON.stringify(listed), /engram_[0-9a-f]{16}_|hash|salt/);
    // The same key, seen by the HTTP side's store.
    assert.equal((await world.store.get(id!))?.name, 'reader');

    const reader = grpc.connect(created.key);
    const answer = await reader.recall({ memory_space_id: 'alpha', query: 'alpha note' });
    assert.ok((answer.memories ?? []).length > 0);
  });

  test('a revoked key is refused on its very next call', async () => {
    const created = await root.createApiKey({
      name: 'short-lived',
      spaces: ['alpha'],
      permissions: ['read'],
    });
    const client = grpc.connect(created.key);
    await client.recall({ memory_space_id: 'alpha', query: 'x' });
    const revoked = await root.revokeApiKey({ id: created.api_key!.id! });
    assert.ok((revoked.api_key?.revoked_at?.seconds ?? 0) > 0);
    await rejectsWith(client.recall({ memory_space_id: 'alpha', query: 'x' }), {
      status: status.UNAUTHENTICATED,
      code: 'ENG_AUTH_KEY_REVOKED',
    });
    const listed = (await root.listApiKeys()).keys ?? [];
    assert.ok(listed.find((key) => key.id === created.api_key!.id)?.revoked_at);
  });

  test('bad input: INVALID_ARGUMENT or NOT_FOUND with the same codes as HTTP', async () => {
    const invalid = { status: status.INVALID_ARGUMENT, code: 'ENG_KEY_INVALID' };
    await rejectsWith(
      root.createApiKey({ name: 'x', spaces: ['alpha'], permissions: ['root'] }),
      invalid,
    );
    await rejectsWith(
      root.createApiKey({ name: '', spaces: ['alpha'], permissions: ['read'] }),
      invalid,
    );
    await rejectsWith(root.createApiKey({ name: 'x', spaces: ['../etc'], permissions: ['read'] }), {
      status: status.INVALID_ARGUMENT,
    });
    await rejectsWith(
      root.createApiKey({
        name: 'x',
        spaces: ['alpha'],
        permissions: ['read'],
        expires_in: '1d',
        expires_at: { seconds: Math.floor(Date.now() / 1000) + 3600 },
      }),
      invalid,
    );
    await rejectsWith(
      root.createApiKey({
        name: 'x',
        spaces: ['alpha'],
        permissions: ['read'],
        expires_at: { seconds: 1 },
      }),
      invalid,
    );
    for (const id of ['0123456789abcdef', 'nope', '']) {
      await rejectsWith(root.revokeApiKey({ id }), {
        status: status.NOT_FOUND,
        code: 'ENG_KEY_NOT_FOUND',
      });
    }
  });

  test('keys without admin, or with admin on some spaces only, get PERMISSION_DENIED', async () => {
    const writer = grpc.connect(
      (await world.key({ spaces: ['*'], permissions: ['read', 'write'] })).token,
    );
    const alphaAdmin = grpc.connect(world.alphaKey);
    const before = (await world.store.list()).length;
    for (const [client, code] of [
      [writer, 'ENG_AUTH_PERMISSION_DENIED'],
      [alphaAdmin, 'ENG_AUTH_SPACE_DENIED'],
    ] as const) {
      const denied = { status: status.PERMISSION_DENIED, code };
      await rejectsWith(client.listApiKeys(), denied);
      await rejectsWith(
        client.createApiKey({ name: 'x', spaces: ['*'], permissions: ['admin'] }),
        denied,
      );
      await rejectsWith(client.revokeApiKey({ id: world.rootKey.split('_')[1]! }), denied);
    }
    assert.equal((await world.store.list()).length, before, 'a refused call changed the store');
    // The root key was not revoked by the refused calls.
    await root.listApiKeys();
  });
});
