/** defaults < config file < ENGRAM_* environment < flags, the file's location, and `~`. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../cli/config/load-config.ts';

const dir = await mkdtemp(join(tmpdir(), 'engram-config-precedence-'));
after(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

test('a flag beats the environment, which beats the file, which beats the default', async () => {
  const path = await file(
    'layers.toml',
    '[server]\nport = 1001\nhost = "10.0.0.1"\nlog_level = "warn"\n',
  );
  const config = loadConfig({
    configPath: path,
    env: { ENGRAM_PORT: '1002', ENGRAM_HOST: '10.0.0.2' },
    flags: { 'server.port': { raw: '1003', flag: '--port' } },
  });
  assert.equal(config.values['server.port'], 1003);
  assert.deepEqual(config.origins['server.port'], { source: 'flag', name: '--port' });
  assert.equal(config.values['server.host'], '10.0.0.2');
  assert.deepEqual(config.origins['server.host'], { source: 'env', name: 'ENGRAM_HOST' });
  assert.equal(config.values['server.log_level'], 'warn');
  assert.deepEqual(config.origins['server.log_level'], { source: 'file', name: path });
  assert.equal(config.values['persistence.durability'], 'fsync');
  assert.equal(config.origins['persistence.durability'].source, 'default');
});

test('the result is frozen', () => {
  const config = loadConfig({ env: {}, home: dir });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.values));
  assert.ok(Object.isFrozen(config.origins));
  assert.throws(() => {
    (config.values as Record<string, unknown>)['server.port'] = 1;
  }, TypeError);
});

test('the file comes from --config, else ENGRAM_CONFIG, else ~/.config/engram/config.toml', async () => {
  const home = join(dir, 'home');
  await mkdir(join(home, '.config', 'engram'), { recursive: true });
  const homeFile = join(home, '.config', 'engram', 'config.toml');
  await writeFile(homeFile, '[server]\nport = 2001\n');
  const envFile = await file('env.toml', '[server]\nport = 2002\n');
  const flagFile = await file('flag.toml', '[server]\nport = 2003\n');

  const byDefault = loadConfig({ env: {}, home });
  assert.deepEqual(
    [byDefault.values['server.port'], byDefault.file],
    [2001, { path: homeFile, origin: 'default', loaded: true }],
  );
  const byEnv = loadConfig({ env: { ENGRAM_CONFIG: envFile }, home });
  assert.deepEqual([byEnv.values['server.port'], byEnv.file.origin], [2002, 'env']);
  const byFlag = loadConfig({ configPath: flagFile, env: { ENGRAM_CONFIG: envFile }, home });
  assert.deepEqual([byFlag.values['server.port'], byFlag.file.origin], [2003, 'flag']);
  const tilde = loadConfig({ configPath: '~/.config/engram/config.toml', env: {}, home });
  assert.equal(tilde.file.path, homeFile);
});

test('a missing default file means defaults; a missing file named by --config or ENGRAM_CONFIG is an error', () => {
  const home = join(dir, 'empty-home');
  const config = loadConfig({ env: {}, home });
  assert.equal(config.file.loaded, false);
  assert.equal(config.values['server.port'], 7432);
  assert.throws(
    () => loadConfig({ configPath: join(dir, 'missing.toml'), env: {}, home }),
    /missing\.toml \(named by --config\) does not exist/,
  );
  assert.throws(
    () => loadConfig({ env: { ENGRAM_CONFIG: join(dir, 'missing.toml') }, home }),
    /missing\.toml \(named by ENGRAM_CONFIG\) does not exist/,
  );
});

test('~ expands in the file, the environment and flags; relative paths are relative to the file or the working directory', async () => {
  const home = '/home/someone';
  const sub = join(dir, 'nested');
  await mkdir(sub, { recursive: true });
  const relative = join(sub, 'relative.toml');
  await writeFile(relative, '[persistence]\ndata_root = "../data"\n');
  assert.equal(
    loadConfig({ configPath: relative, env: {}, home }).values['persistence.data_root'],
    join(dir, 'data'),
  );
  const tilde = await file('tilde.toml', '[persistence]\ndata_root = "~/in-file"\n');
  assert.equal(
    loadConfig({ configPath: tilde, env: {}, home }).values['persistence.data_root'],
    '/home/someone/in-file',
  );
  assert.equal(
    loadConfig({ env: { ENGRAM_DATA_ROOT: '~/from-env' }, home }).values['persistence.data_root'],
    '/home/someone/from-env',
  );
  assert.equal(
    loadConfig({ env: { ENGRAM_DATA_ROOT: 'rel' }, home, cwd: '/srv' }).values[
      'persistence.data_root'
    ],
    '/srv/rel',
  );
  assert.equal(
    loadConfig({
      env: {},
      home,
      flags: { 'persistence.data_root': { raw: '~', flag: '--data-root' } },
    }).values['persistence.data_root'],
    '/home/someone',
  );
  assert.equal(
    loadConfig({ env: {}, home }).values['persistence.data_root'],
    '/home/someone/.local/share/engram',
  );
});

test('an empty variable counts as unset', () => {
  const config = loadConfig({
    env: { ENGRAM_PORT: '', ENGRAM_CONFIG: '' },
    home: join(dir, 'nowhere'),
  });
  assert.equal(config.values['server.port'], 7432);
  assert.equal(config.origins['server.port'].source, 'default');
  assert.equal(config.file.origin, 'default');
});

test('text values parse by type: integers, booleans, comma-separated lists', () => {
  const config = loadConfig({
    env: {
      ENGRAM_MAX_SPACES: '12',
      ENGRAM_AUTO_CREATE: 'no',
      ENGRAM_OPENAI_ENABLED: 'YES',
      ENGRAM_BOOTSTRAP_SPACES: ' notes, agents ,,',
    },
    home: join(dir, 'nowhere'),
  });
  assert.equal(config.values['memory_spaces.max_spaces'], 12);
  assert.equal(config.values['memory_spaces.auto_create'], false);
  assert.equal(config.values['embedder.openai.enabled'], true);
  assert.deepEqual(config.values['memory_spaces.bootstrap_spaces'], ['notes', 'agents']);
});
