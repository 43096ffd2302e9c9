/**
 * API keys over HTTP with auth_mode = "api_key": each way of failing authentication has its
 * own 401 code, distinct from the 403s; expiry and revocation (through the admin route, through
 * another process's store, and through the `engram keys` CLI) apply on the next request; every
 * route needs exactly its declared permission; the admin key routes; a route that reaches a
 * space without checking it fails closed; security headers, CORS and rate limits.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { mintApiKey, PERMISSIONS, type Permission } from '../../server/auth/api-key.ts';
import { FileKeyStore } from '../../server/auth/file-key-store.ts';
import { installHttpAuth } from '../../server/auth/http-auth.ts';
import { declaredHttpPolicy } from '../../server/auth/route-policy.ts';
import { toHttpError } from '../../server/errors.ts';
import { authWorld } from '../helpers/auth-fixture.ts';
import { runCli } from '../helpers/engram-cli.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startServer } from '../../server/main.ts';

const world = await authWorld();
const app = await world.http();

async function get(
  target: FastifyInstance,
  url: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  code: string | undefined;
  headers: Record<string, unknown>;
  body: any;
}> {
  const response = await target.inject({ method: 'GET', url, headers });
  const body: any = response.body === '' ? undefined : JSON.parse(response.body);
  return { status: response.statusCode, code: body?.error?.code, headers: response.headers, body };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'x-memory-space': 'alpha' });

describe('authentication: 401 with a code per cause, distinct from 403', () => {
  test('missing, malformed, unknown, wrong secret: each its own 401 code; /health needs no key', async () => {
    const [, id, secret] = /^engram_([0-9a-f]{16})_([0-9a-f]{64})$/.exec(world.alphaKey)!;
    const wrongSecret = `engram_${id}_${secret!.replace(/^./, (c) => (c === '0' ? '1' : '0'))}`;
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'ENG_AUTH_REQUIRED'],
      [{ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, 'ENG_AUTH_MALFORMED'],
      [{ authorization: 'Bearer not-an-engram-key' }, 'ENG_AUTH_MALFORMED'],
      [{ authorization: world.alphaKey }, 'ENG_AUTH_MALFORMED'],
      [
        { authorization: `Bearer engram_${'0'.repeat(16)}_${'0'.repeat(64)}` },
        'ENG_AUTH_KEY_UNKNOWN',
      ],
      [{ authorization: `Bearer ${wrongSecret}` }, 'ENG_AUTH_KEY_UNKNOWN'],
    ];
    for (const [headers, code] of cases) {
      const response = await get(app, '/api/v1/memories', {
        ...headers,
        'x-memory-space': 'alpha',
      });
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.equal(response.code, code, JSON.stringify(headers));
    }
    assert.equal((await get(app, '/health')).status, 200);
    assert.equal((await get(app, '/health/ready')).status, 200);
    const ok = await get(app, '/api/v1/memories', bearer(world.alphaKey));
    assert.equal(ok.status, 200);
    assert.deepEqual(
      ok.body.memories.map((m: { id: string }) => m.id),
      ['alpha-1'],
    );
    const forbidden = await get(app, '/api/v1/memories', {
      ...bearer(world.alphaKey),
      'x-memory-space': 'bravo',
    });
    assert.deepEqual([forbidden.status, forbidden.code], [403, 'ENG_AUTH_SPACE_DENIED']);
  });

  test('an expired key is refused with ENG_AUTH_KEY_EXPIRED from the moment it expires', async () => {
    const { record, token } = await mintApiKey({
      name: 'short',
      spaces: ['alpha'],
      permissions: ['read'],
      expiresAt: new Date(Date.now() + 1500).toISOString(),
    });
    await world.store.add(record);
    assert.equal((await get(app, '/api/v1/memories', bearer(token))).status, 200);
    await sleep(Date.parse(record.expiresAt!) - Date.now() + 50);
    const expired = await get(app, '/api/v1/memories', bearer(token));
    assert.deepEqual([expired.status, expired.code], [401, 'ENG_AUTH_KEY_EXPIRED']);
  });

  test('revocation through the admin route applies to the very next request', async () => {
    const { token, id } = await world.key({ permissions: ['read'] });
    assert.equal((await get(app, '/api/v1/memories', bearer(token))).status, 200);
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/api/v1/keys/${id}`,
      headers: { authorization: `Bearer ${world.rootKey}` },
    });
    assert.equal(revoked.statusCode, 200, revoked.body);
    const after = await get(app, '/api/v1/memories', bearer(token));
    assert.deepEqual([after.status, after.code], [401, 'ENG_AUTH_KEY_REVOKED']);
  });

  test('revocation by another process (its own store on the same file) applies at once', async () => {
    const { token, id } = await world.key({ permissions: ['read'] });
    assert.equal((await get(app, '/api/v1/memories', bearer(token))).status, 200);
    await new FileKeyStore(world.store.dir).revoke(id);
    const after = await get(app, '/api/v1/memories', bearer(token));
    assert.deepEqual([after.status, after.code], [401, 'ENG_AUTH_KEY_REVOKED']);
  });

  test('engram keys create / list / revoke on the data root: the server follows at once', async () => {
    const cli = async (...args: string[]) => {
      const result = await runCli(['keys', ...args, '--data-root', world.dataRoot]);
      if (result.code !== 0) throw new Error(`engram keys ${args[0]}: ${result.stderr}`);
      return result;
    };
    const created = await cli(
      'create',
      '--name',
      'from-cli',
      '--spaces',
      'alpha',
      '--permissions',
      'read',
      '--expires',
      '1d',
    );
    const token = created.stdout.trim();
    assert.match(token, /^engram_[0-9a-f]{16}_[0-9a-f]{64}$/);
    assert.match(created.stderr, /shown only now/);
    assert.equal((await get(app, '/api/v1/memories', bearer(token))).status, 200);
    const listed = JSON.parse((await cli('list', '--json')).stdout) as Array<
      Record<string, unknown>
    >;
    const mine = listed.find((key) => key.name === 'from-cli')!;
    assert.deepEqual(mine.spaces, ['alpha']);
    assert.ok(!JSON.stringify(listed).includes(token.slice(24)), 'the list shows a secret');
    assert.ok(!('secret' in mine) && !JSON.stringify(listed).includes('salt'));
    await cli('revoke', String(mine.id));
    const after = await get(app, '/api/v1/memories', bearer(token));
    assert.deepEqual([after.status, after.code], [401, 'ENG_AUTH_KEY_REVOKED']);
    await assert.rejects(
      cli('create', '--name', 'x', '--spaces', 'alpha', '--permissions', 'read,root'),
      /root/,
    );
  });
});

describe('authorization: every route needs exactly its declared permission', async () => {
  const routes = [
    ...new Set(
      app.routesSeen.flatMap((r: RouteOptions) =>
        (Array.isArray(r.method) ? r.method : [r.method])
          .filter((m) => m !== 'HEAD')
          .map((m) => `${m} ${r.url}`),
      ),
    ),
  ];
  await world.registry.createSpace('scratch', { embedder: 'hash' });
  const keyFor = async (permissions: Permission[]) =>
    (await world.key({ spaces: ['*'], permissions })).token;

  /** The route's path filled in, aimed at space scratch. */
  const onScratch = (url: string, token: string) => ({
    url: url
      .replace(':id', 'scratch')
      .replace(':name', world.bravoBackup)
      .replace('*', 'index.html'),
    headers: { ...bearer(token), 'x-memory-space': 'scratch' },
  });

  test('a key without the permission gets 403 ENG_AUTH_PERMISSION_DENIED on every route', async () => {
    for (const route of routes) {
      const [method, url] = route.split(' ') as [string, string];
      const policy = declaredHttpPolicy(method, url)!;
      if (policy.scope === 'public') continue;
      const token = await keyFor(PERMISSIONS.filter((p) => p !== policy.permission));
      const response = await app.inject({
        method: method as 'GET',
        ...onScratch(url, token),
      });
      assert.equal(response.statusCode, 403, `${route}: ${response.body}`);
      assert.equal(JSON.parse(response.body).error.code, 'ENG_AUTH_PERMISSION_DENIED', route);
    }
  });

  test('a key with only that permission passes authorization on every route', async () => {
    const sse = 'GET /api/v1/stream/memories'; // an open stream: checked by the BOLA matrix instead
    for (const route of routes
      .filter((r) => r !== sse)
      .sort((a, b) => (a.startsWith('DELETE') ? 1 : 0) - (b.startsWith('DELETE') ? 1 : 0))) {
      const [method, url] = route.split(' ') as [string, string];
      const policy = declaredHttpPolicy(method, url)!;
      const token = await keyFor([policy.permission]);
      const body = method === 'POST' || method === 'PATCH' ? { payload: {} } : {};
      const response = await app.inject({
        method: method as 'GET',
        ...onScratch(url, token),
        ...body,
      });
      assert.ok(
        ![401, 403].includes(response.statusCode),
        `${route}: ${response.statusCode} ${response.body}`,
      );
    }
  });

  test('a space route that never checks its space answers 500, never the data', async () => {
    const bare = Fastify();
    bare.setErrorHandler((error, _request, reply) => {
      const mapped = toHttpError(error);
      return reply.status(mapped.status).send(mapped.body);
    });
    installHttpAuth(bare, world.auth);
    bare.get('/leaky', { config: { access: { permission: 'read', scope: 'space' } } }, () => ({
      secret: 'x',
    }));
    const checked = await get(bare, '/leaky', bearer(world.alphaKey));
    assert.equal(checked.status, 500);
    assert.equal(checked.body.secret, undefined);
    assert.equal((await get(bare, '/leaky')).status, 401);
    await bare.close();
  });
});

