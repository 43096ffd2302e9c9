/**
 * Restores a backup file into a new space. The whole file is verified before anything is
 * created, and an existing space is refused unless forced. On the embedded registry the space
 * is built off to the side and published with one rename (replacing the old one only then), so
 * a restore is all or nothing and a crash leaves nothing behind; on other backends it goes
 * through the ordinary storage interface (create, load, delete again on failure). Memories go
 * through the log with their ids, timestamps, vectors and statistics kept.
 */
import { randomBytes } from 'node:crypto';
import { EngramError } from '../errors.ts';
import { parseSpaceId, type SpaceId } from '../space-id.ts';
import type { LoadReport } from '../space-load.ts';
import type { CreateSpaceOptions, SpaceHandle, StorageEngine } from '../storage.ts';
import type { BackupHeader } from './backup-format.ts';
import { readBackupFrames, verifyBackup, type BackupSummary } from './backup-reader.ts';

const RESTORE_BATCH = 256;

export interface RestoreReport {
  space: SpaceId;
  from: string;
  lsn: number;
  memories: number;
  /** Associations whose target was not in the backup (none for a backup this build wrote). */
  unresolvedAssociations: number;
  replaced: boolean;
}

export interface RestoreOptions {
  /** Restore under this id instead of the backup's. */
  as?: string;
  /** Replace an existing space of that id. */
  force?: boolean;
  onProgress?: (restored: number, total: number) => void;
}

type Engine = Pick<StorageEngine, 'createSpace' | 'space' | 'deleteSpace' | 'listSpaces'>;
type Loader = Pick<SpaceHandle, 'load' | 'loadLinks'>;

/** A backend that can build a space off to the side and publish it at once (the registry). */
interface StagingEngine {
  buildSpace(
    id: string,
    create: CreateSpaceOptions,
    fill: (space: Loader) => Promise<void>,
    options: { replace?: boolean },
  ): Promise<{ replaced: boolean }>;
}

function createOptions(header: BackupHeader): CreateSpaceOptions {
  const { dimension, embedder, settings } = header.source;
  return {
    ...(dimension === null ? {} : { dimension }),
    ...(embedder === null ? {} : { embedder }),
    settings: settings,
  };
}

async function exists(engine: Engine, id: SpaceId): Promise<boolean> {
  return (await engine.listSpaces({ counts: false })).some((space) => space.id === id);
}

async function fill(
  space: Loader,
  path: string,
  summary: BackupSummary,
  options: RestoreOptions,
): Promise<number> {
  let restored = 0;
  let unresolved: LoadReport['unresolved'] = [];
  for await (const batch of readBackupFrames(path, RESTORE_BATCH)) {
    const report = await space.load(batch);
    const failed = report.errors.findIndex((error) => error !== undefined);
    if (failed !== -1) {
      const error = report.errors[failed]!;
      throw new EngramError(
        'ENG_BACKUP_CORRUPT',
        `Backup ${path} holds a memory this server refuses (frame ${restored + failed}): ${error.message}`,
        { cause: error, details: { frame: restored + failed, code: error.code } },
      );
    }
    restored += batch.length;
    unresolved = unresolved.concat(report.unresolved);
    options.onProgress?.(restored, summary.frames);
  }
  if (unresolved.length > 0) unresolved = (await space.loadLinks(unresolved)).unresolved;
  return unresolved.length;
}

function refuse(id: SpaceId): EngramError {
  return new EngramError(
    'ENG_SPACE_EXISTS',
    `Space "${id}" exists: restore with --as NEW_ID, or --force to replace it`,
    { details: { space: id } },
  );
}

/**
 * Without staging (a backend that cannot build a space off to the side): create the space,
 * fill it, and delete it again if filling fails. A crash part way leaves a partial space that a
 * forced restore replaces.
 */
async function restoreInPlace(
  engine: Engine,
  id: SpaceId,
  header: BackupHeader,
  load: (space: Loader) => Promise<void>,
): Promise<{ replaced: boolean }> {
  const replaced = await exists(engine, id);
  if (replaced) {
    // Deleting comes before creating, so first prove this server can create the space at all
    // (its embedder configured, its settings valid, a slot free): a refusal must not cost the
    // space being replaced.
    const probe = `restore-check-${randomBytes(6).toString('hex')}`;
    await engine.createSpace(probe, createOptions(header));
    await engine.deleteSpace(probe);
    await engine.deleteSpace(id);
  }
  const { created } = await engine.createSpace(id, createOptions(header));
  if (!created)
    throw new EngramError('ENG_SPACE_EXISTS', `Space "${id}" was created while restoring into it`);
  try {
    await load(await engine.space(id));
  } catch (error) {
    await engine.deleteSpace(id).catch(() => undefined); // never leave a half-restored space
    throw error;
  }
  return { replaced };
}

export async function restoreBackup(
  engine: Engine | (Engine & StagingEngine),
  path: string,
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  const summary = await verifyBackup(path);
  const { header } = summary;
  const id = parseSpaceId(options.as ?? header.space);
  if (!options.force && (await exists(engine, id))) throw refuse(id);
  let unresolvedAssociations = 0;
  const load = async (space: Loader): Promise<void> => {
    unresolvedAssociations = await fill(space, path, summary, options);
  };
  // The embedded registry builds the space off to the side and publishes it with one rename:
  // all or nothing, invisible until complete, and a crash leaves nothing behind.
  const { replaced } =
    'buildSpace' in engine
      ? await engine.buildSpace(id, createOptions(header), load, {
          replace: options.force ?? false,
        })
      : await restoreInPlace(engine, id, header, load);
  return {
    space: id,
    from: header.space,
    lsn: header.lsn,
    memories: summary.frames,
    unresolvedAssociations,
    replaced,
  };
}
