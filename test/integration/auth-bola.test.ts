/**
 * The BOLA matrix: a key for space alpha (read, write and admin there) against every HTTP
 * route and every RPC, aimed at space bravo by header, query, body, path, gRPC metadata,
 * message field, stream message, and by the id of one of bravo's memories. Every answer is a
 * refusal (403, or 404 for bravo's memory id routed to alpha), none carries bravo's content
 * or ids, and bravo is unchanged afterwards. The routes are enumerated from the fastify app and
 * the RPCs from the service definition, so a route or RPC added later without a sample here
 * (and a policy in server/auth/route-policy.ts) fails this file.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteOptions } from 'fastify';
import { declaredHttpPolicy, GRPC_METHOD_POLICIES } from '../../server/auth/route-policy.ts';
import { engramServiceDefinition } from '../../proto/engram/v1/engram-proto.ts';
import { EngramGrpcError, type GrpcClient } from '../../client/grpc-client.ts';
import type { StreamingRememberResponse } from '../../proto/engram/v1/messages.ts';
import { authWorld, BRAVO, BRAVO_LEAKS, type AuthWorld } from '../helpers/auth-fixture.ts';

interface Sample {
  url?: string;
  body?: Record<string, unknown>;
  raw?: { payload: string; type: string };
  /** The path names bravo's memory: also sent routed to alpha (expect 404). */
  byId?: boolean;
  /** The space is the path parameter or body id itself. */
  named?: boolean;
}

const T = BRAVO.targetId;

/** One request per route, aimed at bravo. */
function samples(world: AuthWorld): Record<string, Sample> {
  return {
    'POST /api/v1/memories/remember': { body: { content: 'planted by alpha' } },
    'POST /api/v1/memories/remember/batch': { body: { memories: [{ content: 'planted' }] } },
    'POST /api/v1/episodes/remember': { body: { what: 'planted episode' } },
    'GET /api/v1/memories/recall': { url: '/api/v1/memories/recall?query=vault%20code&k=50' },
    'POST /api/v1/memories/recall': { body: { query: 'vault code payroll', k: 50 } },
    'GET /api/v1/memories': { url: '/api/v1/memories?limit=1000' },
    'GET /api/v1/memories/:id': { url: `/api/v1/memories/${T}`, byId: true },
    'PATCH /api/v1/memories/:id': {
      url: `/api/v1/memories/${T}`,
      body: { confidence: 0.01 },
      byId: true,
    },
    'DELETE /api/v1/memories/:id': { url: `/api/v1/memories/${T}`, byId: true },
    'GET /api/v1/memories/:id/associations': {
      url: `/api/v1/memories/${T}/associations`,
      byId: true,
    },
    'POST /api/v1/memories/:id/associations': {
      url: `/api/v1/memories/${T}/associations`,
      body: { target_id: BRAVO.hiddenId },
      byId: true,
    },
    'GET /api/v1/stream/memories': {},
    'GET /api/v1/consolidations': {},
    'POST /api/v1/consolidations/run': { body: {} },
    'GET /api/v1/export': { url: '/api/v1/export?vectors=true' },
    'POST /api/v1/import': {
      raw: { payload: '{"id":"planted","content":"planted"}\n', type: 'application/x-ndjson' },
    },
    'GET /api/v1/spaces': {},
    'GET /api/v1/system/health': {},
    'GET /api/v1/spaces/:id': { url: '/api/v1/spaces/bravo', named: true },
    'DELETE /api/v1/spaces/:id': { url: '/api/v1/spaces/bravo', named: true },
    'POST /api/v1/spaces': { body: { id: 'bravo' }, named: true },
    'POST /api/v1/backups': { body: {} },
    'GET /api/v1/backups': {},
    'GET /api/v1/backups/:name': { url: `/api/v1/backups/${world.bravoBackup}` },
    'POST /api/v1/backups/:name/restore': {
      url: `/api/v1/backups/${world.bravoBackup}/restore`,
      body: { as: 'alpha-copy', force: true },
    },
    'POST /api/v1/backups/restore': {
      raw: { payload: 'not a backup', type: 'application/octet-stream' },
    },
    'GET /metrics': {},
    'GET /api/v1/keys': {},
    'POST /api/v1/keys': { body: { name: 'minted', spaces: ['*'], permissions: ['admin'] } },
    'DELETE /api/v1/keys/:id': { url: '/api/v1/keys/0123456789abcdef' },
    'GET /openapi.json': {},
    'GET /health': {},
    'GET /health/ready': {},
  };
}

