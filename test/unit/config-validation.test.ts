/** What the configuration refuses, and how it says so: key, origin, expected value, a hint. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CliError } from '../../cli/cli-error.ts';
import { loadConfig, type LoadConfigOptions } from '../../cli/config/load-config.ts';
import { EXIT } from '../../cli/exit-codes.ts';

const dir = await mkdtemp(join(tmpdir(), 'engram-config-validation-'));
after(() => rm(dir, { recursive: true, force: true }));
const home = join(dir, 'home');
let files = 0;

/** Loads a config file with this text; returns the error message (and checks it is a usage error). */
async function refusal(toml: string, options: LoadConfigOptions = {}): Promise<string> {
  const path = join(dir, `config-${++files}.toml`);
  await writeFile(path, toml);
  try {
    loadConfig({ configPath: path, env: {}, home, ...options });
  } catch (error) {
    assert.ok(error instanceof CliError, String(error));
    assert.equal(error.exitCode, EXIT.usage);
    return error.message;
  }
  assert.fail(`accepted: ${toml}`);
}

test('an unknown key is rejected with a hint for a near miss', async () => {
  assert.match(
    await refusal('[server]\nprot = 1\n'),
    /Unknown key "server\.prot" in .*\(did you mean "server\.port"\?\)$/,
  );
  assert.match(
    await refusal('[persistence]\ndataRoot = "/x"\n'),
    /did you mean "persistence\.data_root"\?/,
  );
  assert.match(
    await refusal('[persistence]\ndata-root = "/x"\n'),
    /did you mean "persistence\.data_root"\?/,
  );
  assert.match(
    await refusal('[server]\ndata_root = "/x"\n'),
    /did you mean "persistence\.data_root"\?/,
  );
  assert.match(
    await refusal('[persistence]\ndata_dir = "/x"\n'),
    /did you mean "persistence\.data_root"\?/,
  );
  assert.match(await refusal('port = 1\n'), /Unknown key "port".*did you mean "server\.port"\?/);
  assert.match(
    await refusal('[embedder.openai]\nmodle = "m"\n'),
    /did you mean "embedder\.openai\.model"\?/,
  );
  assert.match(
    await refusal('[memory_spaces]\nmax_space = 3\n'),
    /did you mean "memory_spaces\.max_spaces"\?/,
  );
});

