import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testApi } from '../helpers/http.ts';
import { spaceMatrixTests } from '../helpers/http-space-matrix.ts';

const A = { 'x-memory-space': 'tenant-a' };

// The cross-space matrix (run on both backends) is in test/helpers/http-space-matrix.ts.
spaceMatrixTests('lmdb', testApi);

test('remember answers 201 with the stored memory; get, patch and delete work and 404 when absent', async () => {
  const api = await testApi();
  const stored = await api.call('POST', '/api/v1/memories/remember', {
    headers: A,
    body: {
      id: 'm1',
      content: 'the cat sat',
      confidence: 0.9,
      memory_type: 'episodic',
      tags: ['cat'],
      metadata: { src: 't' },
      observed_at: '2024-05-01T00:00:00Z',
    },
  });
  assert.equal(stored.status, 201);
  assert.equal(stored.body.memory_id, 'm1');
  assert.equal(stored.body.memory_space, 'tenant-a');
  assert.ok(stored.body.lsn >= 1);
  assert.equal(stored.body.observed_at, '2024-05-01T00:00:00.000Z');
  const got = await api.call('GET', '/api/v1/memories/m1', { headers: A });
  const { memory_id: _id, lsn: _lsn, ...record } = stored.body as Record<string, unknown>;
  assert.deepEqual(got.body, record);
  const patched = await api.call('PATCH', '/api/v1/memories/m1', {
    headers: A,
    body: { confidence: 0.3, tags: ['dog'] },
  });
  assert.equal(patched.body.confidence, 0.3);
  assert.deepEqual(patched.body.tags, ['dog']);
  assert.equal(
    (await api.call('PATCH', '/api/v1/memories/absent', { headers: A, body: { confidence: 0.3 } }))
      .status,
    404,
  );
  assert.equal((await api.call('DELETE', '/api/v1/memories/m1', { headers: A })).status, 200);
  assert.equal((await api.call('GET', '/api/v1/memories/m1', { headers: A })).status, 404);
  assert.equal((await api.call('DELETE', '/api/v1/memories/m1', { headers: A })).status, 404);
});

test('a batch answers per item: good items are stored, bad ones fail alone', async () => {
  const api = await testApi();
  const response = await api.call('POST', '/api/v1/memories/remember/batch', {
    headers: A,
    body: {
      memories: [
        { id: 'ok-1', content: 'fine' },
        { id: 'bad', content: '' },
        { id: 'ok-2', content: 'fine too' },
        { content: 'x', colour: 'red' },
      ],
    },
  });
  assert.equal(response.status, 200);
  const results = response.body.results as Array<{ ok: boolean; error?: { code: string } }>;
  assert.deepEqual(
    results.map((r) => r.ok),
    [true, false, true, false],
  );
  assert.equal(results[1]!.error!.code, 'ENG_CONTENT_INVALID');
  assert.equal(results[3]!.error!.code, 'ENG_REQUEST_INVALID');
  assert.equal((await (await api.registry.space('tenant-a')).stats()).memories, 2);
  const tooMany = await api.call('POST', '/api/v1/memories/remember/batch', {
    headers: A,
    body: { memories: Array.from({ length: 257 }, () => ({ content: 'x' })) },
  });
  assert.equal(tooMany.status, 400);
});

