/**
 * `engram migrate` for the embedded backend: moves a data root written before memory spaces
 * existed (one store at the root: `wal/` with log segments and/or `warm/` with an LMDB
 * data.mdb, maybe `index/`, and no space.json) into the space `default`, then brings every
 * space's on-disk format up to date. Each step is reported as it is taken.
 *
 * The move is crash-safe and resumable: the parts are renamed one by one into a staging
 * directory `.migrate-default` (never removed by the registry, unlike `.tmp-*`), space.json is
 * written there atomically, and one rename publishes the finished space. A crash at any point
 * leaves either the legacy layout, a staging directory the next run finishes, or the space.
 */
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory } from './backup/sync-dir.ts';
import { DataRootLock } from './data-root-lock.ts';
import { EngramError } from './errors.ts';
import { nodeFileSystem } from './file-system.ts';
import { SPACE_FORMAT_VERSION, SPACE_META_FILE, writeSpaceMeta } from './space-meta.ts';
import { spaceDirs } from './verify.ts';
import { WarmStore } from './warm/warm-store.ts';

export const LEGACY_TARGET = 'default';
const STAGING = '.migrate-default';
const LEGACY_PARTS = ['wal', 'warm', 'index'] as const;

export interface MigrateOptions {
  /** Report the steps without taking them. */
  dryRun?: boolean;
  /** Embedder recorded for the migrated space (default none: client vectors only). */
  embedder?: string | null;
  onStep?: (step: string) => void;
}

export interface MigrateReport {
  steps: string[];
  changed: boolean;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The legacy parts at the root: directories named wal/warm/index that are not spaces themselves. */
async function legacyParts(root: string): Promise<string[]> {
  const parts: string[] = [];
  for (const part of LEGACY_PARTS) {
    const dir = join(root, part);
    if (!(await exists(dir)) || (await exists(join(dir, SPACE_META_FILE)))) continue;
    const names = await readdir(dir);
    const looksLegacy =
      part === 'wal'
        ? names.some((name) => name.endsWith('.wal'))
        : part === 'warm'
          ? names.includes('data.mdb')
          : names.includes('snapshot.json');
    if (looksLegacy) parts.push(part);
  }
  return parts;
}

/** The dimension of a legacy store: its settings record, else its first stored vector. */
async function storedDimension(path: string): Promise<number | null> {
  const warm = WarmStore.open(path);
  const view = warm.readView();
  try {
    const logged = view.dimension();
    if (logged !== undefined) return logged;
    for (const { vector } of view.memories()) if (vector) return vector.length;
    return null;
  } finally {
    view.done();
    await warm.close();
  }
}

async function moveLegacy(
  root: string,
  parts: string[],
  options: MigrateOptions,
  step: (text: string) => void,
): Promise<void> {
  const staging = join(root, STAGING);
  const target = join(root, LEGACY_TARGET);
  if (await exists(join(target, SPACE_META_FILE))) {
    throw new EngramError(
      'ENG_MIGRATION_BLOCKED',
      `The data root ${root} holds a pre-spaces store (${parts.join(', ')}) and a space "${LEGACY_TARGET}": move one of them away first`,
    );
  }
  step(`create staging directory ${staging}`);
  if (!options.dryRun) await mkdir(staging, { recursive: true });
  for (const part of parts) {
    step(`move ${join(root, part)} -> ${join(staging, part)}`);
    if (!options.dryRun) await rename(join(root, part), join(staging, part));
  }
  if (options.dryRun) {
    step(`write ${join(staging, SPACE_META_FILE)}`);
    step(`publish ${staging} as space "${LEGACY_TARGET}"`);
    return;
  }
  await fsyncDirectory(root);
  await mkdir(join(staging, 'wal'), { recursive: true });
  await mkdir(join(staging, 'index'), { recursive: true });
  const dimension = (await exists(join(staging, 'warm', 'data.mdb')))
    ? await storedDimension(join(staging, 'warm'))
    : null;
  step(
    `write ${join(staging, SPACE_META_FILE)} (dimension ${dimension ?? 'unset'}, embedder ${options.embedder ?? 'none'})`,
  );
  await writeSpaceMeta(nodeFileSystem, staging, {
    format_version: SPACE_FORMAT_VERSION,
    id: LEGACY_TARGET,
    created_at: new Date().toISOString(),
    dimension,
    embedder: options.embedder ?? null,
    settings: {},
  });
  await fsyncDirectory(staging);
  step(`publish ${staging} as space "${LEGACY_TARGET}"`);
  await rename(staging, target);
  await fsyncDirectory(root);
}

async function upgradeFormats(root: string, step: (text: string) => void): Promise<void> {
  for (const id of await spaceDirs(root)) {
    const path = join(root, id, SPACE_META_FILE);
    let version: unknown;
    try {
      version = (
        JSON.parse((await nodeFileSystem.readFile(path)).toString('utf8')) as {
          format_version?: unknown;
        }
      ).format_version;
    } catch {
      continue; // not a space (no space.json): discovery skips it too
    }
    if (version === SPACE_FORMAT_VERSION)
      step(`space "${id}": format ${SPACE_FORMAT_VERSION}, current`);
    else
      throw new EngramError(
        'ENG_MIGRATION_BLOCKED',
        `Space "${id}" is format ${JSON.stringify(version)}; this build knows format ${SPACE_FORMAT_VERSION} and no upgrade from it`,
      );
  }
}

export async function migrateDataRoot(
  root: string,
  options: MigrateOptions = {},
): Promise<MigrateReport> {
  const steps: string[] = [];
  const step = (text: string): void => {
    steps.push(text);
    options.onStep?.(text);
  };
  const lock = DataRootLock.acquire(root);
  let changed = false;
  try {
    const parts = await legacyParts(root);
    const resuming = await exists(join(root, STAGING));
    if (parts.length > 0 || resuming) {
      step(
        `pre-spaces layout found at ${root} (${parts.length > 0 ? parts.join(', ') : 'staging directory left by an interrupted migrate'})`,
      );
      await moveLegacy(root, parts, options, step);
      changed = !options.dryRun;
    } else {
      step('layout: spaces (nothing to move)');
    }
    await upgradeFormats(root, step);
  } finally {
    lock.release();
  }
  return { steps, changed };
}