test('an unknown section is rejected with a hint; a key far from every name gets none', async () => {
  assert.match(
    await refusal('[servr]\nport = 1\n'),
    /Unknown section \[servr\] in .*\(did you mean \[server\]\?\)$/,
  );
  assert.match(
    await refusal('[server]\nzzzzzzzzzzzz = 1\n'),
    /Unknown key "server\.zzzzzzzzzzzz" in [^(]*$/,
  );
  assert.match(await refusal('server = 1\n'), /"server" in .* must be a table \(\[server\]\)/);
});

test('[security] may be empty; API keys in it are refused: they are created with engram keys', async () => {
  const empty = join(dir, 'security-empty.toml');
  await writeFile(empty, '[security]\n');
  assert.equal(loadConfig({ configPath: empty, env: {}, home }).file.loaded, true);
  assert.match(
    await refusal('[security]\napi_keys = ["k"]\n'),
    /Unsupported key "security\.api_keys" .*engram keys create/,
  );
  assert.match(await refusal('[security]\nauth_mode = "open"\n'), /auth_mode/);
});

test('an API key in the file is refused: the file names the variable that holds it', async () => {
  assert.match(
    await refusal('[embedder.openai]\napi_key = "sk-secret"\n'),
    /Unsupported key "embedder\.openai\.api_key".*set embedder\.openai\.api_key_env/,
  );
});

test('the postgres backend needs a postgres:// URL (never echoed); anything else is not a backend', async () => {
  assert.match(
    await refusal('[persistence]\nbackend = "postgres"\n'),
    /persistence\.backend \(set in .*\) is "postgres", but no connection string is set: set ENGRAM_POSTGRES_URL/,
  );
  const badUrl = await refusal(
    '[persistence]\nbackend = "postgres"\npostgres_url = "mysql://u:hunter2@h/db"\n',
  );
  assert.match(
    badUrl,
    /persistence\.postgres_url \(set in .*\) must be a postgres:\/\/ or postgresql:\/\/ URL/,
  );
  assert.doesNotMatch(badUrl, /hunter2/);
  assert.match(
    await refusal('[persistence]\nbackend = "sqlite"\n'),
    /must be one of "lmdb", "postgres", got "sqlite"/,
  );
});

test('a value of the wrong type names the key, where it was set and what was expected', async () => {
  assert.match(
    await refusal('[server]\nport = "80"\n'),
    /server\.port \(set in .*\) must be an integer, got "80"/,
  );
  assert.match(
    await refusal('[server]\nport = 1.5\n'),
    /server\.port .* must be an integer, got 1\.5/,
  );
  assert.match(
    await refusal('[memory_spaces]\nauto_create = "yes"\n'),
    /auto_create .* must be true or false/,
  );
  assert.match(
    await refusal('[memory_spaces]\nbootstrap_spaces = "notes"\n'),
    /must be a list of strings/,
  );
  assert.match(
    await refusal('[server]\nlog_level = "loud"\n'),
    /log_level .* must be one of "fatal", .*got "loud"/,
  );
  assert.match(await refusal('[persistence]\ndata_root = ""\n'), /data_root .* must be a path/);
  assert.match(await refusal('[server]\nhost = 1979-05-27\n'), /server\.host .* must be a string/);
  assert.throws(
    () => loadConfig({ env: { ENGRAM_MAX_K: '10k' }, home }),
    /limits\.max_k \(from ENGRAM_MAX_K\) must be an integer, got "10k"/,
  );
  assert.throws(
    () => loadConfig({ env: {}, home, flags: { 'server.port': { raw: '-1', flag: '--port' } } }),
    /server\.port \(from --port\) must be an integer from 0 to 65535, got -1/,
  );
});

test("limits are checked at their boundaries, the engine's under their configuration names", async () => {
  const ok = (env: NodeJS.ProcessEnv) => loadConfig({ env, home });
  assert.equal(ok({ ENGRAM_PORT: '65535' }).values['server.port'], 65_535);
  assert.throws(() => ok({ ENGRAM_PORT: '65536' }), /server\.port/);
  assert.equal(
    ok({ ENGRAM_WAL_SEGMENT_BYTES_MAX: '4096' }).values['persistence.wal_segment_bytes_max'],
    4096,
  );
  assert.throws(
    () => ok({ ENGRAM_WAL_SEGMENT_BYTES_MAX: '4095' }),
    /: persistence\.wal_segment_bytes_max \(from ENGRAM_WAL_SEGMENT_BYTES_MAX\) must be an integer from 4096 to \d+, got 4095$/,
  );
  assert.match(
    await refusal('[memory_spaces]\nmax_spaces = 0\n'),
    /^memory_spaces\.max_spaces \(set in .*\) must be an integer from 1 to/,
  );
  assert.throws(
    () => ok({ ENGRAM_HASH_DIMENSION: '7' }),
    /embedder\.hash\.dimension .* from 8 to 65536/,
  );
});

test('space ids and the embedder choice are checked across keys', async () => {
  assert.match(
    await refusal('[memory_spaces]\ndefault_space = "No"\n'),
    /memory_spaces\.default_space \(set in .*\): Invalid space id "No"/,
  );
  assert.match(
    await refusal('[memory_spaces]\nbootstrap_spaces = ["ok-space", "x"]\n'),
    /bootstrap_spaces .*Invalid space id "x"/,
  );
  assert.match(
    await refusal('[embedder]\ndefault = "openai"\n'),
    /embedder\.default .* is "openai", but embedder\.openai\.enabled is false/,
  );
  assert.match(
    await refusal('[embedder.openai]\nenabled = true\nbase_url = "localhost:11434"\n'),
    /base_url .* must be an http\(s\) URL/,
  );
  assert.match(
    await refusal('[embedder.openai]\napi_key_env = "sk-abc!"\n'),
    /api_key_env .* must be the name of an environment variable/,
  );
  assert.match(
    await refusal('[embedder]\ndefault = "onnx"\n'),
    /embedder\.default .* is "onnx", but embedder\.onnx\.enabled is false/,
  );
  assert.match(
    await refusal('[embedder]\ndefault = "bert"\n'),
    /must be one of "hash", "openai", "onnx", "none", got "bert"/,
  );
});

test('a TOML syntax error names the file and the line', async () => {
  assert.match(
    await refusal('[server]\nport = \n'),
    /Cannot parse config file .*config-\d+\.toml: Invalid TOML document.*\n[\s\S]*2:/,
  );
});

test('an ENGRAM_ variable close to a known one is warned about; unrelated ones are not', () => {
  const warnings: string[] = [];
  loadConfig({
    env: { ENGRAM_PROT: '1', ENGRAM_TEST_SEED: '7', ENGRAM_MEMORYSPACE: 'x' },
    home,
    warn: (message) => warnings.push(message),
  });
  assert.deepEqual(warnings.sort(), [
    'ignoring unknown environment variable ENGRAM_MEMORYSPACE (did you mean ENGRAM_MEMORY_SPACE?)',
    'ignoring unknown environment variable ENGRAM_PROT (did you mean ENGRAM_PORT?)',
  ]);
});
