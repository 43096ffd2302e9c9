/**
 * API keys and their file store: the token format, scrypt hashing (a secret is never stored),
 * input validation, expiry durations, the key file's atomic writes and locking, fresh reads
 * (another writer's revocation is seen at once), fail-closed parsing, and the registry not
 * mistaking the key directory for a space.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isEngramError, Registry } from '../../engine/index.ts';
import {
  expiryFromDuration,
  hashSecret,
  mintApiKey,
  parseToken,
  validateNewKey,
  verifySecret,
} from '../../server/auth/api-key.ts';
import { Authenticator } from '../../server/auth/authenticator.ts';
import { FileKeyStore } from '../../server/auth/file-key-store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const code = (expected: string) => (error: unknown) =>
  isEngramError(error) && error.code === expected;

test('a minted key: token engram_<id>_<secret>, only a scrypt hash stored, verified in constant time', async () => {
  const { record, token } = await mintApiKey({
    name: ' ci ',
    spaces: ['alpha'],
    permissions: ['read'],
  });
  const parsed = parseToken(token)!;
  assert.equal(parsed.id, record.id);
  assert.equal(record.name, 'ci');
  assert.ok(!JSON.stringify(record).includes(parsed.secret), 'the secret is stored');
  assert.equal(record.secret.algorithm, 'scrypt');
  assert.equal(await verifySecret(parsed.secret, record.secret), true);
  assert.equal(
    await verifySecret(
      parsed.secret.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')),
      record.secret,
    ),
    false,
  );
  // Two hashes of one secret differ (random salt).
  const [one, two] = await Promise.all([hashSecret('s'), hashSecret('s')]);
  assert.notEqual(one.hash, two.hash);
  for (const bad of [
    '',
    'engram_',
    `engram_${record.id}`,
    `engram_${record.id}_short`,
    token.toUpperCase(),
    `${token}x`,
  ]) {
    assert.equal(parseToken(bad), undefined, bad);
  }
});

test('new keys are validated: name, permissions, spaces or "*", expiry in the future', () => {
  const ok = { name: 'n', spaces: ['alpha'], permissions: ['read'] as const };
  assert.throws(() => validateNewKey({ ...ok, name: '  ' }), code('ENG_KEY_INVALID'));
  assert.throws(() => validateNewKey({ ...ok, name: 'x'.repeat(129) }), code('ENG_KEY_INVALID'));
  assert.throws(() => validateNewKey({ ...ok, permissions: [] }), code('ENG_KEY_INVALID'));
  assert.throws(
    () => validateNewKey({ ...ok, permissions: ['root' as 'read'] }),
    code('ENG_KEY_INVALID'),
  );
  assert.throws(() => validateNewKey({ ...ok, spaces: [] }), code('ENG_KEY_INVALID'));
  assert.throws(() => validateNewKey({ ...ok, spaces: ['*', 'alpha'] }), code('ENG_KEY_INVALID'));
  assert.throws(() => validateNewKey({ ...ok, spaces: ['../etc'] }), code('ENG_SPACE_ID_INVALID'));
  assert.throws(
    () => validateNewKey({ ...ok, expiresAt: '2001-01-01T00:00:00Z' }),
    code('ENG_KEY_INVALID'),
  );
  assert.throws(() => validateNewKey({ ...ok, expiresAt: 'tomorrow' }), code('ENG_KEY_INVALID'));
  assert.deepEqual(
    validateNewKey({ ...ok, spaces: ['alpha', 'alpha'], permissions: ['read', 'read'] }).spaces,
    ['alpha'],
  );
  assert.equal(expiryFromDuration('30d', 0), new Date(30 * 86_400_000).toISOString());
  assert.equal(expiryFromDuration('90m', 0), new Date(90 * 60_000).toISOString());
  for (const bad of ['0d', '30', '1y', '-1d', '1.5h', '9999999d']) {
    assert.throws(() => expiryFromDuration(bad), code('ENG_KEY_INVALID'), bad);
  }
});

test('the key file: atomic replace, a revocation by another store instance is read at once', async () => {
  const dir = await tempDir();
  const writer = FileKeyStore.forDataRoot(dir);
  const reader = FileKeyStore.forDataRoot(dir);
  assert.deepEqual(await reader.list(), []);
  const { record } = await mintApiKey({ name: 'a', spaces: ['*'], permissions: ['admin'] });
  await writer.add(record);
  assert.equal((await reader.get(record.id))?.revokedAt, null);
  await writer.revoke(record.id);
  assert.notEqual((await reader.get(record.id))?.revokedAt, null);
  await assert.rejects(writer.revoke('0123456789abcdef'), code('ENG_KEY_NOT_FOUND'));
  // Concurrent writers in one process: the lock serializes them, nothing is lost.
  const many = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      mintApiKey({ name: `k${i}`, spaces: ['*'], permissions: ['read'] }),
    ),
  );
  await Promise.all(many.map(({ record: r }) => writer.add(r)));
  assert.equal((await reader.list()).length, 9);
  const names = (await readFile(join(dir, '.keys', 'keys.json'), 'utf8')).match(/"name"/g)?.length;
  assert.equal(names, 9);
  assert.equal((await stat(writer.dir)).mode & 0o777, 0o700);
});

test('a lock left by a dead process is taken over; a corrupt file fails closed', async () => {
  const dir = await tempDir();
  const store = FileKeyStore.forDataRoot(dir);
  const { record, token } = await mintApiKey({ name: 'a', spaces: ['*'], permissions: ['read'] });
  await store.add(record);
  const dead = spawnSync(process.execPath, [
    '-e',
    'process.stdout.write(String(process.pid))',
  ]).stdout.toString();
  await writeFile(join(store.dir, 'keys.lock'), dead);
  await store.revoke(record.id);
  assert.notEqual((await store.get(record.id))?.revokedAt, null);

  await writeFile(store.path, '{"version": 1, "keys": [{"id": 5}]}');
  const auth = new Authenticator('api_key', store);
  await assert.rejects(auth.authenticate(`Bearer ${token}`), code('ENG_KEY_STORE_CORRUPT'));
  await writeFile(store.path, 'not json');
  await assert.rejects(store.list(), code('ENG_KEY_STORE_CORRUPT'));
});

test('the authenticator: each cause its own code; a key is refused after revocation, expiry checked on every call', async () => {
  const dir = await tempDir();
  const store = FileKeyStore.forDataRoot(dir);
  let now = Date.now();
  const auth = new Authenticator('api_key', store, () => now);
  const { record, token } = await mintApiKey({
    name: 'a',
    spaces: ['alpha'],
    permissions: ['read'],
    expiresAt: new Date(now + 60_000).toISOString(),
  });
  await store.add(record);
  assert.equal((await auth.authenticate(`Bearer ${token}`)).id, record.id);
  assert.equal((await auth.authenticate(`bearer   ${token}`)).id, record.id);
  await assert.rejects(auth.authenticate(undefined), code('ENG_AUTH_REQUIRED'));
  await assert.rejects(auth.authenticate(`Token ${token}`), code('ENG_AUTH_MALFORMED'));
  const access = await auth.access(`Bearer ${token}`, 'read');
  access.requireSpace('alpha');
  assert.throws(() => access.requireSpace('bravo'), code('ENG_AUTH_SPACE_DENIED'));
  assert.throws(() => access.requireAllSpaces(), code('ENG_AUTH_SPACE_DENIED'));
  await assert.rejects(auth.access(`Bearer ${token}`, 'write'), code('ENG_AUTH_PERMISSION_DENIED'));
  now += 60_001;
  await assert.rejects(auth.authenticate(`Bearer ${token}`), code('ENG_AUTH_KEY_EXPIRED'));
  now -= 60_001;
  await store.revoke(record.id);
  await assert.rejects(auth.authenticate(`Bearer ${token}`), code('ENG_AUTH_KEY_REVOKED'));
  // auth_mode none: everything is allowed, no key needed.
  const open = await Authenticator.none().access(undefined, 'admin');
  open.requireSpace('anything');
  open.requireAllSpaces();
});

test('the registry does not take the key directory for a space', async () => {
  const dataRoot = await tempDir();
  const { record } = await mintApiKey({ name: 'a', spaces: ['*'], permissions: ['read'] });
  await FileKeyStore.forDataRoot(dataRoot).add(record);
  const registry = await Registry.open({ dataRoot });
  try {
    assert.deepEqual(registry.discovery.skipped, []);
    assert.deepEqual(await registry.listSpaces(), []);
  } finally {
    await registry.close();
  }
});
