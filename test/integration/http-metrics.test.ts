import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testApi } from '../helpers/http.ts';

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

test('/metrics reports measured request counts and per-space figures, with space labels bounded', async () => {
  const api = await testApi({ metricsSpaceLabelsMax: 2 });
  const sizes: Record<string, number> = { 'big-one': 4, 'big-two': 3, 'small-a': 2, 'small-b': 1 };
  for (const [space, count] of Object.entries(sizes)) {
    for (let i = 0; i < count; i++) {
      assert.equal(
        (
          await api.call('POST', '/api/v1/memories/remember', {
            headers: { 'x-memory-space': space },
            body: { content: `m ${i}` },
          })
        ).status,
        201,
      );
    }
  }
  await api.call('GET', '/api/v1/memories/nope?space=big-one');
  const response = await api.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(response.statusCode, 200);
  assert.match(response.headers['content-type'] as string, /text\/plain/);
  const text = response.body;
  assert.equal(
    sample(
      text,
      'engram_http_requests_total',
      'route="/api/v1/memories/remember",method="POST",status="201"',
    ),
    10,
  );
  assert.equal(
    sample(
      text,
      'engram_http_requests_total',
      'route="/api/v1/memories/:id",method="GET",status="404"',
    ),
    1,
  );
  assert.equal(sample(text, 'engram_space_memories', 'space="big-one"'), 4);
  assert.equal(sample(text, 'engram_space_memories', 'space="big-two"'), 3);
  assert.equal(sample(text, 'engram_space_memories', 'space="_other"'), 3);
  assert.equal(sample(text, 'engram_space_memories', 'space="small-a"'), undefined);
  assert.equal(sample(text, 'engram_spaces', 'state="open"'), 4);
  assert.match(text, /engram_process_resident_memory_bytes \d+/);
});

test('the OpenAPI document is generated from the route schemas and the docs page is served', async () => {
  const api = await testApi();
  const doc = await api.call('GET', '/openapi.json');
  assert.equal(doc.status, 200);
  assert.match(doc.body.openapi, /^3\./);
  const remember = doc.body.paths['/api/v1/memories/remember'].post;
  const bodySchema = remember.requestBody.content['application/json'].schema;
  assert.deepEqual(bodySchema.required, ['content']);
  assert.equal(bodySchema.additionalProperties, false);
  for (const path of [
    '/api/v1/memories/recall',
    '/api/v1/memories/{id}',
    '/api/v1/spaces',
    '/api/v1/stream/memories',
    '/api/v1/system/health',
  ]) {
    assert.ok(doc.body.paths[path], `${path} is documented`);
  }
  const page = await api.app.inject({ method: 'GET', url: '/docs/' });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /<html/i);
});
