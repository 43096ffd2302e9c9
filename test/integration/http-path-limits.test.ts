/**
 * Memory ids in URL paths at their bound: fastify's router caps a path parameter at 100
 * characters by default, below the engine's maxMemoryIdChars; ids up to the engine's bound
 * work on every route that takes one, longer ones get the engine's code, and a URL the router
 * itself refuses gets the catalogue's error shape without being echoed back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testApi } from '../helpers/http.ts';

test('ids of exactly maxMemoryIdChars work in every path; one more is ENG_MEMORY_ID_INVALID', async () => {
  const api = await testApi({}, { maxMemoryIdChars: 300 });
  const id = 'é'.repeat(300); // 300 characters, 600 bytes, 1,800 percent-encoded
  const other = 'o'.repeat(300);
  for (const each of [id, other]) {
    const stored = await api.call('POST', '/api/v1/memories/remember', {
      body: { id: each, content: `memory ${each.length}` },
    });
    assert.equal(stored.status, 201);
  }
  const path = `/api/v1/memories/${encodeURIComponent(id)}`;
  assert.equal((await api.call('GET', path)).body.id, id);
  assert.equal((await api.call('PATCH', path, { body: { confidence: 0.4 } })).status, 200);
  const linked = await api.call('POST', `${path}/associations`, { body: { target_id: other } });
  assert.equal(linked.status, 201);
  assert.equal((await api.call('GET', `${path}/associations`)).body.associations.length, 1);
  assert.equal((await api.call('DELETE', path)).status, 200);

  const tooLong = `/api/v1/memories/${'x'.repeat(301)}`;
  for (const method of ['GET', 'DELETE']) {
    const response = await api.call(method, tooLong);
    assert.equal(response.status, 400);
    assert.equal(response.body.error.code, 'ENG_MEMORY_ID_INVALID');
  }
});

test('a URL the router refuses answers the catalogue shape and does not echo the URL', async () => {
  const api = await testApi();
  for (const url of [`/api/v1/memories/${'x'.repeat(20_000)}`, '/api/v1/memories/%E0%A4%A']) {
    const response = await api.app.inject({ method: 'GET', url });
    assert.equal(response.statusCode, 400, url.slice(0, 40));
    const body = JSON.parse(response.body) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'ENG_REQUEST_INVALID');
    assert.ok(response.body.length < 200, 'the URL is not echoed');
  }
});
