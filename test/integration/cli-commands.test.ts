/**
 * The client commands end to end: a real server started with `engram start` in a temp data
 * root, driven by the real `engram` binary, and checked against the HTTP API directly.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { api, runCli, runCliJson, startEngram, type StartedEngram } from '../helpers/engram-cli.ts';
import { tempDir } from '../helpers/temp-dir.ts';

// Started at the top level (not in before()): the after() hooks that stop it and remove its
// directory then belong to the file, not to a hook.
const server: StartedEngram = await startEngram(await tempDir());
const { url } = server;

/** A memory by id in a space, straight from the HTTP API (status 200 or 404). */
function getMemory(space: string, id: string) {
  return api(`${url}/api/v1/memories/${id}`, { headers: { 'x-memory-space': space } });
}

test('remember --space stores in that space only, as the HTTP API shows', async () => {
  const stored = await runCliJson([
    'remember',
    'CRISPR gene editing',
    '--url',
    url,
    '--space',
    'alpha-space',
    '--id',
    'gene',
  ]);
  assert.equal(stored.memory_space, 'alpha-space');
  assert.equal((await getMemory('alpha-space', 'gene')).status, 200);
  assert.equal((await getMemory('beta-space', 'gene')).status, 404);
  assert.equal((await getMemory('default', 'gene')).status, 404);
});

test('the space travels in the X-Memory-Space header, and only there', async () => {
  const seen: Array<{
    header: string | string[] | undefined;
    url: string | undefined;
    body: string;
  }> = [];
  const fake = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ header: request.headers['x-memory-space'], url: request.url, body });
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ memory_id: 'x', memory_space: 'header-space', lsn: 1 }));
    });
  });
  fake.listen(0, '127.0.0.1');
  await once(fake, 'listening');
  const { port } = fake.address() as { port: number };
  try {
    const result = await runCli([
      'remember',
      'hello',
      '--url',
      `http://127.0.0.1:${port}`,
      '--space',
      'header-space',
    ]);
    assert.equal(result.code, 0, result.stderr);
  } finally {
    fake.close();
  }
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.header, 'header-space');
  assert.equal(seen[0]!.url, '/api/v1/memories/remember');
  assert.deepEqual(JSON.parse(seen[0]!.body), { content: 'hello' });
});

test('ENGRAM_MEMORY_SPACE picks the space when --space is absent, and --space wins over it', async () => {
  const env = { ENGRAM_MEMORY_SPACE: 'env-space' };
  await Promise.all([
    runCliJson(['remember', 'from env', '--url', url, '--id', 'env-1'], { env }),
    runCliJson(['remember', 'from flag', '--url', url, '--id', 'flag-1', '--space', 'flag-space'], {
      env,
    }),
  ]);
  assert.equal((await getMemory('env-space', 'env-1')).status, 200);
  assert.equal((await getMemory('default', 'env-1')).status, 404);
  assert.equal((await getMemory('flag-space', 'flag-1')).status, 200);
  assert.equal((await getMemory('env-space', 'flag-1')).status, 404);
});

test('without --space or ENGRAM_MEMORY_SPACE the configured default_space is used', async () => {
  const config = join(await tempDir(), 'config.toml');
  await writeFile(config, '[memory_spaces]\ndefault_space = "configured-space"\n');
  await runCliJson(['remember', 'from config', '--url', url, '--config', config, '--id', 'cfg-1']);
  assert.equal((await getMemory('configured-space', 'cfg-1')).status, 200);
  assert.equal((await getMemory('default', 'cfg-1')).status, 404);
});

test('remember sends confidence, tags and type; recall finds it, -k limits and --mode is applied', async () => {
  const space = ['--url', url, '--space', 'recall-space'];
  const cat = ['--id', 'cat', '--confidence', '0.9', '--tag', 'pets', '--tag', 'home'];
  await Promise.all([
    runCliJson(['remember', 'the cat sat on the mat', ...space, ...cat, '--type', 'episodic']),
    runCliJson(['remember', 'a dog barked at the cat', ...space, '--id', 'dog']),
    runCliJson(['remember', 'stock prices fell', ...space, '--id', 'stocks']),
  ]);
  const stored = (await getMemory('recall-space', 'cat')).body;
  assert.equal(stored.confidence, 0.9);
  assert.deepEqual(stored.tags, ['pets', 'home']);
  assert.equal(stored.memory_type, 'episodic');
  const [all, one, table] = await Promise.all([
    runCliJson(['recall', 'cat', ...space]),
    runCliJson(['recall', 'cat', ...space, '-k', '1', '--mode', 'lexical']),
    runCli(['recall', 'cat', ...space, '-k', '2']),
  ]);
  assert.equal(all.memory_space, 'recall-space');
  assert.deepEqual(
    new Set(all.memories.slice(0, 2).map((m: any) => m.id)),
    new Set(['cat', 'dog']),
  );
  assert.equal(one.memories.length, 1);
  // Lexical scores are raw BM25 with no cosine part: the mode reached the server.
  assert.equal(one.memories[0].parts.similarity, undefined);
  assert.ok(one.memories[0].parts.lexical > 0);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^#\s+Score\s+ID\s+Content\s+Tags$/);
  assert.equal(lines.length, 3);
  assert.match(table.stdout, /the cat sat on the mat\s+pets,home/);
});

