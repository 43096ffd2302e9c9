/** space.json: the small, rarely written description of a space (format: docs/format/space.md). */
import { join } from 'node:path';
import { EngramError } from './errors.ts';
import { writeFileAtomic, type FileSystem } from './file-system.ts';
import type { SpaceId } from './space-id.ts';

export const SPACE_FORMAT_VERSION = 1;
export const SPACE_META_FILE = 'space.json';

export interface SpaceMeta {
  format_version: number;
  id: string;
  created_at: string;
  /** Vector dimension, null until fixed at creation or by the first vector stored. */
  dimension: number | null;
  /** Embedder name; null while the space only takes client-supplied vectors. */
  embedder: string | null;
  settings: Record<string, unknown>;
}

export async function readSpaceMeta(fs: FileSystem, dir: string, id: SpaceId): Promise<SpaceMeta> {
  let meta: SpaceMeta;
  try {
    meta = JSON.parse(
      (await fs.readFile(join(dir, SPACE_META_FILE))).toString('utf8'),
    ) as SpaceMeta;
  } catch (cause) {
    throw new EngramError(
      'ENG_WARM_UNREADABLE',
      `Cannot read ${SPACE_META_FILE} of space "${id}": ${(cause as Error).message}`,
      { cause },
    );
  }
  if (meta.format_version !== SPACE_FORMAT_VERSION || meta.id !== id) {
    throw new EngramError(
      'ENG_WARM_UNREADABLE',
      `${SPACE_META_FILE} of space "${id}" is format ${meta.format_version} for space ${JSON.stringify(meta.id)}`,
    );
  }
  return meta;
}

export async function writeSpaceMeta(fs: FileSystem, dir: string, meta: SpaceMeta): Promise<void> {
  await writeFileAtomic(
    fs,
    join(dir, SPACE_META_FILE),
    Buffer.from(`${JSON.stringify(meta, null, 2)}\n`),
  );
}
