/**
 * `engram start` with `[persistence] backend = "postgres"`: a real PostgreSQL 15 server (no
 * pgvector, so float4-array vectors searched exactly), the server logging in as the application
 * role, HTTP and the CLI working as on the embedded backend, and the password never printed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { migratePostgres } from '../../engine/backends/index.ts';
import { api, runCliJson, startEngram } from '../helpers/engram-cli.ts';
import { postgresServer, roleName } from '../helpers/postgres-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const { server, skip } = await postgresServer();
const name = 'engram start on the postgres backend (PostgreSQL 15, float4 arrays)';

if (!server) {
  describe(name, { skip }, () => undefined);
} else {
  test(name, async () => {
    const appRole = roleName('engram_cli');
    await server.admin(`CREATE ROLE ${appRole} LOGIN PASSWORD 'sekrit-pw' NOBYPASSRLS`);
    await migratePostgres({
      url: server.adminUrl,
      schema: 'cli_backend',
      appRole,
      vectorStorage: 'float4-array',
    });
    const url = new URL(server.urlAs(appRole));
    url.password = 'sekrit-pw';
    const env = {
      ENGRAM_BACKEND: 'postgres',
      ENGRAM_POSTGRES_URL: url.toString(),
      ENGRAM_POSTGRES_SCHEMA: 'cli_backend',
    };
    const started = await startEngram(await tempDir(), [], { env });
    assert.match(started.stderr(), /backend postgres:\/\/[^ ]*, schema "cli_backend": 0 spaces/);
    assert.doesNotMatch(started.stderr(), /sekrit-pw/);

    for (const [space, content] of [
      ['lab-a', 'CRISPR gene editing of the zebrafish'],
      ['lab-b', 'protein folding notes'],
    ] as const) {
      const stored = await api(`${started.url}/api/v1/memories/remember`, {
        method: 'POST',
        headers: { 'x-memory-space': space },
        body: { content },
      });
      assert.equal(stored.status, 201, JSON.stringify(stored.body));
    }
    const recalled = await api(`${started.url}/api/v1/memories/recall?query=CRISPR&k=5`, {
      headers: { 'x-memory-space': 'lab-a' },
    });
    assert.deepEqual(
      recalled.body.memories.map((m: { content: string }) => m.content),
      ['CRISPR gene editing of the zebrafish'],
    );
    const other = await api(`${started.url}/api/v1/memories/recall?query=CRISPR&k=5`, {
      headers: { 'x-memory-space': 'lab-b' },
    });
    assert.doesNotMatch(JSON.stringify(other.body), /CRISPR/);

    // The CLI reaches the same server and sees the same spaces as the API.
    const listed = await runCliJson(['space', 'list', '--url', started.url, '--json']);
    const ids = (Array.isArray(listed) ? listed : listed.spaces).map((s: { id: string }) => s.id);
    assert.deepEqual(ids.sort(), ['lab-a', 'lab-b']);

    process.kill(started.pid, 'SIGTERM');
    assert.deepEqual(await started.exited, { code: 0, signal: null });
    assert.doesNotMatch(started.stderr(), /sekrit-pw/);
  });
}