test("forget deletes the memory; forgetting it again exits 4 with the server's code", async () => {
  const space = ['--url', url, '--space', 'forget-space'];
  await runCliJson(['remember', 'to be forgotten', ...space, '--id', 'gone']);
  const forgotten = await runCliJson(['forget', 'gone', ...space]);
  assert.deepEqual([forgotten.memory_id, forgotten.deleted], ['gone', true]);
  assert.equal((await getMemory('forget-space', 'gone')).status, 404);
  const again = await runCli(['forget', 'gone', ...space]);
  assert.equal(again.code, 4);
  assert.match(again.stderr, /No memory "gone" in space "forget-space" \[ENG_MEMORY_NOT_FOUND\]/);
});

/** A space holding one memory, written through the API (each test stands on its own). */
async function spaceWithOneMemory(space: string): Promise<void> {
  const stored = await api(`${url}/api/v1/memories/remember`, {
    method: 'POST',
    headers: { 'x-memory-space': space },
    body: { id: 'only', content: 'the only memory' },
  });
  assert.ok(stored.status === 201, JSON.stringify(stored.body));
}

test("status --json is the server's health answer, and the table shows the same values", async () => {
  await spaceWithOneMemory('status-space');
  const [viaCli, table] = await Promise.all([
    runCliJson(['status', '--url', url]),
    runCli(['status', '--url', url]),
  ]);
  const viaApi = await api(`${url}/api/v1/system/health`);
  const comparable = (body: any) =>
    body.spaces.map((s: any) => ({ ...s, wal_lag_ms: typeof s.wal_lag_ms })); // an age in ms moves
  assert.equal(viaCli.status, viaApi.body.status);
  assert.deepEqual(comparable(viaCli), comparable(viaApi.body));
  assert.ok(viaCli.spaces.some((s: any) => s.space === 'status-space' && s.memories === 1));
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.split('\n');
  const header = lines.findIndex((line) => line.startsWith('Space'));
  assert.match(
    lines[header]!,
    /^Space\s+Memories\s+Pressure\s+WAL lag \(ms\)\s+Consolidation\/s\s+State$/,
  );
  const rows = lines.slice(header + 1).filter((line) => line.trim() !== '');
  assert.deepEqual(
    rows.map((line) => line.split(/\s+/)[0]),
    viaApi.body.spaces.map((s: any) => s.space),
  );
  // Each cell is the server's value, null (not measured) as "-" and never as a number; a
  // quarantined space, all null, is in cli-start-stop.test.ts. WAL lag is an age that moves
  // between calls, so only its form is checked.
  const shown = (v: number | null) =>
    v === null ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(3);
  for (const space of viaApi.body.spaces) {
    const [, memories, pressure, walLag, rate, state] = rows
      .find((line) => line.startsWith(`${space.space} `))!
      .split(/\s+/);
    assert.deepEqual(
      [memories, pressure, rate, state],
      [shown(space.memories), shown(space.pressure), shown(space.consolidation_rate), space.state],
    );
    assert.match(walLag!, /^(-|\d+)$/);
  }
});

test('status --space filters on the server; an unknown space exits 4', async () => {
  await spaceWithOneMemory('filter-space');
  const one = await runCliJson(['status', '--url', url, '--space', 'filter-space']);
  assert.deepEqual(
    one.spaces.map((s: any) => [s.space, s.memories]),
    [['filter-space', 1]],
  );
  const missing = await runCli(['status', '--url', url, '--space', 'no-such-space']);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /ENG_SPACE_NOT_FOUND/);
});

