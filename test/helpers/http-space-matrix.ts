/**
 * The HTTP space matrix, run on every backend (test/integration/http-api.test.ts on LMDB,
 * test/integration/postgres-http.test.ts on PGlite + pgvector): a space is resolved from the
 * header, then the query, then the body, then the default, on every route; nothing written in one
 * space is visible, changeable or deletable from another.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpSettings } from '../../server/http/context.ts';
import type { EngineApi } from './http.ts';

const A = { 'x-memory-space': 'tenant-a' };
const B = { 'x-memory-space': 'tenant-b' };

/** Every combination of the three places a space can be named, and the one that must win. */
const SOURCES = ['header', 'query', 'body'] as const;
type Source = (typeof SOURCES)[number];
const NAME: Record<Source, string> = { header: 'via-header', query: 'via-query', body: 'via-body' };

function combinations(withBody: boolean): Array<{ used: Source[]; expected: string }> {
  const usable = SOURCES.filter((s) => withBody || s !== 'body');
  const out: Array<{ used: Source[]; expected: string }> = [];
  for (let mask = 0; mask < 1 << usable.length; mask++) {
    const used = usable.filter((_, i) => mask & (1 << i));
    out.push({ used, expected: used.length === 0 ? 'default' : NAME[used[0]!] });
  }
  return out;
}

function request(used: Source[], path: string, body?: Record<string, unknown>) {
  const headers: Record<string, string> = used.includes('header')
    ? { 'x-memory-space': NAME.header }
    : {};
  const url = used.includes('query')
    ? `${path}${path.includes('?') ? '&' : '?'}space=${NAME.query}`
    : path;
  const payload =
    body === undefined
      ? undefined
      : { ...body, ...(used.includes('body') ? { memory_space: NAME.body } : {}) };
  return { url, headers, payload };
}

/** Seeds memory "same" (and "other") in every space, each saying which space it is in. */
async function seed(api: EngineApi): Promise<void> {
  for (const space of ['default', ...Object.values(NAME)]) {
    await api.engine.createSpace(space, { embedder: 'hash' });
    const handle = await api.engine.space(space);
    await handle.remember({ id: 'same', content: `held by ${space}` });
    await handle.remember({ id: 'other', content: `second of ${space}` });
  }
}