describe('the key routes', () => {
  test('an admin key for every space creates, lists and revokes keys; the token is shown once', async () => {
    const root = { authorization: `Bearer ${world.rootKey}` };
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: root,
      payload: { name: 'via-api', spaces: ['alpha'], permissions: ['read'], expires_in: '2h' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { key, id, expires_at: expiresAt } = JSON.parse(created.body);
    assert.ok(Math.abs(Date.parse(expiresAt) - Date.now() - 2 * 3_600_000) < 60_000);
    assert.equal((await get(app, '/api/v1/memories', bearer(key))).status, 200);
    const listed = await get(app, '/api/v1/keys', root);
    const entry = listed.body.keys.find((k: { id: string }) => k.id === id);
    assert.equal(entry.name, 'via-api');
    assert.doesNotMatch(JSON.stringify(listed.body), /salt|hash|engram_[0-9a-f]{16}_/);
    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: root,
      payload: { name: 'x', spaces: ['alpha', '*'], permissions: ['read'] },
    });
    assert.equal(JSON.parse(bad.body).error.code, 'ENG_KEY_INVALID');
    const missing = await app.inject({
      method: 'DELETE',
      url: '/api/v1/keys/ffffffffffffffff',
      headers: root,
    });
    assert.deepEqual(
      [missing.statusCode, JSON.parse(missing.body).error.code],
      [404, 'ENG_KEY_NOT_FOUND'],
    );
  });
});

