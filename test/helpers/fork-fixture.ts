/**
 * Forks a fixture program (run through tsx) that prints one `ready <json>` line when it is
 * ready, and kills it with SIGKILL by pid. For crash tests.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface ForkedFixture {
  process: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The JSON after `ready `; rejects if the fixture exits first or takes longer than the timeout. */
  ready: Promise<string>;
  stderr: () => string;
}

export function forkFixture(
  path: string,
  args: readonly string[],
  options: { readyTimeoutMs: number },
): ForkedFixture {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the fixture is a plain program, not a test file
  const child = fork(path, [...args], {
    execArgv: ['--import', 'tsx'],
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${path} not ready after ${options.readyTimeoutMs} ms:\n${err}`)),
      options.readyTimeoutMs,
    );
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('ready '));
      if (!line) return;
      clearTimeout(timer);
      resolve(line.slice('ready '.length));
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${path} exited (code ${code}, signal ${signal}) before ready:\n${err}`));
    });
  });
  ready.catch(() => undefined); // the caller observes it
  return { process: child, exited, ready, stderr: () => err };
}

/** SIGKILL by pid (if still running), then wait until the process is reaped. */
export async function killFixture(
  fixture: ForkedFixture,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { pid, exitCode, signalCode } = fixture.process;
  if (exitCode === null && signalCode === null && pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  return fixture.exited;
}
