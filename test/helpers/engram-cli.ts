/**
 * Running the real `engram` binary in tests: one-shot commands, and servers started with
 * `engram start` on 127.0.0.1 with free ports. Every child gets a temp HOME (so no developer's
 * ~/.config/engram/config.toml leaks in) and no inherited ENGRAM_* variables.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { tempDir } from './temp-dir.ts';

export const ENGRAM_BIN = fileURLToPath(new URL('../../bin/engram.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Extra environment variables; undefined removes one. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (stdin is always closed: nothing waits on it). */
  input?: string;
  cwd?: string;
}

let home: Promise<string> | undefined;

/** One empty HOME per test file. */
function testHome(): Promise<string> {
  home ??= tempDir('engram-home-');
  return home;
}

async function childEnv(extra: CliOptions['env'] = {}): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('ENGRAM_')) env[name] = value;
  }
  env.HOME = await testHome();
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export async function runCli(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [ENGRAM_BIN, ...args], {
    env: await childEnv(options.env),
    cwd: options.cwd ?? process.cwd(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.input ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** runCli with --json, parsed; fails with the command's stderr when it did not exit 0. */
export async function runCliJson(args: readonly string[], options: CliOptions = {}): Promise<any> {
  const result = await runCli([...args, '--json'], options);
  if (result.code !== 0) {
    throw new Error(`engram ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout);
}

export interface StartedEngram {
  child: ChildProcess;
  pid: number;
  url: string;
  dataRoot: string;
  /** Everything the server printed on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `engram start` in `dataRoot` (given by --data-root, or by ENGRAM_DATA_ROOT) on 127.0.0.1 with
 * free HTTP and gRPC ports; resolves with the URL it printed. Killed by its pid after the test
 * file if it is still running.
 */
export async function startEngram(
  dataRoot: string,
  extraArgs: readonly string[] = [],
  options: Pick<CliOptions, 'env'> & { dataRootVia?: 'flag' | 'env' } = {},
): Promise<StartedEngram> {
  const viaEnv = options.dataRootVia === 'env';
  const child = spawn(
    process.execPath,
    [
      ENGRAM_BIN,
      'start',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--grpc-port',
      '0',
      ...(viaEnv ? [] : ['--data-root', dataRoot]),
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    {
      env: await childEnv({ ...options.env, ...(viaEnv ? { ENGRAM_DATA_ROOT: dataRoot } : {}) }),
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`engram start printed no URL: ${stderr}`)),
      30_000,
    );
    const look = (): void => {
      // The rest of the start-up report follows the URL line; wait for the pid line too.
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*\bpid \d+ in /.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stderr.on('data', look);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`engram start exited with ${code}: ${stderr}`));
    });
  });
  return { child, pid: child.pid!, url, dataRoot, stderr: () => stderr, exited };
}

/** HTTP with JSON, for checking what the CLI did against the API itself. */
export async function api(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}