export function spaceMatrixTests(
  backend: string,
  makeApi: (settings?: Partial<HttpSettings>) => Promise<EngineApi>,
): void {
  test(`${backend}: nothing written in space A is visible, changeable or deletable from space B on any route`, async () => {
    const api = await makeApi();
    const secret = 'tenant A secret: the launch code is 0000';
    const stored = await api.call('POST', '/api/v1/memories/remember', {
      headers: A,
      body: { id: 'shared-id', content: secret, tags: ['secret'] },
    });
    assert.equal(stored.status, 201);
    const other = await api.call('POST', '/api/v1/memories/remember', {
      headers: A,
      body: { id: 'a-2', content: 'another A memory' },
    });
    assert.equal(other.status, 201);
    await api.call('POST', '/api/v1/memories/shared-id/associations', {
      headers: A,
      body: { target_id: 'a-2' },
    });
    await api.call('POST', '/api/v1/memories/remember', {
      headers: B,
      body: { id: 'b-only', content: 'tenant B note' },
    });

    const fromB = [
      await api.call('GET', '/api/v1/memories/recall?query=launch%20code&k=50', { headers: B }),
      await api.call('POST', '/api/v1/memories/recall', {
        headers: B,
        body: { query: 'launch code secret', k: 50, include_suppressed: true },
      }),
      await api.call('POST', '/api/v1/memories/recall', {
        headers: B,
        body: { query: 'launch', filters: { tags: ['secret'] } },
      }),
      await api.call('GET', '/api/v1/memories?limit=1000', { headers: B }),
      await api.call('GET', '/api/v1/memories/shared-id', { headers: B }),
      await api.call('GET', '/api/v1/memories/shared-id/associations', { headers: B }),
      await api.call('PATCH', '/api/v1/memories/shared-id', {
        headers: B,
        body: { confidence: 0.1 },
      }),
      await api.call('DELETE', '/api/v1/memories/shared-id', { headers: B }),
      await api.call('DELETE', '/api/v1/memories/shared-id?mode=suppress', { headers: B }),
      await api.call('POST', '/api/v1/memories/shared-id/associations', {
        headers: B,
        body: { target_id: 'b-only' },
      }),
      await api.call('GET', '/api/v1/system/health?space=tenant-b'),
      await api.call('GET', '/api/v1/spaces/tenant-b'),
    ];
    for (const response of fromB) {
      const text = JSON.stringify(response.body);
      assert.doesNotMatch(text, /launch code|another A memory|"a-2"/, text);
    }
    assert.deepEqual(
      fromB[3]!.body.memories.map((m: { id: string }) => m.id),
      ['b-only'],
    );
    for (const i of [4, 5, 6, 7, 8, 9])
      assert.equal(fromB[i]!.status, 404, `request ${i} must be 404 from B`);
    assert.equal(fromB[10]!.body.spaces.length, 1);
    assert.equal(fromB[10]!.body.spaces[0].memories, 1);

    // A is untouched by everything B tried.
    const still = await api.call('GET', '/api/v1/memories/shared-id', { headers: A });
    assert.equal(still.body.content, secret);
    assert.equal(still.body.confidence, 0.7);
    assert.equal(still.body.suppressed, false);
    const links = await api.call('GET', '/api/v1/memories/shared-id/associations', { headers: A });
    assert.deepEqual(links.body.associations, [{ target_id: 'a-2', weight: 1 }]);
  });

  test(`${backend}: every route resolves the space by header, then query, then body, then the default`, async () => {
    const api = await makeApi();
    await seed(api);
    const reads: Array<[string, string, (body: any) => string]> = [
      ['GET', '/api/v1/memories/same', (b) => b.content],
      ['GET', '/api/v1/memories/recall?query=held&k=1', (b) => b.memories[0].content],
      [
        'GET',
        '/api/v1/memories?limit=10',
        (b) => b.memories.find((m: { id: string }) => m.id === 'same').content,
      ],
      ['GET', '/api/v1/memories/same/associations', (b) => b.memory_space],
      ['GET', '/api/v1/consolidations', (b) => b.memory_space],
    ];
    for (const { used, expected } of combinations(false)) {
      for (const [method, path, pick] of reads) {
        const { url, headers } = request(used, path);
        const response = await api.call(method, url, { headers });
        assert.equal(response.status, 200, `${method} ${url} ${JSON.stringify(headers)}`);
        const got = pick(response.body);
        assert.ok(
          got === expected || got === `held by ${expected}`,
          `${method} ${path} with ${used.join('+') || 'nothing'}: got ${got}, want ${expected}`,
        );
      }
    }
    for (const { used, expected } of combinations(true)) {
      const label = used.join('+') || 'nothing';
      const recall = request(used, '/api/v1/memories/recall', { query: 'held', k: 1 });
      const recalled = await api.call('POST', recall.url, {
        headers: recall.headers,
        body: recall.payload,
      });
      assert.equal(
        recalled.body.memories[0].content,
        `held by ${expected}`,
        `POST recall with ${label}`,
      );

      const remember = request(used, '/api/v1/memories/remember', {
        id: `new-${label}`,
        content: 'routed write',
      });
      const stored = await api.call('POST', remember.url, {
        headers: remember.headers,
        body: remember.payload,
      });
      assert.equal(stored.status, 201);
      assert.equal(stored.body.memory_space, expected, `remember with ${label}`);
      assert.equal(
        (await (await api.engine.space(expected)).get(`new-${label}`))?.content,
        'routed write',
      );

      const patch = request(used, '/api/v1/memories/same', { tags: [label] });
      assert.equal(
        (await api.call('PATCH', patch.url, { headers: patch.headers, body: patch.payload }))
          .status,
        200,
      );
      assert.deepEqual(
        (await (await api.engine.space(expected)).get('same'))?.tags,
        [label],
        `PATCH with ${label}`,
      );

      const link = request(used, '/api/v1/memories/same/associations', {
        target_id: 'other',
        weight: 0.5,
      });
      assert.equal(
        (await api.call('POST', link.url, { headers: link.headers, body: link.payload })).status,
        201,
      );
      assert.deepEqual(await (await api.engine.space(expected)).associations('same'), [
        { to: 'other', weight: 0.5 },
      ]);

      const episode = request(used, '/api/v1/episodes/remember', {
        id: `ep-${label}`,
        what: 'an episode',
      });
      assert.equal(
        (await api.call('POST', episode.url, { headers: episode.headers, body: episode.payload }))
          .body.memory_space,
        expected,
      );

      const consolidate = request(used, '/api/v1/consolidations/run', {});
      const ran = await api.call('POST', consolidate.url, {
        headers: consolidate.headers,
        body: consolidate.payload,
      });
      assert.equal(ran.body.memory_space, expected, `consolidations/run with ${label}`);

      const batch = request(used, '/api/v1/memories/remember/batch', {
        memories: [{ id: `b-${label}`, content: 'batched' }],
      });
      assert.equal(
        (await api.call('POST', batch.url, { headers: batch.headers, body: batch.payload })).body
          .memory_space,
        expected,
      );
    }
    // DELETE: the query, header and default (no body) each delete in their own space only.
    for (const { used, expected } of combinations(false)) {
      const label = used.join('+') || 'nothing';
      const { url, headers } = request(used, `/api/v1/memories/new-${label}`);
      assert.equal(
        (await api.call('DELETE', url, { headers })).status,
        200,
        `DELETE with ${label}`,
      );
      assert.equal(
        await (await api.engine.space(expected)).get(`new-${label}`),
        undefined,
        `DELETE with ${label}`,
      );
    }
    for (const space of ['default', ...Object.values(NAME)]) {
      assert.equal(
        (await (await api.engine.space(space)).get('same'))?.content,
        `held by ${space}`,
        'DELETE of other ids left "same" alone',
      );
    }
  });

  test(`${backend}: memory_space_id is an alias; both fields naming different spaces is a 400`, async () => {
    const api = await makeApi();
    const ok = await api.call('POST', '/api/v1/memories/remember', {
      body: { content: 'x', memory_space_id: 'alias-space' },
    });
    assert.equal(ok.body.memory_space, 'alias-space');
    const same = await api.call('POST', '/api/v1/memories/remember', {
      body: { content: 'x', memory_space: 'alias-space', memory_space_id: 'alias-space' },
    });
    assert.equal(same.status, 201);
    const conflict = await api.call('POST', '/api/v1/memories/remember', {
      body: { content: 'x', memory_space: 'one-space', memory_space_id: 'two-space' },
    });
    assert.equal(conflict.status, 400);
    assert.equal(conflict.body.error.code, 'ENG_REQUEST_INVALID');
    assert.equal(await api.engine.hasSpace('one-space'), false);
  });

  test(`${backend}: an invalid space id from any source is a 400 ENG_SPACE_ID_INVALID and creates nothing`, async () => {
    const api = await makeApi();
    for (const bad of ['../etc', 'AB', 'x'.repeat(65), 'a b c']) {
      const viaHeader = await api.call('POST', '/api/v1/memories/remember', {
        headers: { 'x-memory-space': bad },
        body: { content: 'x' },
      });
      const viaQuery = await api.call(
        'GET',
        `/api/v1/memories/recall?query=x&space=${encodeURIComponent(bad)}`,
      );
      const viaBody = await api.call('POST', '/api/v1/memories/remember', {
        body: { content: 'x', memory_space: bad },
      });
      for (const response of [viaHeader, viaQuery, viaBody]) {
        assert.equal(response.status, 400, bad);
        assert.equal(response.body.error.code, 'ENG_SPACE_ID_INVALID');
      }
    }
    assert.deepEqual(await api.engine.listSpaces(), []);
  });

  test(`${backend}: reads of a space that does not exist answer empty or 404 and create nothing`, async () => {
    const api = await makeApi();
    assert.deepEqual(
      (await api.call('GET', '/api/v1/memories/recall?query=x&space=ghost')).body.memories,
      [],
    );
    assert.deepEqual((await api.call('GET', '/api/v1/memories?space=ghost')).body.memories, []);
    assert.equal((await api.call('GET', '/api/v1/memories/m1?space=ghost')).status, 404);
    assert.equal((await api.call('DELETE', '/api/v1/memories/m1?space=ghost')).status, 404);
    assert.equal((await api.call('GET', '/api/v1/spaces/ghost')).status, 404);
    assert.equal(await api.engine.hasSpace('ghost'), false);
  });

  test(`${backend}: with auto-creation off a write to an unknown space is a 404`, async () => {
    const api = await makeApi({ autoCreateSpaces: false });
    const response = await api.call('POST', '/api/v1/memories/remember', {
      headers: { 'x-memory-space': 'nowhere' },
      body: { content: 'x' },
    });
    assert.equal(response.status, 404);
    assert.equal(response.body.error.code, 'ENG_SPACE_NOT_FOUND');
  });
}