describe('headers, CORS and rate limits', () => {
  test('security headers on every answer; no CORS headers unless origins are configured', async () => {
    const response = await get(app, '/health', { origin: 'https://evil.example' });
    assert.equal(response.headers['access-control-allow-origin'], undefined);
    // helmet's default policy, on answers, refusals (no key) and unknown routes alike.
    const refused = await get(app, '/api/v1/spaces');
    const unknown = await get(app, '/no/such/route', bearer(world.alphaKey));
    assert.deepEqual([refused.status, unknown.status], [401, 404]);
    for (const answer of [response, refused, unknown]) {
      const h = answer.headers;
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(h['x-frame-options'], 'SAMEORIGIN');
      assert.equal(h['referrer-policy'], 'no-referrer');
      assert.equal(h['cross-origin-opener-policy'], 'same-origin');
      assert.equal(h['cross-origin-resource-policy'], 'same-origin');
      assert.equal(h['strict-transport-security'], 'max-age=31536000; includeSubDomains');
      assert.match(String(h['content-security-policy']), /^default-src 'self';.*object-src 'none'/);
    }
    const withCors = await world.http({ corsOrigins: ['https://app.example'] });
    const allowed = await get(withCors, '/health', { origin: 'https://app.example' });
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
    const other = await get(withCors, '/health', { origin: 'https://evil.example' });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    // The preflight carries no key and must not need one; the real request still does.
    const preflight = await withCors.inject({
      method: 'OPTIONS',
      url: '/api/v1/memories',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization,x-memory-space',
      },
    });
    assert.equal(preflight.statusCode, 204, preflight.body);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
    const anyOrigin = await world.http({ corsOrigins: ['*'] });
    const any = await get(anyOrigin, '/health', { origin: 'https://elsewhere.example' });
    assert.equal(any.headers['access-control-allow-origin'], '*');
    const unauthenticated = await get(withCors, '/api/v1/memories', {
      origin: 'https://app.example',
    });
    assert.equal(unauthenticated.status, 401);
  });

  test('rate limit per key and space: the request past the limit gets 429 with Retry-After', async () => {
    const limited = await world.http({ rateLimitMax: 3, rateLimitWindowMs: 60_000 });
    const other = await world.key({ spaces: ['*'], permissions: ['read'] });
    const ask2 = (target: FastifyInstance) =>
      get(target, '/api/v1/memories', bearer(world.alphaKey));
    const ask = (token: string, space: string) =>
      get(limited, '/api/v1/memories', { ...bearer(token), 'x-memory-space': space });
    for (let i = 0; i < 3; i++) assert.equal((await ask(other.token, 'alpha')).status, 200);
    const over = await ask(other.token, 'alpha');
    assert.deepEqual([over.status, over.code], [429, 'ENG_RATE_LIMITED']);
    assert.ok(Number(over.headers['retry-after']) > 0, JSON.stringify(over.headers));
    // Another space of the same key, and another key on the same space, have their own budgets.
    assert.equal((await ask(other.token, 'bravo')).status, 200);
    assert.equal((await ask(world.rootKey, 'alpha')).status, 200);
    // The window passes: the budget is back.
    const short = await world.http({ rateLimitMax: 1, rateLimitWindowMs: 300 });
    assert.equal((await ask2(short)).status, 200);
    assert.equal((await ask2(short)).status, 429);
    await sleep(400);
    assert.equal((await ask2(short)).status, 200);
    // /health is never limited.
    for (let i = 0; i < 5; i++) assert.equal((await get(limited, '/health')).status, 200);
  });
});