test('malformed input gets a 400 or 413 with the catalogue code, never a 500', async () => {
  const api = await testApi({ bodyLimitBytes: 4096 });
  const cases: Array<[string, string, unknown, number, string]> = [
    ['POST', '/api/v1/memories/remember', '{not json', 400, 'ENG_REQUEST_INVALID'],
    [
      'POST',
      '/api/v1/memories/remember',
      { content: 'x', contnet: 'typo' },
      400,
      'ENG_REQUEST_INVALID',
    ],
    ['POST', '/api/v1/memories/remember', { content: 42 }, 400, 'ENG_REQUEST_INVALID'],
    ['POST', '/api/v1/memories/remember', { content: '   ' }, 400, 'ENG_CONTENT_INVALID'],
    [
      'POST',
      '/api/v1/memories/remember',
      { content: 'x', confidence: 7 },
      400,
      'ENG_FIELD_INVALID',
    ],
    [
      'POST',
      '/api/v1/memories/remember',
      { content: 'x', embedding: [1, 2] },
      400,
      'ENG_VECTOR_DIM_MISMATCH',
    ],
    ['POST', '/api/v1/memories/remember', { content: 'x'.repeat(5000) }, 413, 'ENG_BODY_TOO_LARGE'],
    ['GET', '/api/v1/memories/recall?query=x&k=0', undefined, 400, 'ENG_QUERY_INVALID'],
    ['GET', '/api/v1/memories/recall?query=x&k=100000', undefined, 400, 'ENG_QUERY_INVALID'],
    ['GET', '/api/v1/memories/recall?query=x&k=ten', undefined, 400, 'ENG_REQUEST_INVALID'],
    ['GET', '/api/v1/memories/recall', undefined, 400, 'ENG_REQUEST_INVALID'],
    ['POST', '/api/v1/memories/recall', { query: 'x', embedding: [1] }, 400, 'ENG_REQUEST_INVALID'],
    [
      'POST',
      '/api/v1/memories/recall',
      { query: 'x', mode: 'telepathy' },
      400,
      'ENG_QUERY_INVALID',
    ],
    [
      'POST',
      '/api/v1/memories/recall',
      { query: 'x', mode: 'spreading', spread: { hops: 9 } },
      400,
      'ENG_QUERY_INVALID',
    ],
    ['GET', '/api/v1/memories?limit=0', undefined, 400, 'ENG_QUERY_INVALID'],
    ['PATCH', '/api/v1/memories/x', {}, 400, 'ENG_REQUEST_INVALID'],
    ['POST', '/api/v1/spaces', { id: 'Bad Id' }, 400, 'ENG_SPACE_ID_INVALID'],
    ['GET', '/api/v1/no/such/route', undefined, 404, 'ENG_ROUTE_NOT_FOUND'],
  ];
  await api.call('POST', '/api/v1/memories/remember', { headers: A, body: { content: 'seed' } });
  for (const [method, url, body, status, code] of cases) {
    const response = await api.app.inject({
      method: method as 'GET',
      url,
      headers: { ...A, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined
        ? {}
        : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    assert.equal(
      response.statusCode,
      status,
      `${method} ${url} ${JSON.stringify(body)?.slice(0, 60)}: ${response.body}`,
    );
    assert.equal(
      (JSON.parse(response.body) as { error: { code: string } }).error.code,
      code,
      `${method} ${url}`,
    );
  }
  const typo = await api.call('POST', '/api/v1/memories/remember', {
    headers: A,
    body: { content: 'x', contnet: 'typo' },
  });
  assert.match(typo.body.error.message, /Unknown field "contnet"/);
});

test('spaces can be created, described, listed and deleted over HTTP', async () => {
  const api = await testApi();
  const created = await api.call('POST', '/api/v1/spaces', { body: { id: 'notes' } });
  assert.equal(created.status, 201);
  assert.equal(created.body.dimension, 384);
  assert.equal((await api.call('POST', '/api/v1/spaces', { body: { id: 'notes' } })).status, 200);
  await api.call('POST', '/api/v1/memories/remember', {
    headers: { 'x-memory-space': 'notes' },
    body: { content: 'hello' },
  });
  const described = await api.call('GET', '/api/v1/spaces/notes');
  assert.equal(described.body.memories, 1);
  assert.equal(described.body.state, 'open');
  assert.equal(typeof described.body.wal_lag_ms, 'number');
  assert.deepEqual(
    (await api.call('GET', '/api/v1/spaces')).body.spaces.map((s: { id: string }) => s.id),
    ['notes'],
  );
  assert.equal((await api.call('DELETE', '/api/v1/spaces/notes')).status, 200);
  assert.equal((await api.call('DELETE', '/api/v1/spaces/notes')).status, 404);
  assert.deepEqual(
    (await api.call('GET', '/api/v1/memories/recall?query=hello&space=notes')).body.memories,
    [],
  );
});

test('spreading recall over HTTP returns the path of each hit', async () => {
  const api = await testApi();
  for (const [id, content] of [
    ['seed', 'gene editing with CRISPR'],
    ['linked', 'an unrelated sounding note'],
  ]) {
    await api.call('POST', '/api/v1/memories/remember', { headers: A, body: { id, content } });
  }
  await api.call('POST', '/api/v1/memories/seed/associations', {
    headers: A,
    body: { target_id: 'linked', weight: 0.9 },
  });
  const response = await api.call('POST', '/api/v1/memories/recall', {
    headers: A,
    body: {
      query: 'CRISPR',
      mode: 'spreading',
      spread: { seeds: 1, hops: 1, fan_out: 4, decay: 0.5 },
    },
  });
  assert.equal(response.status, 200);
  const linked = response.body.memories.find((m: { id: string }) => m.id === 'linked');
  assert.deepEqual(linked.path, ['seed', 'linked']);
});
