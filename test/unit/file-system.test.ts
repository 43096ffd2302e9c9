/**
 * nodeFileSystem's O_DSYNC open: the log's durability under sync method dsync rests on the
 * kernel seeing the flag, so this reads the open file's flags back from /proc (Linux, where
 * dsync is used; elsewhere DSYNC_WRITES is false and the log fdatasyncs instead).
 */
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DSYNC_WRITES, nodeFileSystem } from '../../engine/file-system.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** The open flags of this process's descriptors for `path`, from /proc/self/fdinfo. */
async function openFlags(path: string): Promise<number[]> {
  const flags: number[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
    if (target !== path) continue;
    const info = await readFile(join('/proc/self/fdinfo', fd), 'utf8');
    const octal = /^flags:\s+([0-7]+)$/m.exec(info)?.[1];
    if (octal !== undefined) flags.push(parseInt(octal, 8));
  }
  return flags;
}

test(
  'openWritable with dsync opens the file O_DSYNC, and without it not',
  {
    skip: DSYNC_WRITES ? false : 'O_DSYNC log writes are used on Linux only',
  },
  async () => {
    const dir = await tempDir();
    for (const dsync of [true, false]) {
      const path = join(dir, `${dsync ? 'dsync' : 'plain'}.wal`);
      const file = await nodeFileSystem.openWritable(path, { dsync });
      try {
        assert.equal(await file.write(Buffer.from('record'), 0), 6);
        const flags = await openFlags(path);
        assert.equal(flags.length, 1, `one descriptor open on ${path}`);
        assert.equal(
          (flags[0]! & constants.O_DSYNC) === constants.O_DSYNC,
          dsync,
          `O_DSYNC in the flags (0${flags[0]!.toString(8)}) of ${path}`,
        );
      } finally {
        await file.close();
      }
    }
  },
);
