/**
 * Export and import as JSON Lines over the HTTP API: a round trip between spaces and between
 * two servers keeps every memory field (vectors when asked), importing twice gives the same
 * state, and bad lines are reported with their line numbers while the valid ones are applied.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testApi, type TestApi } from '../helpers/http.ts';
import { randomVector, seededRandom } from '../helpers/vectors.ts';

const one = await testApi({}, { durability: 'none' });
const two = await testApi({}, { durability: 'none' });
const DIM = 8;
const random = seededRandom(11);

async function exportText(api: TestApi, space: string, vectors: boolean): Promise<string> {
  const response = await api.app.inject({
    method: 'GET',
    url: `/api/v1/export?space=${space}&vectors=${vectors}`,
  });
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['content-type'], 'application/x-ndjson');
  // The export writes its own head (a hijacked reply): the security headers are there too.
  assert.equal(response.headers['x-content-type-options'], 'nosniff');
  assert.match(String(response.headers['content-security-policy']), /^default-src 'self'/);
  return response.body;
}

async function importText(api: TestApi, space: string, text: string) {
  const response = await api.app.inject({
    method: 'POST',
    url: '/api/v1/import',
    payload: text,
    headers: { 'content-type': 'application/x-ndjson', 'x-memory-space': space },
  });
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

async function seed(api: TestApi, space: string, count: number): Promise<void> {
  await api.registry.createSpace(space, { dimension: DIM });
  const handle = await api.registry.space(space);
  for (let i = 0; i < count; i++) {
    await handle.remember({
      id: `m-${String(i).padStart(3, '0')}`,
      content: `memory number ${i}`,
      vector: randomVector(random, DIM),
      tags: [`t${i % 3}`],
      metadata: { i },
      confidence: (i % 10) / 10,
      ...(i % 4 === 0 ? { episode: { what: `episode ${i}`, where: 'lab' } } : {}),
    });
  }
  await handle.associate('m-001', 'm-002', 0.5);
  await handle.associate('m-009', 'm-000', 0.25); // a link to an earlier line
  await handle.forget('m-003', { mode: 'suppress' });
}

test('a round trip between spaces and between servers keeps every field and vector', async () => {
  await seed(one, 'origin', 30);
  const exported = await exportText(one, 'origin', true);
  const lines = exported.trim().split('\n');
  assert.equal(lines.length, 30);
  const first = JSON.parse(lines[0]!);
  assert.equal(first.id, 'm-000');
  assert.equal(first.embedding.length, DIM);
  assert.equal(JSON.parse(lines[3]!).suppressed, true);

  for (const [api, space] of [
    [one, 'copy'],
    [two, 'elsewhere'],
  ] as const) {
    // A space the import creates gets the server's default embedder (384 dimensions): these
    // 8-dimension vectors need a space made for them first.
    await api.registry.createSpace(space, { dimension: DIM });
    const answer = await importText(api, space, exported);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(
      { imported: answer.body.imported, failed: answer.body.failed, lines: answer.body.lines },
      { imported: 30, failed: 0, lines: 30 },
    );
    assert.equal(answer.body.unresolved_associations, 0);
    assert.equal(await exportText(api, space, true), exported);
    const handle = await api.registry.space(space);
    assert.deepEqual(await handle.associations('m-009'), [{ to: 'm-000', weight: 0.25 }]);
    const source = await (await one.registry.space('origin')).getVector('m-017');
    assert.deepEqual(await handle.getVector('m-017'), source);
  }
  // Without vectors the lines carry no embedding.
  const plain = await exportText(one, 'origin', false);
  assert.ok(!plain.includes('"embedding"'));
});

test('importing the same file twice gives the same state', async () => {
  await seed(one, 'twice-src', 12);
  const exported = await exportText(one, 'twice-src', true);
  await two.registry.createSpace('twice', { dimension: DIM });
  await importText(two, 'twice', exported);
  const once = await exportText(two, 'twice', true);
  const again = await importText(two, 'twice', exported);
  assert.equal(again.body.imported, 12);
  assert.equal(await exportText(two, 'twice', true), once);
  assert.equal((await (await two.registry.space('twice')).stats()).memories, 12);
});

test('bad lines are reported with their line numbers and the valid ones applied', async () => {
  const good = (id: string) => JSON.stringify({ id, content: `content ${id}` });
  const text = [
    good('ok-1'),
    '{not json',
    '',
    JSON.stringify({ id: 'x', content: 'c', colour: 'red' }),
    JSON.stringify({ id: 'y', content: 'c', confidence: 7 }),
    JSON.stringify({ id: 'z', content: 'c', embedding: [1, 2] }),
    JSON.stringify({ content: 'no id' }),
    good('ok-2'),
    JSON.stringify({ id: 'big', content: 'x'.repeat(5 * 1024 * 1024) }),
    good('ok-3'),
    JSON.stringify({ id: 'ep', content: 'c', episode: null }), // found by the import fuzz test
  ].join('\n');
  const answer = await importText(two, 'lines', text);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.imported, 3);
  assert.equal(answer.body.failed, 7);
  assert.equal(answer.body.lines, 11);
  const byLine = Object.fromEntries(
    answer.body.errors.map((e: any) => [e.line, `${e.code}: ${e.message}`]),
  );
  assert.deepEqual(Object.keys(byLine).map(Number), [2, 4, 5, 6, 7, 9, 11]);
  assert.match(byLine[2], /ENG_REQUEST_INVALID: Invalid JSON/);
  assert.match(byLine[4], /Unknown field "colour"/);
  assert.match(byLine[5], /ENG_FIELD_INVALID: confidence/);
  assert.match(byLine[6], /ENG_VECTOR_DIM_MISMATCH|ENG_VECTOR_INVALID/);
  assert.match(byLine[7], /ENG_MEMORY_ID_INVALID/);
  assert.match(byLine[9], /longer than/);
  assert.match(byLine[11], /ENG_FIELD_INVALID: episode must be an object/);
  const space = await two.registry.space('lines');
  for (const id of ['ok-1', 'ok-2', 'ok-3']) assert.ok(await space.get(id), id);
  assert.equal(await space.get('x'), undefined);
});

test('export of a missing space is not found, and import needs a JSON Lines body', async () => {
  const missing = await one.call('GET', '/api/v1/export?space=nowhere');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'ENG_SPACE_NOT_FOUND');
  const json = await one.call('POST', '/api/v1/import?space=lines', { body: { id: 'a' } });
  assert.equal(json.status, 400);
  assert.equal(json.body.error.code, 'ENG_REQUEST_INVALID');
});

test('an export without vectors imported into a space with an embedder gets its vectors back', async () => {
  for (const [id, content] of [
    ['g1', 'CRISPR gene editing'],
    ['g2', 'protein folding'],
  ])
    await one.call('POST', '/api/v1/memories/remember', {
      headers: { 'x-memory-space': 'embedded' },
      body: { id, content },
    });
  const plain = await exportText(one, 'embedded', false);
  assert.ok(!plain.includes('"embedding"'));
  const answer = await importText(two, 'reembedded', plain);
  assert.equal(answer.body.imported, 2, JSON.stringify(answer.body));
  const space = await two.registry.space('reembedded');
  assert.equal((await space.get('g1'))?.hasVector, true);
  assert.deepEqual(
    await space.getVector('g1'),
    await (await one.registry.space('embedded')).getVector('g1'),
  );
  const hits = await space.recall('gene editing', { k: 1, mode: 'similarity' });
  assert.equal(hits[0]?.memory.id, 'g1');
});
