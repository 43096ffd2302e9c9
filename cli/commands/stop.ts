/**
 * `engram stop`: SIGTERM to the pid in <data_root>/engram.pid, wait for it to exit, and after
 * --timeout-ms escalate to SIGKILL. Only that one pid is ever signalled, and only while the
 * engine's lock names it too (see pid-file.ts).
 */
import { Command, InvalidArgumentError } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from '../cli-error.ts';
import { addConfigFlags, flagOverrides } from '../config/config-flags.ts';
import { loadConfig } from '../config/load-config.ts';
import { EXIT } from '../exit-codes.ts';
import { isRunning, readPidFile, removePidFile, runningServerPid } from '../pid-file.ts';

const DEFAULT_TIMEOUT_MS = 10_000;
const KILL_WAIT_MS = 5_000;
const POLL_MS = 50;

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!isRunning(pid)) return true;
    await sleep(POLL_MS);
  }
  return !isRunning(pid);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // already gone is fine
  }
}

async function runStop(opts: Record<string, unknown> & { timeoutMs: number }): Promise<void> {
  const config = loadConfig({
    configPath: opts.config as string | undefined,
    flags: flagOverrides(opts),
  });
  const dataRoot = config.values['persistence.data_root'];
  const recorded = readPidFile(dataRoot);
  const pid = runningServerPid(dataRoot);
  if (pid === undefined) {
    throw new CliError(
      recorded === undefined
        ? `No engram is running on data root ${dataRoot} (no pid file)`
        : `No engram is running on data root ${dataRoot} (removed a stale pid file naming pid ${recorded})`,
      EXIT.unreachable,
    );
  }
  const started = performance.now();
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, opts.timeoutMs)) {
    process.stderr.write(
      `stopped engram (pid ${pid}) in ${Math.round(performance.now() - started)} ms\n`,
    );
    return;
  }
  signal(pid, 'SIGKILL');
  const killed = await waitForExit(pid, KILL_WAIT_MS);
  if (killed) removePidFile(dataRoot); // it could not remove it itself
  throw new CliError(
    killed
      ? `engram (pid ${pid}) did not stop within ${opts.timeoutMs} ms of SIGTERM; killed it with SIGKILL (recovery replays its log at the next start)`
      : `engram (pid ${pid}) is still running ${KILL_WAIT_MS} ms after SIGKILL`,
    EXIT.failure,
  );
}

function milliseconds(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 3_600_000) {
    throw new InvalidArgumentError('must be an integer number of ms from 0 to 3600000');
  }
  return value;
}

export function stopCommand(): Command {
  const command = new Command('stop').description(
    'stop the engram serving the data root: SIGTERM, then SIGKILL after a timeout',
  );
  addConfigFlags(command, ['persistence.data_root']);
  command.option(
    '--timeout-ms <ms>',
    'how long to wait for a graceful stop before SIGKILL',
    milliseconds,
    DEFAULT_TIMEOUT_MS,
  );
  return command.action((opts: Record<string, unknown> & { timeoutMs: number }) => runStop(opts));
}
