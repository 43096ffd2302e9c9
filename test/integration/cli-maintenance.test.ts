/**
 * The maintenance commands end to end: the real `engram` binary against real servers started
 * with `engram start` in temp data roots. backup create/list/verify/restore, export/import,
 * verify on healthy and damaged roots, and migrate of a hand-built pre-spaces root.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from '../../engine/index.ts';
import { api, runCli, runCliJson, startEngram } from '../helpers/engram-cli.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const work = await tempDir('engram-maint-');

async function remember(url: string, space: string, id: string, content: string): Promise<void> {
  const answer = await api(`${url}/api/v1/memories/remember`, {
    method: 'POST',
    headers: { 'x-memory-space': space },
    body: { id, content, tags: ['t'] },
  });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset]! ^= 0x55;
  await writeFile(path, bytes);
}

async function stopServer(dataRoot: string): Promise<void> {
  const stopped = await runCli(['stop', '--data-root', dataRoot]);
  assert.equal(stopped.code, 0, stopped.stderr);
}

test('backup create/list/verify/restore and export/import, against a running server', async () => {
  const server = await startEngram(await tempDir());
  const { url } = server;
  for (let i = 0; i < 12; i++) await remember(url, 'notes', `n-${i}`, `note number ${i}`);

  const file = join(work, 'notes.engram-backup');
  const created = await runCliJson([
    'backup',
    'create',
    '--url',
    url,
    '--space',
    'notes',
    '--out',
    file,
  ]);
  assert.equal(created.space, 'notes');
  assert.equal(created.memories, 12);
  assert.match(created.name, /^notes-\d{8}T\d{6}Z-[0-9a-f]{8}\.engram-backup$/);
  const listed = await runCliJson(['backup', 'list', '--url', url]);
  assert.deepEqual(
    listed.map((b: any) => b.name),
    [created.name],
  );
  const table = await runCli(['backup', 'list', '--url', url]);
  assert.match(table.stdout, /Name\s+Space\s+LSN/);

  const verified = await runCli(['backup', 'verify', file]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /^ok: .* intact backup of space notes at LSN \d+ \(12 memories/);

  const damaged = join(work, 'damaged.engram-backup');
  await copyFile(file, damaged);
  await flipByte(damaged, (await readFile(file)).length - 200); // inside a frame
  const refused = await runCli(['backup', 'verify', damaged]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /is damaged at offset \d+ \(frame \d+\): frame fails its checksum \[ENG_BACKUP_CORRUPT\]/,
  );
  const truncated = join(work, 'truncated.engram-backup');
  await writeFile(truncated, (await readFile(file)).subarray(0, 500));
  const cut = await runCli(['backup', 'verify', truncated]);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /truncated/);
  const upload = await runCli(['backup', 'restore', damaged, '--url', url, '--as', 'never']);
  assert.equal(upload.code, 1);
  assert.match(upload.stderr, /ENG_BACKUP_CORRUPT/);

  const restored = await runCliJson([
    'backup',
    'restore',
    file,
    '--url',
    url,
    '--as',
    'notes-copy',
  ]);
  assert.deepEqual([restored.memory_space, restored.memories], ['notes-copy', 12]);
  const again = await runCli(['backup', 'restore', file, '--url', url]);
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /Space "notes" exists: restore with --as NEW_ID, or --force.*\[ENG_SPACE_EXISTS\]/,
  );
  const forced = await runCli(['backup', 'restore', created.name, '--url', url, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(
    forced.stdout,
    /restored 12 memories into space notes .*replacing the existing space/,
  );
  const copy = await api(`${url}/api/v1/memories/n-7`, {
    headers: { 'x-memory-space': 'notes-copy' },
  });
  assert.equal(copy.body.content, 'note number 7');

  const exported = join(work, 'notes.jsonl');
  const summary = await runCliJson([
    'export',
    '--url',
    url,
    '--space',
    'notes',
    '--out',
    exported,
    '--vectors',
  ]);
  assert.equal(summary.memories, 12);
  const lines = (await readFile(exported, 'utf8')).trim().split('\n');
  assert.equal(lines.length, 12);
  assert.equal(JSON.parse(lines[0]!).embedding.length, 384);
  const toStdout = await runCli(['export', '--url', url, '--space', 'notes']);
  assert.equal(toStdout.stdout.trim().split('\n').length, 12);

  const imported = await runCliJson([
    'import',
    exported,
    '--url',
    url,
    '--space',
    'notes-imported',
  ]);
  assert.deepEqual([imported.imported, imported.failed], [12, 0]);
  const broken = join(work, 'broken.jsonl');
  await writeFile(broken, `${lines[0]}\nnot json\n${lines[1]}\n`);
  const partial = await runCli(['import', broken, '--url', url, '--space', 'notes-partial']);
  assert.equal(partial.code, 1);
  assert.match(
    partial.stdout,
    /imported 2 memories into space notes-partial from 3 lines; 1 failed/,
  );
  assert.match(partial.stderr, /line 2: Invalid JSON/);

  // Offline verify refuses a root a server is using.
  const busy = await runCli(['verify', '--data-root', server.dataRoot]);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /in use by process \d+ \[ENG_DATA_ROOT_LOCKED\]/);

  await stopServer(server.dataRoot);
  const healthy = await runCli(['verify', '--data-root', server.dataRoot]);
  assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
  assert.match(healthy.stdout, /notes-copy\s+ok/);
  const report = await runCliJson(['verify', '--data-root', server.dataRoot]);
  assert.equal(report.ok, true);
  assert.deepEqual(
    report.spaces.map((s: any) => s.space),
    ['notes', 'notes-copy', 'notes-imported', 'notes-partial'],
  );

  // Damage the index snapshot of one space: verify names it and exits 1.
  const indexDir = join(server.dataRoot, 'notes-copy', 'index');
  const snapshot = (await readdir(indexDir)).find((name) => name.startsWith('hnsw-'))!;
  await flipByte(join(indexDir, snapshot), 1000);
  const bad = await runCli(['verify', '--data-root', server.dataRoot]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /notes-copy\s+DAMAGED/);
  assert.match(bad.stdout, /notes-copy: DAMAGE: index snapshot hnsw-\d+\.bin fails its checksum/);
  assert.match(bad.stderr, /damage found in notes-copy/);
  const only = await runCli(['verify', '--data-root', server.dataRoot, '--space', 'notes']);
  assert.equal(only.code, 0, only.stdout);
});

test('verify tells pending log records from a damaged log segment', async () => {
  const server = await startEngram(await tempDir());
  for (let i = 0; i < 20; i++) await remember(server.url, 'logged', `l-${i}`, `logged ${i}`);
  process.kill(server.pid, 'SIGKILL'); // the log holds everything; nothing was checkpointed at close
  await server.exited;
  const ok = await runCliJson(['verify', '--data-root', server.dataRoot]);
  assert.equal(ok.ok, true, JSON.stringify(ok));
  const walDir = join(server.dataRoot, 'logged', 'wal');
  const [segment] = (await readdir(walDir)).filter((name) => name.endsWith('.wal'));
  await flipByte(join(walDir, segment!), 40); // inside the first record; valid ones follow
  const bad = await runCli(['verify', '--data-root', server.dataRoot, '--space', 'logged']);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stdout,
    new RegExp(`logged: DAMAGE: log segment .*${segment} is damaged at offset 0`),
  );
});

test('migrate moves a pre-spaces root into the space "default", step by step', async () => {
  // A pre-spaces root: one store (wal/, warm/, index/) directly under the data root.
  const source = await tempDir();
  const registry = await Registry.open({ dataRoot: source });
  await registry.createSpace('old-store', { dimension: 4 });
  const space = await registry.space('old-store');
  for (let i = 0; i < 5; i++)
    await space.remember({ id: `old-${i}`, content: `old ${i}`, vector: [i + 1, 1, 0, 0] });
  await registry.close();
  const legacy = await tempDir();
  for (const part of ['wal', 'warm', 'index'])
    await rename(join(source, 'old-store', part), join(legacy, part));

  const dry = await runCli(['migrate', '--data-root', legacy, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would pre-spaces layout found .*\(wal, warm, index\)/);
  assert.match(dry.stdout, /would move .*warm -> .*\.migrate-default/);
  assert.deepEqual((await readdir(legacy)).sort(), ['index', 'wal', 'warm']);

  const run = await runCli(['migrate', '--data-root', legacy]);
  assert.equal(run.code, 0, run.stderr);
  const steps = run.stdout.trim().split('\n');
  assert.match(steps[0]!, /^pre-spaces layout found/);
  assert.ok(
    steps.some((line) => /^write .*space\.json \(dimension 4, embedder none\)$/.test(line)),
    run.stdout,
  );
  assert.ok(steps.some((line) => /^publish .* as space "default"$/.test(line)));
  assert.equal(steps.at(-1), 'space "default": format 1, current');
  assert.deepEqual((await readdir(legacy)).sort(), ['default']);

  const second = await runCli(['migrate', '--data-root', legacy]);
  assert.match(second.stdout, /layout: spaces \(nothing to move\)/);
  const verified = await runCli(['verify', '--data-root', legacy]);
  assert.equal(verified.code, 0, verified.stdout);

  const server = await startEngram(legacy);
  const memory = await api(`${server.url}/api/v1/memories/old-3`, {
    headers: { 'x-memory-space': 'default' },
  });
  assert.equal(memory.status, 200);
  assert.equal(memory.body.content, 'old 3');
  await stopServer(legacy);

  // A root that also holds a space "default" is refused, untouched.
  const blocked = await tempDir();
  await mkdir(join(blocked, 'default'));
  await writeFile(join(blocked, 'default', 'space.json'), '{}');
  await mkdir(join(blocked, 'warm'));
  await writeFile(join(blocked, 'warm', 'data.mdb'), '');
  const refused = await runCli(['migrate', '--data-root', blocked]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ENG_MIGRATION_BLOCKED/);
  await rm(blocked, { recursive: true });
});