function routeKey(route: { method: string | string[]; url: string }): string[] {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  return methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${route.url}`);
}

/** Every route of the app, as "METHOD url". */
function routesOf(app: { routesSeen: RouteOptions[] }): string[] {
  return [...new Set(app.routesSeen.flatMap(routeKey))].sort();
}

function sampleFor(all: Record<string, Sample>, key: string): Sample | undefined {
  if (all[key]) return all[key];
  const [method, url] = key.split(' ') as [string, string];
  // Swagger UI's files: one sample shape for all of them.
  if (method === 'GET' && url.startsWith('/docs')) return { url: url.replace('*', 'index.html') };
  return undefined;
}

interface Attempt {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

/** The ways a request of `key` can be aimed at bravo. */
function attempts(key: string, sample: Sample, token: string): Attempt[] {
  const [method, path] = key.split(' ') as [string, string];
  const url = sample.url ?? path;
  const auth = { authorization: `Bearer ${token}` };
  const json = (body: Record<string, unknown> | undefined) =>
    body === undefined ? {} : { payload: JSON.stringify(body) };
  const type: Record<string, string> = sample.raw
    ? { 'content-type': sample.raw.type }
    : sample.body
      ? { 'content-type': 'application/json' }
      : {};
  const base = { method, ...(sample.raw ? { payload: sample.raw.payload } : json(sample.body)) };
  const out: Attempt[] = [
    { label: 'header', ...base, url, headers: { ...auth, ...type, 'x-memory-space': BRAVO.space } },
    { label: 'query', ...base, url: withQuery(url, 'space=bravo'), headers: { ...auth, ...type } },
  ];
  if (sample.body && !sample.named) {
    for (const field of ['memory_space', 'memory_space_id']) {
      out.push({
        label: `body ${field}`,
        method,
        url,
        headers: { ...auth, ...type },
        ...json({ ...sample.body, [field]: BRAVO.space }),
      });
    }
  }
  // The path names bravo (its id, or one of its memories) while the request is routed to alpha.
  const routedToAlpha = { ...base, url, headers: { ...auth, ...type, 'x-memory-space': 'alpha' } };
  if (sample.named) out.push({ label: 'named, routed to alpha', ...routedToAlpha });
  if (sample.byId) out.push({ label: 'by id, routed to alpha', ...routedToAlpha });
  return out;
}

function assertNoLeak(where: string, text: string): void {
  for (const leak of BRAVO_LEAKS) assert.doesNotMatch(text, leak, `${where} leaked: ${text}`);
}

async function bravoSnapshot(world: AuthWorld) {
  const bravo = await world.registry.space(BRAVO.space);
  const page = await bravo.list({ limit: 100 });
  return {
    memories: page.memories.map((m) => ({
      id: m.id,
      content: m.content,
      confidence: m.confidence,
      suppressed: m.suppressed,
    })),
    links: await bravo.associations(BRAVO.targetId),
  };
}

describe('HTTP: a key for alpha gets nothing of bravo on any route', async () => {
  // Built here, not in before(): after() hooks registered inside a hook run when it ends.
  const world = await authWorld();
  const app = await world.http();

  test('every route of the app has a declared policy and a sample in this matrix', () => {
    const all = samples(world);
    const routes = routesOf(app);
    assert.ok(routes.length >= 30, `only ${routes.length} routes seen`);
    for (const key of routes) {
      const [method, url] = key.split(' ') as [string, string];
      assert.ok(
        declaredHttpPolicy(method, url),
        `${key} has no policy in server/auth/route-policy.ts`,
      );
      assert.ok(sampleFor(all, key), `${key} has no sample in the BOLA matrix`);
    }
  });

  test('every route aimed at bravo (header, query, body, path, memory id) is refused without a trace of bravo', async () => {
    const before = await bravoSnapshot(world);
    const all = samples(world);
    let refused = 0;
    for (const key of routesOf(app)) {
      const policy = declaredHttpPolicy(...(key.split(' ') as [string, string]))!;
      const sample = sampleFor(all, key)!;
      for (const attempt of attempts(key, sample, world.alphaKey)) {
        const response = await app.inject({
          method: attempt.method as 'GET',
          url: attempt.url,
          headers: attempt.headers,
          ...(attempt.payload === undefined ? {} : { payload: attempt.payload }),
        });
        const where = `${key} (${attempt.label})`;
        assertNoLeak(where, `${JSON.stringify(response.headers)}\n${response.body}`);
        if (policy.scope === 'public' || policy.scope === 'key' || policy.scope === 'listing') {
          // Not aimed at a space: answered, but a listing shows alpha only (checked below).
          assert.ok(response.statusCode !== 401, `${where}: ${response.statusCode}`);
          continue;
        }
        const { statusCode } = response;
        const code =
          statusCode >= 400
            ? (JSON.parse(response.body) as { error: { code: string } }).error.code
            : '';
        if (attempt.label.startsWith('by id')) {
          assert.equal(statusCode, 404, `${where}: ${statusCode} ${response.body}`);
        } else if (statusCode === 400) {
          // A channel this route does not take (an unknown body field, say): refused as malformed.
          assert.ok(
            attempt.label === 'query' || attempt.label.startsWith('body'),
            `${where}: 400 ${response.body}`,
          );
          assert.equal(code, 'ENG_REQUEST_INVALID', where);
        } else {
          assert.equal(statusCode, 403, `${where}: ${statusCode} ${response.body}`);
          assert.equal(code, 'ENG_AUTH_SPACE_DENIED', where);
          refused += 1;
        }
      }
    }
    assert.ok(refused >= 40, `only ${refused} refusals counted`);
    assert.deepEqual(await bravoSnapshot(world), before, 'bravo changed');
    assert.equal(await world.registry.hasSpace('alpha-copy'), false, 'a restore ran');
    assert.equal((await world.store.list()).length, 2, 'a key was minted or revoked');
  });

  test('listings show alpha only: spaces, system health, and health narrowed to bravo is refused', async () => {
    const headers = { authorization: `Bearer ${world.alphaKey}` };
    const spaces = await app.inject({ method: 'GET', url: '/api/v1/spaces', headers });
    assert.deepEqual(
      (JSON.parse(spaces.body) as { spaces: Array<{ id: string }> }).spaces.map((s) => s.id),
      ['alpha'],
    );
    const health = await app.inject({ method: 'GET', url: '/api/v1/system/health', headers });
    assert.deepEqual(
      (JSON.parse(health.body) as { spaces: Array<{ space: string }> }).spaces.map((s) => s.space),
      ['alpha'],
    );
    const narrowed = await app.inject({
      method: 'GET',
      url: '/api/v1/system/health?space=bravo',
      headers,
    });
    assert.equal(narrowed.statusCode, 403);
    assertNoLeak('health', narrowed.body);
    const root = await app.inject({
      method: 'GET',
      url: '/api/v1/spaces',
      headers: { authorization: `Bearer ${world.rootKey}` },
    });
    assert.deepEqual(
      (JSON.parse(root.body) as { spaces: Array<{ id: string }> }).spaces.map((s) => s.id).sort(),
      ['alpha', 'bravo'],
    );
  });

  test('a write aimed at a space that does not exist is refused before it creates the space', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/memories/remember',
      headers: { authorization: `Bearer ${world.alphaKey}`, 'x-memory-space': 'charlie' },
      payload: { content: 'x' },
    });
    assert.equal(response.statusCode, 403);
    assert.equal(await world.registry.hasSpace('charlie'), false);
  });
});

/** Calls one RPC; resolves with the gRPC status (0 OK) and everything the client saw. */
async function callRpc(
  client: GrpcClient,
  name: string,
  request: Record<string, unknown>,
  options: { space?: string },
): Promise<{ status: number; code: string; text: string }> {
  try {
    const lower = name[0]!.toLowerCase() + name.slice(1);
    if (name === 'Stream') {
      const sub = client.stream(request, options);
      await sub.ready;
      sub.cancel();
      return { status: 0, code: '', text: '' };
    }
    if (name.startsWith('Streaming')) {
      const stream =
        name === 'StreamingRemember'
          ? client.streamingRemember(options)
          : client.streamingRecall(options);
      await stream.send(request);
      stream.end();
      const out: unknown[] = [];
      for await (const message of stream as AsyncIterable<unknown>) out.push(message);
      const first = out[0] as { error?: { status: number; code: string } } | undefined;
      return {
        status: first?.error?.status ?? 0,
        code: first?.error?.code ?? '',
        text: JSON.stringify(out),
      };
    }
    const response = await (
      client as unknown as Record<string, (r: unknown, o: unknown) => Promise<unknown>>
    )[lower]!(request, options);
    return { status: 0, code: '', text: JSON.stringify(response) };
  } catch (error) {
    if (!(error instanceof EngramGrpcError)) throw error;
    return {
      status: error.status,
      code: error.code ?? '',
      text: `${error.message} ${JSON.stringify(error.metadata?.getMap() ?? {})}`,
    };
  }
}

/** One message per RPC aimed at bravo by its field (metadata variants are added by the test). */
const RPC_SAMPLES: Record<string, { request: Record<string, unknown>; byId?: boolean }> = {
  Remember: { request: { memory_space_id: 'bravo', content: 'planted' } },
  Store: {
    request: { memory_space_id: 'bravo', episode: { memory_space_id: 'bravo', what: 'planted' } },
  },
  Recall: { request: { memory_space_id: 'bravo', query: 'vault code payroll', k: 50 } },
  Forget: { request: { memory_space_id: 'bravo', memory_id: T }, byId: true },
  GetMemory: { request: { memory_space_id: 'bravo', memory_id: T }, byId: true },
  StreamingRemember: {
    request: { memory_space_id: 'bravo', correlation_id: 'c', memory: { content: 'planted' } },
  },
  StreamingRecall: {
    request: { memory_space_id: 'bravo', correlation_id: 'c', recall: { query: 'vault', k: 50 } },
  },
  Stream: { request: { memory_space_id: 'bravo' } },
  CreateSpace: { request: { memory_space_id: 'bravo' } },
  DeleteSpace: { request: { memory_space_id: 'bravo' } },
  ListSpaces: { request: {} },
  Health: { request: {} },
  CreateApiKey: { request: { name: 'minted', spaces: ['*'], permissions: ['admin'] } },
  ListApiKeys: { request: {} },
  RevokeApiKey: { request: { id: '0123456789abcdef' } },
};

describe('gRPC: a key for alpha gets nothing of bravo from any RPC', async () => {
  const world = await authWorld();
  const alpha = (await world.grpc()).connect(world.alphaKey);

  test('every RPC has a declared policy and a sample in this matrix', () => {
    for (const name of Object.keys(engramServiceDefinition())) {
      assert.ok(GRPC_METHOD_POLICIES[name], `${name} has no policy`);
      assert.ok(RPC_SAMPLES[name], `${name} has no sample in the BOLA matrix`);
    }
  });

  test('every RPC aimed at bravo (message field, metadata, stream message, memory id) is refused', async () => {
    const before = await bravoSnapshot(world);
    for (const [name, sample] of Object.entries(RPC_SAMPLES)) {
      const listing = GRPC_METHOD_POLICIES[name]!.scope === 'listing';
      const variants: Array<[string, Record<string, unknown>, { space?: string }]> = [
        ['message field', sample.request, {}],
        ['metadata', { ...sample.request, memory_space_id: undefined }, { space: 'bravo' }],
      ];
      if (listing) variants.push(['narrowed', { memory_space_id: 'bravo' }, {}]);
      if (sample.byId)
        variants.push([
          'by id, routed to alpha',
          { ...sample.request, memory_space_id: 'alpha' },
          {},
        ]);
      for (const [label, request, options] of variants) {
        const where = `${name} (${label})`;
        const result = await callRpc(alpha, name, request, options);
        assertNoLeak(where, result.text);
        if (listing && label === 'message field') {
          assert.equal(result.status, 0, where);
          assert.doesNotMatch(result.text, /bravo/, `${where} listed bravo: ${result.text}`);
        } else if (label.startsWith('by id')) {
          assert.equal(result.status, 5, `${where}: ${result.status} ${result.text}`);
        } else {
          assert.equal(
            result.status,
            7,
            `${where}: ${result.status} ${result.code} ${result.text}`,
          );
          assert.equal(result.code, 'ENG_AUTH_SPACE_DENIED', where);
        }
      }
    }
    assert.deepEqual(await bravoSnapshot(world), before, 'bravo changed');
  });

  test('a stream message naming bravo is refused on its own; the stream goes on for alpha', async () => {
    const stream = alpha.streamingRemember();
    await stream.send({
      correlation_id: '1',
      memory: { memory_space_id: 'bravo', content: 'planted' },
    });
    await stream.send({
      correlation_id: '2',
      memory_space_id: 'alpha',
      memory: { content: 'alpha write' },
    });
    await stream.send({
      correlation_id: '3',
      episode: { memory_space_id: 'alpha', episode: { memory_space_id: 'bravo', what: 'x' } },
    });
    stream.end();
    const answers = new Map<string, StreamingRememberResponse>();
    for await (const message of stream) answers.set(message.correlation_id!, message);
    assert.equal(answers.get('1')?.error?.code, 'ENG_AUTH_SPACE_DENIED');
    assert.equal(answers.get('2')?.error, undefined);
    assert.equal(answers.get('2')?.memory_space_id, 'alpha');
    // Two spaces in one message is ambiguous: refused either way, never routed to bravo.
    assert.ok(answers.get('3')?.error, JSON.stringify(answers.get('3')));
    assertNoLeak('stream', JSON.stringify([...answers.values()]));
  });

  test("an alpha event stream carries alpha's events only, even while bravo is written", async () => {
    const sub = alpha.stream({ memory_space_id: 'alpha' });
    await sub.ready;
    const bravo = await world.registry.space(BRAVO.space);
    await bravo.remember({ id: 'bravo-live', content: 'BRAVO-SECRET live write' });
    await (
      await world.registry.space('alpha')
    ).remember({ id: 'alpha-live', content: 'alpha live' });
    const seen: string[] = [];
    for await (const event of sub) {
      seen.push(JSON.stringify(event));
      if (JSON.stringify(event).includes('alpha-live')) break;
    }
    sub.cancel();
    for (const text of seen) {
      assertNoLeak('event', text);
      assert.doesNotMatch(text, /bravo/, text);
    }
  });
});
