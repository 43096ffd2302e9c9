/**
 * What every backend does with a remember() call before storing anything: validate each field
 * of the input, and turn text into a vector through the space's embedder. Shared so the LMDB
 * and PostgreSQL backends accept and refuse exactly the same inputs.
 */
import { randomUUID } from 'node:crypto';
import type { Embedder } from './embed/embedder.ts';
import { EngramError } from './errors.ts';
import {
  DEFAULT_CONFIDENCE,
  episodeText,
  validateConfidence,
  validateEpisode,
  validateMemoryType,
  validateTags,
  validateTime,
} from './memory-fields.ts';
import {
  validateContent,
  validateMemoryId,
  validateMetadata,
  validateVector,
  type Episode,
  type MemoryType,
  type RememberInput,
} from './memory.ts';
import type { EngineOptions } from './options.ts';

type Limits = Pick<
  EngineOptions,
  'maxContentBytes' | 'maxMetadataBytes' | 'maxMemoryIdChars' | 'maxDimensions'
>;

export interface CheckedRemember {
  id: string;
  /** True when the caller chose the id (dedup never merges such a write). */
  idGiven: boolean;
  content: string;
  metadata: Record<string, unknown>;
  /** The client's vector, if it sent one. */
  vector: Float32Array | undefined;
  confidence: number;
  memoryType: MemoryType;
  tags: string[];
  /** undefined: "now", decided when the record is built. */
  observedAt: number | undefined;
  episode: Episode | undefined;
}

export function checkRememberInput(input: RememberInput, limits: Limits): CheckedRemember {
  if (input === null || typeof input !== 'object') {
    throw new EngramError(
      'ENG_CONTENT_INVALID',
      'remember() takes an object with at least "content"',
    );
  }
  const episode = input.episode === undefined ? undefined : validateEpisode(input.episode, limits);
  return {
    id: input.id === undefined ? randomUUID() : validateMemoryId(input.id, limits),
    idGiven: input.id !== undefined,
    content: validateContent(input.content ?? (episode ? episodeText(episode) : undefined), limits),
    metadata: validateMetadata(input.metadata, limits),
    vector: input.vector === undefined ? undefined : validateVector(input.vector, limits),
    confidence:
      input.confidence === undefined ? DEFAULT_CONFIDENCE : validateConfidence(input.confidence),
    memoryType:
      input.memoryType === undefined
        ? episode
          ? 'episodic'
          : 'semantic'
        : validateMemoryType(input.memoryType),
    tags: input.tags === undefined ? [] : validateTags(input.tags),
    observedAt:
      input.observedAt === undefined
        ? episode?.when
        : validateTime(input.observedAt, 'observed_at'),
    episode,
  };
}

/** One text through an embedder; a failure fails the call, never a fallback vector. */
export async function embedText(
  embedder: Embedder | EngramError,
  text: string,
  options: { signal?: AbortSignal },
  limits: Limits,
): Promise<Float32Array> {
  if (embedder instanceof EngramError) throw embedder;
  const [vector] = await embedder
    .embed([text], options.signal ? { signal: options.signal } : {})
    .catch((cause: unknown) => {
      if (cause instanceof EngramError) throw cause;
      throw new EngramError(
        'ENG_EMBEDDER_UNAVAILABLE',
        `Embedder ${embedder.name} failed: ${(cause as Error).message}`,
        { cause },
      );
    });
  if (!vector)
    throw new EngramError(
      'ENG_EMBEDDER_UNAVAILABLE',
      `Embedder ${embedder.name} returned no vector`,
    );
  return validateVector(vector, limits);
}