test('space list agrees with GET /api/v1/spaces, as JSON and as a table', async () => {
  await spaceWithOneMemory('listed-space');
  const viaCli = await runCliJson(['space', 'list', '--url', url]);
  const viaApi = await api(`${url}/api/v1/spaces`);
  assert.deepEqual(viaCli, viaApi.body.spaces);
  const table = await runCli(['space', 'list', '--url', url]);
  const [header, ...rows] = table.stdout.trimEnd().split('\n');
  assert.match(header!, /^Space\s+Memories\s+Dimension\s+State$/);
  assert.deepEqual(
    rows.map((line) => line.split(/\s+/).slice(0, 2)),
    viaApi.body.spaces.map((s: any) => [s.id, String(s.memories)]),
  );
});

test('space create, stats and delete manage a space; delete asks first and "n" keeps it', async () => {
  const created = await runCliJson([
    'space',
    'create',
    'made-space',
    '--url',
    url,
    '--dimension',
    '16',
    '--embedder',
    'hash',
  ]);
  assert.deepEqual([created.created, created.dimension], [true, 16]);
  const again = await runCliJson(['space', 'create', 'made-space', '--url', url]);
  assert.equal(again.created, false);

  const stats = await runCliJson(['space', 'stats', 'made-space', '--url', url]);
  assert.deepEqual(stats, (await api(`${url}/api/v1/spaces/made-space`)).body);
  const statsTable = await runCli(['space', 'stats', 'made-space', '--url', url]);
  assert.match(statsTable.stdout, /^dimension\s+16$/m);

  const declined = await runCli(['space', 'delete', 'made-space', '--url', url], { input: 'n\n' });
  assert.equal(declined.code, 1);
  assert.match(declined.stderr, /Delete space "made-space" and its 0 memories\?/);
  assert.equal((await api(`${url}/api/v1/spaces/made-space`)).status, 200);

  const noAnswer = await runCli(['space', 'delete', 'made-space', '--url', url]);
  assert.equal(noAnswer.code, 1, 'the end of input is a no');
  assert.equal((await api(`${url}/api/v1/spaces/made-space`)).status, 200);

  const confirmed = await runCli(['space', 'delete', 'made-space', '--url', url], { input: 'y\n' });
  assert.equal(confirmed.code, 0, confirmed.stderr);
  assert.equal((await api(`${url}/api/v1/spaces/made-space`)).status, 404);

  await runCliJson(['space', 'create', 'made-space', '--url', url]);
  const forced = await runCliJson(['space', 'delete', 'made-space', '--url', url, '--yes']);
  assert.deepEqual(forced, { id: 'made-space', deleted: true });
  const missing = await runCli(['space', 'delete', 'made-space', '--url', url, '--yes']);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /\[ENG_SPACE_NOT_FOUND\]/);
});

test('invalid input exits 2: checked locally for flags, by the server otherwise', async () => {
  const [badSpace, badEnvSpace, badConfidence, serverSays, unknownFlag] = await Promise.all([
    runCli(['remember', 'x', '--url', url, '--space', 'Not Valid']),
    runCli(['remember', 'x', '--url', url], { env: { ENGRAM_MEMORY_SPACE: 'x' } }),
    runCli(['remember', 'x', '--url', url, '--confidence', '2']),
    runCli(['space', 'create', 'UPPER', '--url', url]),
    runCli(['status', '--nope']),
  ]);
  assert.equal(badSpace.code, 2);
  assert.match(badSpace.stderr, /Invalid space id "Not Valid".*\(from --space\)/);
  assert.equal(badEnvSpace.code, 2);
  assert.match(badEnvSpace.stderr, /from ENGRAM_MEMORY_SPACE/);
  assert.equal(badConfidence.code, 2);
  assert.match(badConfidence.stderr, /--confidence.*must be a number from 0 to 1/);
  assert.equal(serverSays.code, 2);
  assert.match(serverSays.stderr, /\[ENG_SPACE_ID_INVALID\]/);
  assert.equal(unknownFlag.code, 2);
  assert.match(unknownFlag.stderr, /unknown option '--nope'/);
});

test('a command with no server at the URL exits 3', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const { port } = closed.address() as { port: number };
  closed.close();
  await once(closed, 'close');
  const result = await runCli(['status', '--url', `http://127.0.0.1:${port}`]);
  assert.equal(result.code, 3);
  assert.match(
    result.stderr,
    /Cannot reach the engram server at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
  );
});

test('engram stop sends SIGTERM to the pid in the pid file; the server exits 0 and removes it', async () => {
  const stopped = await runCli(['stop', '--data-root', server.dataRoot]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, new RegExp(`stopped engram \\(pid ${server.pid}\\)`));
  assert.deepEqual(await server.exited, { code: 0, signal: null });
  const again = await runCli(['stop', '--data-root', server.dataRoot]);
  assert.equal(again.code, 3);
  assert.match(again.stderr, /no pid file/);
});
