/** The checks every backend makes on createSpace() before touching storage. */
import type { EmbedderCatalog } from './embed/embedder-catalog.ts';
import { EngramError } from './errors.ts';
import type { EngineOptions } from './options.ts';
import { parseSpaceId, type SpaceId } from './space-id.ts';
import { checkSpaceSettings, type SpaceSettings } from './space-settings.ts';
import type { CreateSpaceOptions } from './storage.ts';

export interface CheckedCreateSpace {
  id: SpaceId;
  /** Fixed now (given, or the embedder's), or null: fixed by the first vector. */
  dimension: number | null;
  embedder: string | null;
  settings: SpaceSettings;
}

export function checkCreateSpace(
  rawId: string,
  options: CreateSpaceOptions,
  limits: Pick<EngineOptions, 'maxDimensions'>,
  embedders: EmbedderCatalog,
): CheckedCreateSpace {
  const id = parseSpaceId(rawId);
  const { dimension } = options;
  if (
    dimension !== undefined &&
    (!Number.isInteger(dimension) || dimension < 1 || dimension > limits.maxDimensions)
  ) {
    throw new EngramError(
      'ENG_VECTOR_INVALID',
      `Dimension must be an integer from 1 to ${limits.maxDimensions}, got ${JSON.stringify(dimension)}`,
    );
  }
  let embedder: string | null = null;
  let fixed = dimension ?? null;
  if (options.embedder !== undefined) {
    if (typeof options.embedder !== 'string')
      throw new EngramError('ENG_EMBEDDER_UNAVAILABLE', 'Embedder must be a name');
    // Building it checks the name is configured and learns (or checks) its dimension.
    fixed = embedders.create(options.embedder, dimension).dimension;
    embedder = options.embedder;
  }
  return { id, dimension: fixed, embedder, settings: checkSpaceSettings(options.settings) };
}
