/**
 * Hostile bytes against the two readers that take whole files from outside: a real backup with
 * bytes flipped, cut off, duplicated or appended, and random files, must be refused by
 * verifyBackup with ENG_BACKUP_CORRUPT and nothing else; random JSON Lines sent to the import
 * route get per-line errors (never a 500), and whatever is imported is whole: every space
 * reopens cleanly and verifies.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isEngramError, Registry, verifyBackup } from '../../engine/index.ts';
import { fuzzParameters } from '../helpers/fuzz.ts';
import { testApi } from '../helpers/http.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const api = await testApi({}, { durability: 'none', maxSpaces: 20 });

async function refused(path: string): Promise<boolean> {
  try {
    await verifyBackup(path);
    return false;
  } catch (error) {
    assert.ok(isEngramError(error, 'ENG_BACKUP_CORRUPT'), `other error: ${String(error)}`);
    return true;
  }
}

test('a damaged backup file is always refused with ENG_BACKUP_CORRUPT', async () => {
  const space = 'fuzz-backup';
  for (let i = 0; i < 12; i++) {
    await api.call('POST', '/api/v1/memories/remember', {
      headers: { 'x-memory-space': space },
      body: { id: `m${i}`, content: `memory ${i} with some words`, tags: ['t'], metadata: { i } },
    });
  }
  const created = await api.call('POST', `/api/v1/backups?space=${space}`);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const original = await readFile(
    join(api.registry.options.dataRoot, '.backups', created.body.backup.name),
  );
  const dir = await tempDir();
  const path = join(dir, 'damaged.engram-backup');
  await writeFile(path, original);
  assert.equal(await refused(path), false, 'the intact file verifies');

  const damage = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('append' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
    fc.record({
      kind: fc.constant('repeat' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 64 }),
    }),
    fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 512 }) }),
  );
  await fc.assert(
    fc.asyncProperty(damage, async (d) => {
      let bytes: Buffer;
      const at = 'at' in d ? d.at % original.length : 0;
      if (d.kind === 'flip') {
        bytes = Buffer.from(original);
        bytes[at]! ^= 1 << d.bit;
      } else if (d.kind === 'cut') bytes = original.subarray(0, at);
      else if (d.kind === 'append') bytes = Buffer.concat([original, d.bytes]);
      else if (d.kind === 'repeat')
        bytes = Buffer.concat([
          original.subarray(0, at),
          original.subarray(at, at + d.length),
          original.subarray(at),
        ]);
      else bytes = Buffer.from(d.bytes);
      await writeFile(path, bytes);
      assert.equal(await refused(path), true, `${d.kind} at ${at} was accepted`);
    }),
    fuzzParameters('backup reader', 600),
  );
});

const oddString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', 'a\u0000b', '..', 'x'.repeat(70_000), '2024-01-01T00:00:00Z', 'NaN'),
);
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  oddString,
  fc.double(),
  fc.array(fc.double(), { maxLength: 6 }),
);
const FIELDS = [
  'id',
  'content',
  'confidence',
  'memory_type',
  'tags',
  'metadata',
  'observed_at',
  'stored_at',
  'updated_at',
  'suppressed',
  'embedding',
  'episode',
  'consolidation',
  'associations',
  'access_count',
  'last_access',
];
const line = fc.oneof(
  fc
    .dictionary(fc.oneof(fc.constantFrom(...FIELDS), oddString), oddValue, { maxKeys: 8 })
    .map((o) => JSON.stringify(o)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 80 }),
);

test('random JSON Lines get per-line errors, never a 500, and leave every space whole', async () => {
  const space = 'fuzz-import';
  await api.registry.createSpace(space, { embedder: 'hash' });
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 8 }), async (lines) => {
      const response = await api.app.inject({
        method: 'POST',
        url: '/api/v1/import',
        payload: lines.join('\n'),
        headers: { 'content-type': 'application/x-ndjson', 'x-memory-space': space },
      });
      assert.ok(response.statusCode < 500, `${response.statusCode} ${response.body.slice(0, 300)}`);
      if (response.statusCode === 200) {
        const report = JSON.parse(response.body) as {
          lines: number;
          imported: number;
          failed: number;
        };
        assert.ok(report.imported + report.failed <= report.lines, response.body.slice(0, 300));
      }
    }),
    fuzzParameters('import reader', 400),
  );
  const dataRoot = api.registry.options.dataRoot;
  await api.app.close();
  await api.registry.close();
  const reopened = await Registry.open({ dataRoot, maxSpaces: 20 });
  try {
    assert.equal((await (await reopened.space(space)).stats()).state, 'open');
  } finally {
    await reopened.close();
  }
});
