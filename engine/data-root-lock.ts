/**
 * One process per data root: two log writers on one space would interleave records. The lock
 * is a file created exclusively with the owner's pid; a lock left by a dead process (kill -9)
 * is taken over.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngramError } from './errors.ts';

const LOCK_FILE = 'engram.lock';

/** Whether a process with this pid runs (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DataRootLock {
  private constructor(private readonly path: string) {}

  static acquire(dataRoot: string): DataRootLock {
    const path = join(dataRoot, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
        return new DataRootLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(owner) && processAlive(owner)) {
        throw new EngramError(
          'ENG_DATA_ROOT_LOCKED',
          `Data root ${dataRoot} is in use by process ${owner}`,
          { details: { pid: owner } },
        );
      }
      unlinkSync(path); // stale: its owner is gone
    }
    throw new EngramError('ENG_DATA_ROOT_LOCKED', `Could not lock data root ${dataRoot}`);
  }

  release(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}
