/**
 * The API key store as one JSON file, `<data_root>/.keys/keys.json` (directory mode 0700; the
 * registry skips KEYS_DIR when it lists spaces),
 * shared by the running server and the `engram keys` commands.
 *
 * - Reads stat the file on every call and re-read it when its inode, size, mtime or ctime
 *   changed, so a key revoked by another process is refused by the very next request.
 * - Writes are read-modify-write under an exclusive lock file (`keys.lock`, created with O_EXCL,
 *   holding the owner's pid; a lock left by a dead process is taken over), and replace the file
 *   atomically (temp file, fsync, rename, fsync of the directory): a crash leaves the old or the
 *   new set of keys, never a torn file.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  EngramError,
  KEYS_DIR,
  nodeFileSystem,
  processAlive,
  writeFileAtomic,
} from '../../engine/index.ts';
import { PERMISSIONS, type ApiKeyRecord, type Permission } from './api-key.ts';
import type { KeyStore } from './key-store.ts';

const FILE_VERSION = 1;
const LOCK_WAIT_MS = 5_000;
const LOCK_RETRY_MS = 10;

interface KeyFile {
  version: number;
  keys: ApiKeyRecord[];
}

function corrupt(path: string, why: string): EngramError {
  return new EngramError('ENG_KEY_STORE_CORRUPT', `API key file ${path}: ${why}`);
}

/** Checks what was read before anything trusts it (a hand-edited file is not trusted blindly). */
function parseKeyFile(path: string, text: string): ApiKeyRecord[] {
  let data: KeyFile;
  try {
    data = JSON.parse(text) as KeyFile;
  } catch (error) {
    throw corrupt(path, `not JSON (${(error as Error).message})`);
  }
  if (data?.version !== FILE_VERSION || !Array.isArray(data.keys)) {
    throw corrupt(path, `expected {"version": ${FILE_VERSION}, "keys": [...]}`);
  }
  for (const key of data.keys) {
    const ok =
      typeof key?.id === 'string' &&
      Array.isArray(key.spaces) &&
      Array.isArray(key.permissions) &&
      (key.permissions as unknown[]).every((p) => PERMISSIONS.includes(p as Permission)) &&
      typeof key.secret?.hash === 'string' &&
      typeof key.secret?.salt === 'string';
    if (!ok) throw corrupt(path, `malformed key entry ${JSON.stringify(key?.id ?? null)}`);
  }
  return data.keys;
}

export class FileKeyStore implements KeyStore {
  readonly path: string;
  private readonly lockPath: string;
  private cached: { version: string; keys: ApiKeyRecord[] } | undefined;

  constructor(readonly dir: string) {
    this.path = join(dir, 'keys.json');
    this.lockPath = join(dir, 'keys.lock');
  }

  /** The store of a data root. */
  static forDataRoot(dataRoot: string): FileKeyStore {
    return new FileKeyStore(join(dataRoot, KEYS_DIR));
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    return (await this.read()).find((key) => key.id === id);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return [...(await this.read())];
  }

  async add(record: ApiKeyRecord): Promise<void> {
    await this.update((keys) => [...keys, record]);
  }

  async revoke(id: string, at = new Date()): Promise<ApiKeyRecord> {
    let revoked: ApiKeyRecord | undefined;
    await this.update((keys) =>
      keys.map((key) => {
        if (key.id !== id) return key;
        revoked = { ...key, revokedAt: key.revokedAt ?? at.toISOString() };
        return revoked;
      }),
    );
    if (!revoked) throw new EngramError('ENG_KEY_NOT_FOUND', `No API key "${id}"`);
    return revoked;
  }

  /** The keys as on disk now: one stat per call, a re-read when the file changed. */
  private async read(): Promise<ApiKeyRecord[]> {
    let version: string;
    try {
      const s = await stat(this.path, { bigint: true });
      version = `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    if (this.cached?.version === version) return this.cached.keys;
    const keys = parseKeyFile(this.path, await readFile(this.path, 'utf8'));
    this.cached = { version, keys };
    return keys;
  }

  private async update(change: (keys: ApiKeyRecord[]) => ApiKeyRecord[]): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700); // also when the directory was made by hand, more open
    await this.lock();
    try {
      const keys = change(await this.read());
      const text = `${JSON.stringify({ version: FILE_VERSION, keys }, null, 2)}\n`;
      await writeFileAtomic(nodeFileSystem, this.path, Buffer.from(text));
    } finally {
      await unlink(this.lockPath).catch(() => undefined);
    }
  }

  private async lock(): Promise<void> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const handle = await open(this.lockPath, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number(await readFile(this.lockPath, 'utf8').catch(() => ''));
      // A lock whose owner died (a crash mid-write) is taken over; an empty one is being written.
      if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) {
        await unlink(this.lockPath).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) {
        throw new EngramError(
          'ENG_KEY_STORE_BUSY',
          `The API key file lock ${this.lockPath} is held by pid ${owner || 'unknown'}`,
        );
      }
      await sleep(LOCK_RETRY_MS);
    }
  }
}