describe('engram start with auth_mode = "api_key"', () => {
  test('client commands send ENGRAM_API_KEY; without it they get the 401', async () => {
    const dataRoot = await tempDir('engram-auth-start-');
    const store = FileKeyStore.forDataRoot(dataRoot);
    const { record, token } = await mintApiKey({
      name: 'cli',
      spaces: ['notes'],
      permissions: ['read', 'admin'],
    });
    await store.add(record);
    const server = await startServer({
      engine: { dataRoot },
      host: '127.0.0.1',
      port: 0,
      grpcPort: 0,
      logLevel: 'silent',
      security: { authMode: 'api_key' },
    });
    try {
      await server.engine.createSpace('notes', {});
      await server.engine.createSpace('hidden', {});
      const env = { ENGRAM_URL: server.url };
      const listed = await runCli(['space', 'list', '--json'], {
        env: { ...env, ENGRAM_API_KEY: token },
      });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(
        JSON.parse(listed.stdout).map((s: { id: string }) => s.id),
        ['notes'],
      );
      const refused = await runCli(['space', 'list'], { env });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /ENG_AUTH_REQUIRED|API key/);
      // The streaming commands (backups, export, import) send the key too.
      const keyed = { env: { ...env, ENGRAM_API_KEY: token } };
      const backup = await runCli(['backup', 'create', '--space', 'notes', '--json'], keyed);
      assert.equal(backup.code, 0, backup.stderr);
      const exported = await runCli(['export', '--space', 'notes'], keyed);
      assert.equal(exported.code, 0, exported.stderr);
      const unkeyed = await runCli(['export', '--space', 'notes'], { env });
      assert.notEqual(unkeyed.code, 0);
      assert.match(unkeyed.stderr, /ENG_AUTH_REQUIRED|API key/);
    } finally {
      await server.stop();
    }
  });
});
