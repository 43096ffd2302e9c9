/**
 * `engram start` and `engram stop` as processes: configuration reaching the server, the pid
 * file, the start-up report, refusals, and stop's escalation, which signals only the pid named
 * by both the pid file and the engine's lock.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { api, runCli, startEngram } from '../helpers/engram-cli.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A process that ignores SIGTERM (as a hung server would); killed after the file if still alive. */
async function stubbornProcess(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);"],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await once(child.stdout, 'data'); // its SIGTERM handler is installed
  return child;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

test('start writes its pid file, reports what it recovered and opened, and takes [server], [persistence] and [memory_spaces] from the config file and env', async () => {
  const dataRoot = await tempDir();
  // A first run leaves a space with two memories to recover.
  const first = await startEngram(dataRoot);
  assert.equal((await readFile(join(dataRoot, 'engram.pid'), 'utf8')).trim(), String(first.pid));
  for (const id of ['a', 'b']) {
    const stored = await api(`${first.url}/api/v1/memories/remember`, {
      method: 'POST',
      headers: { 'x-memory-space': 'kept-space' },
      body: { id, content: `memory ${id}` },
    });
    assert.equal(stored.status, 201);
  }
  assert.equal((await runCli(['stop', '--data-root', dataRoot])).code, 0);
  assert.equal((await first.exited).code, 0);
  assert.equal(existsSync(join(dataRoot, 'engram.pid')), false);

  const config = join(await tempDir(), 'engram.toml');
  await writeFile(
    config,
    [
      '[server]',
      'port = 7',
      'grpc_port = 0',
      '[persistence]',
      'data_root = "/nonexistent/overridden-by-env"',
      '[memory_spaces]',
      'bootstrap_spaces = ["kept-space", "fresh-space"]',
      'max_spaces = 3',
      '',
    ].join('\n'),
  );
  // ENGRAM_DATA_ROOT beats the file; the --port flag beats the file's port.
  const second = await startEngram(dataRoot, ['--config', config], { dataRootVia: 'env' });
  const report = second.stderr();
  assert.match(report, /: 1 space found in \d+ ms\n/);
  assert.match(
    report,
    /opened at start: kept-space \(2 memories, recovered in \d+ ms\), fresh-space \(created\)/,
  );
  assert.match(report, new RegExp(`config ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const spaces = await api(`${second.url}/api/v1/spaces`);
  assert.deepEqual(
    spaces.body.spaces.map((s: any) => [s.id, s.memories]),
    [
      ['fresh-space', 0],
      ['kept-space', 2],
    ],
  );
  // max_spaces = 3 from the file reached the engine: a fourth space is refused.
  assert.equal(
    (await api(`${second.url}/api/v1/spaces`, { method: 'POST', body: { id: 'third-space' } }))
      .status,
    201,
  );
  const fourth = await api(`${second.url}/api/v1/spaces`, {
    method: 'POST',
    body: { id: 'fourth-space' },
  });
  assert.equal(fourth.body.error.code, 'ENG_SPACE_LIMIT_REACHED');

  const twice = await runCli(['start', '--port', '0', '--grpc-port', '0', '--data-root', dataRoot]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, new RegExp(`already running on data root .* \\(pid ${second.pid}\\)`));
  assert.equal((await runCli(['stop', '--data-root', dataRoot])).code, 0);
  assert.equal((await second.exited).code, 0);
});

test('start refuses a postgres backend without a URL and a bad setting before touching the data root (exit 2)', async () => {
  const dataRoot = join(await tempDir(), 'never-created');
  const postgres = await runCli(['start', '--data-root', dataRoot], {
    env: { ENGRAM_BACKEND: 'postgres' },
  });
  assert.equal(postgres.code, 2);
  assert.match(
    postgres.stderr,
    /persistence\.backend \(from ENGRAM_BACKEND\) is "postgres", but no connection string is set/,
  );
  const badPort = await runCli(['start', '--data-root', dataRoot, '--port', '70000']);
  assert.equal(badPort.code, 2);
  assert.match(
    badPort.stderr,
    /server\.port \(from --port\) must be an integer from 0 to 65535, got 70000/,
  );
  assert.equal(existsSync(dataRoot), false);
});

test('stop escalates to SIGKILL when the process ignores SIGTERM, and signals no other process', async () => {
  const dataRoot = await tempDir();
  const stubborn = await stubbornProcess();
  const bystander = await stubbornProcess();
  // The pid file and the engine's lock both name the stubborn process, as for a hung server.
  await writeFile(join(dataRoot, 'engram.pid'), `${stubborn.pid}\n`);
  await writeFile(join(dataRoot, 'engram.lock'), `${stubborn.pid}\n`);
  const exited = once(stubborn, 'exit');
  const started = performance.now();
  const result = await runCli(['stop', '--data-root', dataRoot, '--timeout-ms', '300']);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    new RegExp(
      `pid ${stubborn.pid}\\) did not stop within 300 ms of SIGTERM; killed it with SIGKILL`,
    ),
  );
  assert.deepEqual(await exited, [null, 'SIGKILL']);
  assert.ok(performance.now() - started >= 300);
  assert.equal(alive(bystander), true);
  assert.equal(existsSync(join(dataRoot, 'engram.pid')), false);
});

test('stop does not signal a pid the engine lock does not name: the stale pid file is removed (exit 3)', async () => {
  const dataRoot = await tempDir();
  const unrelated = await stubbornProcess();
  await writeFile(join(dataRoot, 'engram.pid'), `${unrelated.pid}\n`); // no engram.lock: no server
  const result = await runCli(['stop', '--data-root', dataRoot, '--timeout-ms', '100']);
  assert.equal(result.code, 3);
  assert.match(result.stderr, new RegExp(`removed a stale pid file naming pid ${unrelated.pid}`));
  assert.equal(alive(unrelated), true);
  assert.equal(existsSync(join(dataRoot, 'engram.pid')), false);

  const none = await runCli(['stop', '--data-root', dataRoot]);
  assert.equal(none.code, 3);
  assert.match(none.stderr, /no pid file/);
});

test('a space that fails recovery is reported by start and status (exit 1), and space delete can remove it', async () => {
  const dataRoot = await tempDir();
  const first = await startEngram(dataRoot);
  for (const space of ['broken-space', 'healthy-space']) {
    const created = await api(`${first.url}/api/v1/spaces`, {
      method: 'POST',
      body: { id: space },
    });
    assert.equal(created.status, 201);
  }
  assert.equal((await runCli(['stop', '--data-root', dataRoot])).code, 0);
  await first.exited;
  await writeFile(join(dataRoot, 'broken-space', 'space.json'), 'not json');

  const second = await startEngram(dataRoot, [], {
    env: { ENGRAM_BOOTSTRAP_SPACES: 'broken-space,healthy-space' },
  });
  assert.match(
    second.stderr(),
    /opened at start: broken-space \(QUARANTINED: [^)]+\), healthy-space \(0 memories/,
  );
  const status = await runCli(['status', '--url', second.url]);
  assert.equal(status.code, 1, 'a degraded server is a failure for scripts');
  assert.match(status.stdout, /: degraded, 2 spaces/);
  assert.match(status.stdout, /^broken-space\s+-\s+-\s+-\s+-\s+quarantined$/m);
  assert.match(status.stdout, /^broken-space: .+/m);

  const deleted = await runCli(['space', 'delete', 'broken-space', '--url', second.url], {
    input: 'yes\n',
  });
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stderr, /Delete quarantined space "broken-space"/);
  const healthy = await runCli(['status', '--url', second.url, '--json']);
  assert.equal(healthy.code, 0);
  assert.deepEqual(
    JSON.parse(healthy.stdout).spaces.map((s: any) => s.space),
    ['healthy-space'],
  );
  assert.equal((await runCli(['stop', '--data-root', dataRoot])).code, 0);
  assert.equal((await second.exited).code, 0);
});
