/**
 * <data_root>/engram.pid: the pid of the `engram start` serving that data root, written once
 * the server holds the data root's lock and removed when it stops. `engram stop` signals that
 * pid only, and only while the engine's lock file (engram.lock) names the same pid: a pid file
 * left by a killed server may name a pid the system has since given to another process.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './cli-error.ts';

export const PID_FILE = 'engram.pid';
/** The engine's lock file (engine/data-root-lock.ts), which holds its owner's pid. */
const LOCK_FILE = 'engram.lock';

export function pidFilePath(dataRoot: string): string {
  return join(dataRoot, PID_FILE);
}

function readPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : Number.NaN;
}

/** The pid in the pid file; undefined when there is none, NaN when it holds something else. */
export function readPidFile(dataRoot: string): number | undefined {
  return readPid(pidFilePath(dataRoot));
}

/** The pid holding the engine's data-root lock, if any. */
export function lockOwner(dataRoot: string): number | undefined {
  return readPid(join(dataRoot, LOCK_FILE));
}

/** Written under a temp name and renamed, so a reader never sees a partial pid. */
export function writePidFile(dataRoot: string, pid: number): void {
  const path = pidFilePath(dataRoot);
  const temp = `${path}.${pid}.tmp`;
  writeFileSync(temp, `${pid}\n`);
  renameSync(temp, path);
}

export function removePidFile(dataRoot: string): void {
  try {
    unlinkSync(pidFilePath(dataRoot));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** True while `pid` is a live process (a zombie, exited but not yet reaped, counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Linux: field 3 of /proc/<pid>/stat is the state; Z is a zombie.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): signal 0 succeeding is all we know
  }
}

/** The pid of the engram serving `dataRoot`, or undefined; a stale pid file is removed. */
export function runningServerPid(dataRoot: string): number | undefined {
  const pid = readPidFile(dataRoot);
  if (pid === undefined) return undefined;
  if (Number.isNaN(pid)) {
    throw new CliError(`${pidFilePath(dataRoot)} does not hold a pid; remove it if no engram runs`);
  }
  if (isRunning(pid) && lockOwner(dataRoot) === pid) return pid;
  removePidFile(dataRoot);
  return undefined;
}
