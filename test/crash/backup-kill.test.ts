/**
 * SIGKILL a real server while it writes backups: whatever lands in <data_root>/.backups under a
 * backup name is a complete backup that verifies; a backup cut off by the kill leaves only a
 * temp file, which the next backup of a later process sweeps away. ENGRAM_CRASH_ROUNDS sets
 * the rounds (default 4).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isValidBackupName, verifyBackup } from '../../engine/index.ts';
import { api, startEngram } from '../helpers/engram-cli.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROUNDS = Number(process.env.ENGRAM_CRASH_ROUNDS ?? 4);

test('a backup cut off by SIGKILL never leaves a file that looks like a backup', async () => {
  const root = await tempDir();
  let completed = 0;
  const cut = new Set<string>();
  for (let round = 0; round < ROUNDS; round++) {
    const server = await startEngram(root);
    for (let i = 0; i < 200; i++) {
      const stored = await api(`${server.url}/api/v1/memories/remember`, {
        method: 'POST',
        headers: { 'x-memory-space': 'crashy' },
        body: { id: `r${round}-${i}`, content: `round ${round} memory ${i} `.repeat(20) },
      });
      assert.equal(stored.status, 201);
    }
    // Several backups in flight, then the kill at a random point.
    const requests = [0, 1, 2].map(() =>
      fetch(`${server.url}/api/v1/backups`, {
        method: 'POST',
        headers: { 'x-memory-space': 'crashy' },
      }).then(
        (response) => response.status,
        () => 0,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, randomInt(0, 400)));
    process.kill(server.pid, 'SIGKILL');
    await server.exited;
    const statuses = await Promise.all(requests);
    completed += statuses.filter((status) => status === 201).length;

    const names = await readdir(join(root, '.backups')).catch(() => [] as string[]);
    for (const name of names) {
      if (isValidBackupName(name)) {
        const summary = await verifyBackup(join(root, '.backups', name));
        assert.equal(summary.header.space, 'crashy');
      } else {
        assert.match(name, /^\..*\.tmp$/, `unexpected file ${name}`);
        cut.add(name);
      }
    }
  }
  // The next process's first backup sweeps the temp files of killed ones.
  const server = await startEngram(root);
  const last = await api(`${server.url}/api/v1/backups`, {
    method: 'POST',
    headers: { 'x-memory-space': 'crashy' },
  });
  assert.equal(last.status, 201, JSON.stringify(last.body));
  const left = (await readdir(join(root, '.backups'))).filter((name) => !isValidBackupName(name));
  assert.deepEqual(left, []);
  process.kill(server.pid, 'SIGTERM');
  await server.exited;
  process.stdout.write(`# ${completed} backups completed, ${cut.size} cut off by the kills\n`);
});
