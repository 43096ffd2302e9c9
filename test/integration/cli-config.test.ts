/** `engram config show` as a process: sources, the file's location, and refusals. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, runCliJson } from '../helpers/engram-cli.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('config show --json says where each value came from: default, file, env or flag', async () => {
  const dir = await tempDir();
  const config = join(dir, 'engram.toml');
  await writeFile(
    config,
    '[server]\nhost = "0.0.0.0"\nport = 9001\nlog_level = "debug"\n[persistence]\ndata_root = "data"\n',
  );
  const shown = await runCliJson(['config', 'show', '--config', config, '--log-level', 'error'], {
    env: { ENGRAM_PORT: '9002', ENGRAM_MEMORY_SPACE: 'agent-space' },
  });
  const s = shown.settings;
  assert.deepEqual(s['server.host'], { value: '0.0.0.0', source: 'file', env: 'ENGRAM_HOST' });
  assert.deepEqual(s['server.port'], { value: 9002, source: 'env', env: 'ENGRAM_PORT' });
  assert.deepEqual(s['server.log_level'], {
    value: 'error',
    source: 'flag',
    env: 'ENGRAM_LOG_LEVEL',
    flag: '--log-level',
  });
  // A relative path in the file is relative to the file.
  assert.deepEqual(s['persistence.data_root'].value, join(dir, 'data'));
  assert.equal(s['persistence.durability'].source, 'default');
  assert.deepEqual(shown.file, { path: config, origin: 'flag', loaded: true });
  // What client commands would use: the wildcard host means this machine.
  assert.deepEqual(shown.client, {
    url: { value: 'http://127.0.0.1:9002', from: 'config' },
    space: { value: 'agent-space', from: 'ENGRAM_MEMORY_SPACE' },
  });
});

test('config show prints one aligned row per key with its value, source and variable', async () => {
  const result = await runCli(['config', 'show', '--port', '8123'], {
    env: { ENGRAM_DURABILITY: 'interval' },
  });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.split('\n');
  assert.match(
    lines[0]!,
    /^config file: .*\/\.config\/engram\/config\.toml \(default, not found: defaults apply\)$/,
  );
  const header = lines.find((line) => line.startsWith('Key '))!;
  assert.match(header, /^Key\s+Value\s+Source\s+Env$/);
  const column = header.indexOf('Source');
  const row = (key: string) => lines.find((line) => line.startsWith(`${key} `))!;
  assert.match(row('server.port'), /^server\.port\s+8123\s+flag\s+ENGRAM_PORT$/);
  assert.match(row('persistence.durability'), /interval\s+env\s+ENGRAM_DURABILITY$/);
  assert.match(row('server.host'), /127\.0\.0\.1\s+default\s+ENGRAM_HOST$/);
  assert.equal(row('server.port').indexOf('flag'), column);
  assert.equal(row('persistence.durability').indexOf('env'), column);
});

test('ENGRAM_CONFIG names the file when --config is absent, and --config wins over it', async () => {
  const dir = await tempDir();
  const fromEnv = join(dir, 'env.toml');
  const fromFlag = join(dir, 'flag.toml');
  await writeFile(fromEnv, '[server]\nport = 1111\n');
  await writeFile(fromFlag, '[server]\nport = 2222\n');
  const viaEnv = await runCliJson(['config', 'show'], { env: { ENGRAM_CONFIG: fromEnv } });
  assert.equal(viaEnv.settings['server.port'].value, 1111);
  assert.equal(viaEnv.file.origin, 'env');
  const viaFlag = await runCliJson(['config', 'show', '--config', fromFlag], {
    env: { ENGRAM_CONFIG: fromEnv },
  });
  assert.equal(viaFlag.settings['server.port'].value, 2222);
});

test('a missing named config file and an unknown key both exit 2 with a clear message', async () => {
  const dir = await tempDir();
  const missing = await runCli(['config', 'show'], {
    env: { ENGRAM_CONFIG: join(dir, 'nope.toml') },
  });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.toml \(named by ENGRAM_CONFIG\) does not exist/);

  const typo = join(dir, 'typo.toml');
  await writeFile(typo, '[memory_spaces]\ndefault_spcae = "x"\n');
  const result = await runCli(['start', '--config', typo]);
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /Unknown key "memory_spaces\.default_spcae" in .*typo\.toml \(did you mean "memory_spaces\.default_space"\?\)/,
  );
});

test('a misspelled ENGRAM_ variable is warned about, and the value it meant to set stays put', async () => {
  const result = await runCli(['config', 'show', '--json'], {
    env: { ENGRAM_DATAROOT: '/tmp/elsewhere' },
  });
  assert.equal(result.code, 0);
  assert.match(
    result.stderr,
    /ignoring unknown environment variable ENGRAM_DATAROOT \(did you mean ENGRAM_DATA_ROOT\?\)/,
  );
  assert.equal(JSON.parse(result.stdout).settings['persistence.data_root'].source, 'default');
});

test('config show masks the password of the PostgreSQL URL, in the table and in --json', async () => {
  const env = {
    ENGRAM_BACKEND: 'postgres',
    ENGRAM_POSTGRES_URL: 'postgres://engram_app:hunter2@db.internal:5433/memories',
  };
  const table = await runCli(['config', 'show'], { env });
  assert.equal(table.code, 0, table.stderr);
  assert.doesNotMatch(table.stdout, /hunter2/);
  assert.match(table.stdout, /postgres:\/\/engram_app:\*\*\*@db\.internal:5433\/memories/);
  const shown = await runCliJson(['config', 'show'], { env });
  assert.equal(
    shown.settings['persistence.postgres_url'].value,
    'postgres://engram_app:***@db.internal:5433/memories',
  );
  assert.doesNotMatch(JSON.stringify(shown), /hunter2/);
});
