/**
 * Hostile HTTP input: random JSON (and near-valid bodies with wrong types, odd strings and
 * unknown fields), random query strings and random space names against every memory, space and
 * consolidation route. The server never answers 500 to bad input, every 4xx carries a catalogue
 * code, and afterwards every space reopens cleanly: nothing half-written reached a log.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ERROR_CATALOGUE, Registry } from '../../engine/index.ts';
import { fuzzParameters } from '../helpers/fuzz.ts';
import { testApi } from '../helpers/http.ts';

const ROUTES: ReadonlyArray<readonly [string, string, 'body' | 'query']> = [
  ['POST', '/api/v1/memories/remember', 'body'],
  ['POST', '/api/v1/memories/remember/batch', 'body'],
  ['POST', '/api/v1/episodes/remember', 'body'],
  ['POST', '/api/v1/memories/recall', 'body'],
  ['GET', '/api/v1/memories/recall', 'query'],
  ['GET', '/api/v1/memories', 'query'],
  ['GET', '/api/v1/memories/:id', 'query'],
  ['PATCH', '/api/v1/memories/:id', 'body'],
  ['DELETE', '/api/v1/memories/:id', 'query'],
  ['GET', '/api/v1/memories/:id/associations', 'query'],
  ['POST', '/api/v1/memories/:id/associations', 'body'],
  ['POST', '/api/v1/spaces', 'body'],
  ['GET', '/api/v1/spaces/:id', 'query'],
  ['GET', '/api/v1/system/health', 'query'],
  ['GET', '/api/v1/consolidations', 'query'],
  ['POST', '/api/v1/consolidations/run', 'body'],
];

/** Field names the routes know, so random bodies reach the validators and the engine. */
const FIELDS = [
  'id',
  'content',
  'query',
  'vector',
  'embedding',
  'k',
  'mode',
  'threshold',
  'confidence',
  'tags',
  'metadata',
  'memory_type',
  'observed_at',
  'memories',
  'filters',
  'include_cold',
  'include_suppressed',
  'memory_space',
  'memory_space_id',
  'target_id',
  'weight',
  'what',
  'when',
  'importance',
  'dimension',
  'embedder',
  'spread',
  'similarity',
  'min_sources',
];

const oddString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '..',
    '../etc',
    'a/b',
    'a\u0000b',
    'default',
    'ѕрасе',
    '',
    ' ',
    'x'.repeat(10_000),
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  oddString,
  fc.double(),
  fc.array(fc.double(), { maxLength: 8 }),
  fc.constantFrom(-1, 0, 1e308, Number.MAX_SAFE_INTEGER, 2 ** 53 + 1),
);
const nearValidBody = fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), oddString), oddValue, {
  maxKeys: 6,
});
const body = fc.oneof(nearValidBody, fc.jsonValue({ maxDepth: 4 }));
const query = fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), oddString), oddString, {
  maxKeys: 5,
});
const pathId = fc.oneof(fc.constantFrom('seed', 'missing'), oddString);
const spaceHeader = fc.option(fc.oneof(fc.constantFrom('fuzz-a', 'fuzz-b', 'default'), oddString), {
  nil: undefined,
});

test('random bodies, query strings and space names never get a 500 or leave a damaged log', async () => {
  const api = await testApi({}, { maxSpaces: 50 });
  for (const space of ['fuzz-a', 'fuzz-b']) {
    await api.call('POST', '/api/v1/memories/remember', {
      headers: { 'x-memory-space': space },
      body: { id: 'seed', content: `seed of ${space}` },
    });
  }
  const codes = new Set(Object.keys(ERROR_CATALOGUE));
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...ROUTES),
      pathId,
      spaceHeader,
      body,
      query,
      async ([method, template, via], id, space, payload, params) => {
        const search = new URLSearchParams(
          Object.entries(params).filter(([key]) => !key.includes('\u0000')),
        ).toString();
        const url = `${template.replace(':id', encodeURIComponent(id))}${via === 'query' && search ? `?${search}` : ''}`;
        const headers: Record<string, string> = {};
        // Header values cannot hold control characters: such names travel in the query instead.
        if (space !== undefined && /^[\x20-\x7e]*$/.test(space)) headers['x-memory-space'] = space;
        const response = await api.app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(via === 'body' ? { payload: JSON.stringify(payload) } : {}),
          ...(via === 'body'
            ? { headers: { ...headers, 'content-type': 'application/json' } }
            : {}),
        });
        const where = `${method} ${url} ${JSON.stringify(headers)} -> ${response.statusCode} ${response.body.slice(0, 300)}`;
        assert.ok(response.statusCode < 500, where);
        if (response.statusCode >= 400) {
          const parsed = JSON.parse(response.body) as { error?: { code?: string } };
          assert.ok(codes.has(parsed.error?.code ?? ''), `catalogue code: ${where}`);
        }
      },
    ),
    fuzzParameters('http', 1500),
  );
  // Whatever was accepted was written whole: every space reopens without quarantine.
  const spaces = await api.registry.listSpaces({ counts: false });
  const dataRoot = api.registry.options.dataRoot;
  await api.app.close();
  await api.registry.close();
  const reopened = await Registry.open({ dataRoot, maxSpaces: 50 });
  try {
    for (const { id } of spaces) {
      const stats = await (await reopened.space(id)).stats();
      assert.equal(stats.state, 'open', id);
    }
    const seed = await (await reopened.space('fuzz-a')).get('seed');
    assert.ok(
      seed === undefined || seed.content === 'seed of fuzz-a',
      'fuzz-b never wrote into fuzz-a',
    );
  } finally {
    await reopened.close();
  }
});
