/**
 * `engram migrate` on the PostgreSQL backend: a real PostgreSQL 15 (no pgvector, so
 * float4-array vectors), one console line per schema migration applied, and nothing to do on
 * the second run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MIGRATIONS } from '../../engine/index.ts';
import { runCli } from '../helpers/engram-cli.ts';
import { postgresServer } from '../helpers/postgres-server.ts';

const { server, skip } = await postgresServer();
const name = 'engram migrate applies each PostgreSQL schema migration with one line per step';

if (!server) {
  describe(name, { skip }, () => undefined);
} else {
  test(name, async () => {
    const env = { ENGRAM_POSTGRES_SCHEMA: 'cli_migrate' };
    const args = ['migrate', '--postgres-url', server.adminUrl, '--vector-storage', 'float4-array'];
    const first = await runCli(args, { env });
    assert.equal(first.code, 0, first.stderr);
    const lines = first.stdout.trim().split('\n');
    assert.equal(lines.length, MIGRATIONS.length + 1, first.stdout);
    MIGRATIONS.forEach((migration, i) =>
      assert.match(
        lines[i]!,
        new RegExp(`^applied migration ${migration.version} ${migration.name} \\(\\d+ ms\\)$`),
      ),
    );
    assert.match(lines.at(-1)!, /^schema cli_migrate: version 0 -> \d+$/);
    const second = await runCli(args, { env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^schema cli_migrate is at version \d+: nothing to do\n$/);
    const dry = await runCli([...args, '--dry-run'], { env });
    assert.equal(dry.code, 2);
  });
}
